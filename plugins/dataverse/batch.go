package dataverse

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// $batch (PROTOCOLS.md, "Execute batch operations using the Web API"): a
// multipart/mixed body whose parts are application/http requests with
// Content-Transfer-Encoding: binary; a change set is a nested
// multipart/mixed part, applied atomically, its requests numbered by
// Content-ID and referable as $n. No GET inside a change set; at most 1000
// requests in one batch. With Prefer: odata.continue-on-error the service
// answers every part; without it, it stops at the first failure.

// maxBatchPart bounds one response part read into memory.
const maxBatchPart = 16 << 20

// batchOp is one request inside a $batch; URL is relative to the API root.
type batchOp struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// batchGroup is a change set (atomic, Content-IDs) or a lone request.
type batchGroup struct {
	ChangeSet bool
	Ops       []batchOp
	// IDs are the Content-IDs of Ops in a change set, batch-wide unique.
	IDs []int
}

// opResult is one answered request of a batch.
type opResult struct {
	Status    int
	Header    http.Header
	Body      []byte
	ContentID int // 0 when the part carried none
}

// groupResult is the answer to a group: one result per op when it
// succeeded, or a single result when a change set failed as a whole (its
// ContentID, when present, names the failing op).
type groupResult struct {
	Results []opResult
}

// newBoundary returns a multipart boundary; tests replace it.
var newBoundary = func(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// writeBatch renders groups as a $batch body and returns it with its
// Content-Type. Request lines carry the absolute path under the host
// (/api/data/v9.2/accounts), as Microsoft's examples do.
func (c *Connector) writeBatch(groups []batchGroup) ([]byte, string) {
	var b bytes.Buffer
	batch := newBoundary("batch_")
	crlf := "\r\n"
	for _, g := range groups {
		b.WriteString("--" + batch + crlf)
		if !g.ChangeSet {
			for _, op := range g.Ops {
				c.writeOp(&b, op, 0)
			}
			continue
		}
		cs := newBoundary("changeset_")
		b.WriteString("Content-Type: multipart/mixed; boundary=" + cs + crlf + crlf)
		for i, op := range g.Ops {
			b.WriteString("--" + cs + crlf)
			c.writeOp(&b, op, g.IDs[i])
		}
		b.WriteString("--" + cs + "--" + crlf)
	}
	b.WriteString("--" + batch + "--" + crlf)
	return b.Bytes(), "multipart/mixed; boundary=" + batch
}

func (c *Connector) writeOp(b *bytes.Buffer, op batchOp, contentID int) {
	crlf := "\r\n"
	b.WriteString("Content-Type: application/http" + crlf)
	b.WriteString("Content-Transfer-Encoding: binary" + crlf)
	if contentID > 0 {
		b.WriteString("Content-ID: " + strconv.Itoa(contentID) + crlf)
	}
	b.WriteString(crlf)
	target := op.URL
	if !strings.HasPrefix(target, "$") {
		target = c.api.Path + op.URL
	}
	b.WriteString(op.Method + " " + target + " HTTP/1.1" + crlf)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range op.Header {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		for _, v := range op.Header[k] {
			b.WriteString(k + ": " + v + crlf)
		}
	}
	b.WriteString(crlf)
	if len(op.Body) > 0 {
		b.Write(op.Body)
		b.WriteString(crlf)
	}
}

// sendBatch posts groups and reads the answers, in order. Fewer answers
// than groups means the service stopped; the rest were not applied.
func (c *Connector) sendBatch(ctx context.Context, what string, groups []batchGroup, continueOnError bool) ([]groupResult, error) {
	body, ctype := c.writeBatch(groups)
	h := http.Header{"Content-Type": {ctype}}
	if continueOnError {
		h.Set("Prefer", "odata.continue-on-error")
	}
	resp, err := c.http.do(ctx, request{Method: http.MethodPost, URL: "$batch", Header: h, Body: body, What: what, Pass4xx: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		if resp.StatusCode >= 400 {
			return nil, readAPIError(resp, what).sdkError()
		}
		return nil, bodyError(ctx, what, fmt.Errorf("%w: a $batch answered with %q", errMalformed, resp.Header.Get("Content-Type")))
	}
	out, err := readBatch(resp.Body, params["boundary"])
	if err != nil {
		return nil, bodyError(ctx, what, err)
	}
	if len(out) > len(groups) {
		return nil, bodyError(ctx, what, fmt.Errorf("%w: %d answers to %d requests", errMalformed, len(out), len(groups)))
	}
	return out, nil
}

// readBatch reads a multipart batch response into one result per part.
func readBatch(r io.Reader, boundary string) ([]groupResult, error) {
	mr := multipart.NewReader(r, boundary)
	var out []groupResult
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		mt, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return nil, fmt.Errorf("%w: batch part content type: %v", errMalformed, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			inner := multipart.NewReader(part, params["boundary"])
			var g groupResult
			for {
				ip, err := inner.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, err
				}
				res, err := readOpResult(ip, ip.Header)
				if err != nil {
					return nil, err
				}
				g.Results = append(g.Results, res)
			}
			out = append(out, g)
			continue
		}
		res, err := readOpResult(part, part.Header)
		if err != nil {
			return nil, err
		}
		out = append(out, groupResult{Results: []opResult{res}})
	}
}

func readOpResult(r io.Reader, h textproto.MIMEHeader) (opResult, error) {
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(r, maxBatchPart)), nil)
	if err != nil {
		return opResult{}, fmt.Errorf("%w: batch part is not an HTTP response: %v", errMalformed, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return opResult{}, err
	}
	res := opResult{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if id := strings.TrimSpace(h.Get("Content-ID")); id != "" {
		res.ContentID, _ = strconv.Atoi(id)
	}
	return res, nil
}
