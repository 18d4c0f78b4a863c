package httpwire

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenStream is a fetch of two pages: what a server sends for a small
// entity, frozen so a change of the framing is a visible, reviewed change.
func goldenStream(t *testing.T) []byte {
	b := sdk.NewPageBuilder([]string{"name", "n"}, []sdk.FieldType{sdk.TypeString, sdk.TypeInt})
	b.Add("a", "1", sdk.String("Ann"), sdk.Int(7))
	b.Add("b", "2", sdk.String("Bob"), sdk.Null())
	p1 := b.Page()
	p1.Cursor = []byte{0xF5, 1}
	b.Delete("c")
	p2 := b.Page()
	p2.Last, p2.Token = true, []byte{0xF5, 2}
	var out []byte
	var err error
	for _, f := range []struct {
		t   FrameType
		msg proto.Message
	}{{FrameMessage, wire.PageToPB(p1)}, {FrameMessage, wire.PageToPB(p2)}, {FrameEnd, nil}} {
		if out, err = AppendFrame(out, f.t, f.msg); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestGoldenStream(t *testing.T) {
	got := hex.Dump(goldenStream(t))
	path := filepath.Join("testdata", "fetch-stream.hex")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("the framing changed; if on purpose, run with -update and say so in the package documentation\ngot:\n%swant:\n%s", got, want)
	}
}

func TestFramesRoundTrip(t *testing.T) {
	r := NewReader(bytes.NewReader(goldenStream(t)))
	var pages []*sdk.Page
	for {
		ft, payload, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ft != FrameMessage {
			if ft != FrameEnd || len(payload) != 0 {
				t.Fatalf("final frame %s with %d bytes, want END with none", ft, len(payload))
			}
			continue
		}
		var m pb.Page
		if err := proto.Unmarshal(payload, &m); err != nil {
			t.Fatal(err)
		}
		p, err := wire.PageFromPB(&m)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	kinds := []sdk.Kind{sdk.KindString, sdk.KindInt}
	if len(pages) != 2 || pages[0].Len() != 2 || !pages[1].Last || pages[1].Deletes[0] != "c" {
		t.Fatalf("pages %+v", pages)
	}
	if r := pages[0].Row(kinds, 1); r.ID != "b" || r.Version != "2" || !r.Values["n"].IsNull() || r.Values["name"].Str() != "Bob" {
		t.Errorf("row 2 read back as %+v", r)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Errorf("after the final frame: %v, want io.EOF", err)
	}
}

func TestReaderRefuses(t *testing.T) {
	whole := goldenStream(t)
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"empty body", nil, ErrTruncated},
		{"cut in a payload", whole[:10], ErrTruncated},
		{"cut in a length", []byte{1, 0x80}, ErrTruncated},
		{"no final frame", whole[:len(whole)-2], ErrTruncated},
		{"unknown type", []byte{9, 0}, ErrMalformed},
		{"type zero", []byte{0, 0}, ErrMalformed},
		{"length over the limit", append([]byte{1}, uvarint(MaxFrame+1)...), ErrMalformed},
		{"endless length", []byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, ErrMalformed},
		{"broken connection", nil, errBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src io.Reader = bytes.NewReader(tt.body)
			if tt.want == errBroken {
				src = io.MultiReader(bytes.NewReader(whole[:5]), errReader{})
			}
			r := NewReader(src)
			var err error
			for err == nil {
				_, _, err = r.Next()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

var errBroken = errors.New("connection reset")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func uvarint(n uint64) []byte {
	var b []byte
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

func TestStatus(t *testing.T) {
	tests := []struct {
		err   error
		code  int
		kind  sdk.ErrorKind
		after time.Duration
	}{
		{&sdk.Error{Kind: sdk.Retryable, Message: "busy", RetryAfter: 1500 * time.Millisecond}, 503, sdk.Retryable, 1500 * time.Millisecond},
		{sdk.Errorf(sdk.Permanent, "bad"), 400, sdk.Permanent, 0},
		{fmt.Errorf("fetch: %w", sdk.Errorf(sdk.TokenExpired, "old")), 410, sdk.TokenExpired, 0},
		{sdk.Errorf(sdk.Unsupported, "no"), 501, sdk.Unsupported, 0},
		{errors.New("a bug"), 400, sdk.Permanent, 0},
		{fmt.Errorf("shutting down: %w", errors.Join(errors.New("x"), contextCanceled())), 503, sdk.Retryable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			code, d, after := Status(tt.err)
			if code != tt.code || d.Kind != string(tt.kind) || after != tt.after || !strings.HasSuffix(d.Message, tt.err.Error()) {
				t.Errorf("Status = %d %+v %v, want %d %s %v", code, d, after, tt.code, tt.kind, tt.after)
			}
		})
	}
	if got := RetryAfterHeader(1500 * time.Millisecond); got != "2" {
		t.Errorf("Retry-After for 1.5s = %q, want 2 (rounded up)", got)
	}
}

func TestKindOfStatus(t *testing.T) {
	tests := []struct {
		code int
		want sdk.ErrorKind
	}{
		{400, sdk.Permanent}, {401, sdk.Permanent}, {403, sdk.Permanent}, {413, sdk.Permanent},
		{404, sdk.Unsupported}, {405, sdk.Unsupported}, {501, sdk.Unsupported},
		{408, sdk.Retryable}, {429, sdk.Retryable}, {500, sdk.Retryable}, {502, sdk.Retryable}, {503, sdk.Retryable}, {504, sdk.Retryable},
		{409, sdk.TokenExpired}, {410, sdk.TokenExpired},
	}
	for _, tt := range tests {
		if got := KindOfStatus(tt.code); got != tt.want {
			t.Errorf("KindOfStatus(%d) = %s, want %s", tt.code, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 3 ", 3 * time.Second}, {"0", 0}, {"-5", 0}, {"soon", 0},
		{"99999999999", MaxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.v, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestErrorOf(t *testing.T) {
	h := http.Header{"Retry-After": {"4"}}
	e := ErrorOf("fetch", 502, h, nil, []byte("<html>\n Bad   gateway </html>"), time.Now())
	if e.Kind != sdk.Retryable || e.RetryAfter != 4*time.Second || !strings.Contains(e.Message, "<html> Bad gateway </html>") {
		t.Errorf("proxy 502: %+v", e)
	}
	e = ErrorOf("fetch", 400, h, &pb.ErrorDetail{Kind: "token-expired", Message: "stale"}, nil, time.Now())
	if e.Kind != sdk.TokenExpired || e.Message != "fetch: stale" || e.RetryAfter != 0 {
		t.Errorf("detail wins over status: %+v", e)
	}
	e = ErrorOf("fetch", 503, h, &pb.ErrorDetail{Kind: "retryable", Message: "busy", RetryAfterMillis: 1500}, nil, time.Now())
	if e.Kind != sdk.Retryable || e.RetryAfter != 1500*time.Millisecond {
		t.Errorf("the detail's own delay wins over the header's: %+v", e)
	}
	e = ErrorOf("fetch", 503, nil, &pb.ErrorDetail{Kind: wire.KindCanceled, Message: "server gave up"}, nil, time.Now())
	if e.Kind != sdk.Retryable || errors.Is(e, context.Canceled) {
		t.Errorf("a server's cancellation: %+v, want retryable and no context.Canceled", e)
	}
	e = ErrorOf("fetch", 400, nil, &pb.ErrorDetail{Kind: "from-the-future", Message: "?"}, nil, time.Now())
	if e.Kind != sdk.Permanent {
		t.Errorf("unknown kind: %+v, want permanent", e)
	}
}

func contextCanceled() error { return context.Canceled }
