package contracttest_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// memDoc is one stored document.
type memDoc struct {
	meta    sdk.Document
	content []byte
}

// ListDocuments pages through the documents matching q in the order they
// were added; a cursor is the number of matching documents already listed.
func (c *memConn) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	size := q.PageSize
	if size <= 0 {
		size = 100
	}
	skip := 0
	if q.Cursor != nil {
		n, ok := strings.CutPrefix(string(q.Cursor), "doc1:")
		var err error
		if skip, err = strconv.Atoi(n); !ok || err != nil || skip < 0 {
			return c.badInput("document cursor %q", q.Cursor)
		}
	}
	c.srv.mu.Lock()
	var docs []sdk.Document
	for _, d := range c.srv.docs {
		if (q.Entity == "" || d.meta.Entity == q.Entity) && (q.RecordIDs == nil || slices.Contains(q.RecordIDs, d.meta.RecordID)) {
			docs = append(docs, d.meta)
		}
	}
	c.srv.mu.Unlock()
	docs = docs[min(skip, len(docs)):]
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(size, len(docs))
		skip += n
		p := &sdk.DocumentPage{Documents: docs[:n:n], Cursor: []byte(fmt.Sprintf("doc1:%d", skip)), Last: n == len(docs)}
		docs = docs[n:]
		if err := fn(p); err != nil {
			return err
		}
		if p.Last {
			return nil
		}
	}
}

// ReadDocument writes the document from offset on in 32 KiB chunks.
func (c *memConn) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	c.srv.mu.Lock()
	i := slices.IndexFunc(c.srv.docs, func(d memDoc) bool { return d.meta.ID == id })
	var content []byte
	if i >= 0 {
		content = c.srv.docs[i].content
	}
	c.srv.mu.Unlock()
	if i < 0 {
		return c.badInput("no document %q", id)
	}
	if offset < 0 || offset > int64(len(content)) {
		return c.badInput("offset %d outside document %q of %d bytes", offset, id, len(content))
	}
	if c.srv.bug("ignore-offset") {
		offset = 0
	}
	for rest := content[offset:]; len(rest) > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(rest), 32<<10)
		if _, err := w.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}
