package wasmhttp

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// fakeHost answers requests as a host would, and keeps what it was sent.
type fakeHost struct {
	answer   *pb.HttpResponse
	requests []*pb.HttpRequest
}

func (h *fakeHost) http(raw []byte) []byte {
	var req pb.HttpRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		panic(err)
	}
	h.requests = append(h.requests, &req)
	out, _ := proto.Marshal(h.answer)
	return out
}

func TestHTTPClient(t *testing.T) {
	h := &fakeHost{answer: &pb.HttpResponse{Status: 201, Body: []byte(`{"id":1}`), Headers: []*pb.Header{{Name: "content-type", Values: []string{"application/json"}}}}}
	client := &http.Client{Transport: &roundTripper{do: h.http}}
	req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/things", strings.NewReader(`{"a":1}`))
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || string(body) != `{"id":1}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	sent := h.requests[0]
	if sent.Method != "POST" || sent.Url != "https://api.example.com/things" || string(sent.Body) != `{"a":1}` || sent.Headers[0].Name != "Accept" {
		t.Errorf("sent %v", sent)
	}

	h.answer = &pb.HttpResponse{Error: "host not allowed"}
	if _, err := client.Get("https://evil.example.com/"); err == nil || !strings.Contains(err.Error(), "host not allowed") {
		t.Errorf("refusal: %v", err)
	}
	big, _ := http.NewRequest(http.MethodPost, "https://api.example.com/", strings.NewReader(strings.Repeat("x", MaxRequestBody+1)))
	if _, err := client.Do(big); err == nil || !strings.Contains(err.Error(), "more than a plugin may send") {
		t.Errorf("oversized body: %v", err)
	}
}

// fakeStream is a response body the fake host streams.
type fakeStream struct {
	io.Reader
	closed bool
}

func (s *fakeStream) Close() error { s.closed = true; return nil }

func TestHTTPClientStreams(t *testing.T) {
	h := &fakeHost{answer: &pb.HttpResponse{Status: 500}}
	var stream *fakeStream
	supported := true
	open := func(raw []byte) ([]byte, io.ReadCloser, bool) {
		if !supported {
			return nil, nil, false
		}
		stream = &fakeStream{Reader: strings.NewReader(strings.Repeat("y", 1<<20))}
		out, _ := proto.Marshal(&pb.HttpResponse{Status: 200, Headers: []*pb.Header{{Name: "Content-Length", Values: []string{"1048576"}}}})
		return out, stream, true
	}
	client := &http.Client{Transport: &roundTripper{do: h.http, open: open}}
	resp, err := client.Get("https://api.example.com/big")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || len(body) != 1<<20 || resp.ContentLength != 1<<20 {
		t.Fatalf("streamed body: %d bytes (length %d), %v", len(body), resp.ContentLength, err)
	}
	resp.Body.Close()
	if !stream.closed || len(h.requests) != 0 {
		t.Errorf("stream closed %v, whole-body requests %d", stream.closed, len(h.requests))
	}

	// A host that cannot stream: the whole-body path answers.
	supported = false
	h.answer = &pb.HttpResponse{Status: 200, Body: []byte("whole")}
	resp, err = client.Get("https://api.example.com/small")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if string(body) != "whole" || len(h.requests) != 1 {
		t.Errorf("fallback: %q, %d requests", body, len(h.requests))
	}
}
