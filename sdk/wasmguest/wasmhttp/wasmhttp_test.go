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
