package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// fuzzServer answers every request with the same body, as a server of any
// build, a broken proxy or a hostile network could; after a few requests it
// fails, so a body that keeps asking for more cannot loop forever.
type fuzzServer struct {
	body     []byte
	requests int
}

func (f *fuzzServer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	if f.requests++; f.requests > 3 {
		return nil, errors.New("fuzz: no more answers")
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {httpwire.ContentType}},
		Body:       io.NopCloser(bytes.NewReader(f.body)),
		Request:    r,
	}, nil
}

// FuzzFrames feeds arbitrary bodies to the streamed calls: the frame reader
// and everything decoding behind it must never panic, never hand over a
// malformed page or one after the last, and fail only with a typed error.
//
//	go test -run '^$' -fuzz FuzzFrames -fuzztime 20s ./plugins/mock/remote
func FuzzFrames(f *testing.F) {
	f.Add(frames(f, httpwire.FrameMessage, onePage(false), httpwire.FrameMessage, onePage(true), httpwire.FrameEnd, nil))
	f.Add(frames(f, httpwire.FrameMessage, onePage(false), httpwire.FrameMore, nil))
	f.Add(frames(f, httpwire.FrameMessage, onePage(false), httpwire.FrameError, &pb.ErrorDetail{Kind: "retryable", Message: "x"}))
	f.Add(frames(f, httpwire.FrameMessage, &pb.DocumentPage{Documents: []*pb.Document{{Id: "d", Size: 3}}, Last: true}, httpwire.FrameEnd, nil))
	f.Add(frames(f, httpwire.FrameMessage, &pb.Chunk{Data: []byte("abc")}, httpwire.FrameMore, nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		c := open(t, "http://fuzz.invalid", remote.Options{Client: &http.Client{Transport: &fuzzServer{body: body}}})

		last := false
		err := c.Fetch(ctx, sdk.FetchRequest{Entity: "e"}, func(p *sdk.Page) error {
			if last {
				t.Fatal("a page was delivered after the last page")
			}
			if err := p.Validate(nil); err != nil {
				t.Fatalf("a malformed page was delivered: %v", err)
			}
			last = p.Last
			return nil
		})
		check(t, "fetch", err)
		if err == nil && !last {
			t.Fatal("fetch succeeded without a last page")
		}

		c = open(t, "http://fuzz.invalid", remote.Options{Client: &http.Client{Transport: &fuzzServer{body: body}}})
		err = c.ListDocuments(ctx, sdk.DocumentQuery{}, func(p *sdk.DocumentPage) error {
			for _, d := range p.Documents {
				if d.ID == "" || d.Size < 0 {
					t.Fatalf("a malformed document was delivered: %+v", d)
				}
			}
			return nil
		})
		check(t, "list documents", err)

		c = open(t, "http://fuzz.invalid", remote.Options{Client: &http.Client{Transport: &fuzzServer{body: body}}})
		check(t, "read document", c.ReadDocument(ctx, "d", 0, io.Discard))
	})
}

// check fails unless err is nil or an *sdk.Error: the engine decides by
// kind, and an untyped error would count as permanent by accident.
func check(t *testing.T, call string, err error) {
	t.Helper()
	var se *sdk.Error
	if err != nil && !errors.As(err, &se) {
		t.Fatalf("%s failed with an untyped error: %v", call, err)
	}
}
