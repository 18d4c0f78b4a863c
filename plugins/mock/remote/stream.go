package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Fetch streams an entity's pages. Each request carries at most
// PagesPerRequest pages; when the server stops there (MORE), the fetch goes
// on from the last page's cursor in a new request, which the contract
// guarantees resumes exactly. Pages are decoded and handed over one frame at
// a time, never after the context ended.
func (c *Connector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	if fn == nil {
		return sdk.Errorf(sdk.Permanent, "mock remote: fetch without a page callback")
	}
	in := wire.FetchToPB(req)
	query := url.Values{
		httpwire.ParamMaxPages: {strconv.Itoa(c.opts.PagesPerRequest)},
		httpwire.ParamMaxBytes: {strconv.FormatInt(c.opts.BytesPerRequest, 10)},
	}
	for {
		var cursor []byte
		last, pages := false, 0
		more, err := c.stream(ctx, "fetch", httpwire.PathFetch, query, in, func(b []byte) error {
			if last {
				return sdk.Errorf(sdk.Permanent, "mock remote: fetch %s: server sent a page after the last one", req.Entity)
			}
			var p *sdk.Page
			if c.opts.ForwardEncoded {
				var err error
				if p, err = encodedPage(b); err != nil {
					return sdk.Errorf(sdk.Permanent, "mock remote: fetch %s: malformed page: %w", req.Entity, err)
				}
			} else {
				var msg pb.Page // the page shares its slices and belongs to fn
				if err := proto.Unmarshal(b, &msg); err != nil {
					return sdk.Errorf(sdk.Permanent, "mock remote: fetch %s: malformed page: %w", req.Entity, err)
				}
				var err error
				if p, err = wire.PageFromPB(&msg); err != nil {
					return sdk.Errorf(sdk.Permanent, "mock remote: fetch %s: %w", req.Entity, err)
				}
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("mock remote: fetch %s: %w", req.Entity, err)
			}
			cursor, last = p.Cursor, p.Last
			pages++
			return fn(p)
		})
		if err != nil {
			return err
		}
		if done, err := settle("fetch "+req.Entity, more, last, pages, cursor); done || err != nil {
			return err
		}
		in.Cursor = cursor
	}
}

// ListDocuments streams document metadata, continuing from the last page's
// cursor as Fetch does.
func (c *Connector) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if fn == nil {
		return sdk.Errorf(sdk.Permanent, "mock remote: list documents without a page callback")
	}
	if q.RecordIDs != nil && len(q.RecordIDs) == 0 {
		// The documents of no rows: none. Protobuf would send the empty
		// list as "every row", so this is answered here.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mock remote: list documents: %w", err)
		}
		return fn(&sdk.DocumentPage{Last: true})
	}
	in := wire.DocumentQueryToPB(q)
	query := url.Values{httpwire.ParamMaxPages: {strconv.Itoa(c.opts.PagesPerRequest)}}
	for {
		var cursor []byte
		last, pages := false, 0
		more, err := c.stream(ctx, "list documents", httpwire.PathListDocuments, query, in, func(b []byte) error {
			if last {
				return sdk.Errorf(sdk.Permanent, "mock remote: list documents: server sent a page after the last one")
			}
			var msg pb.DocumentPage
			if err := proto.Unmarshal(b, &msg); err != nil {
				return sdk.Errorf(sdk.Permanent, "mock remote: list documents: malformed page: %w", err)
			}
			p := wire.DocumentPageFromPB(&msg)
			if err := checkDocuments(p); err != nil {
				return sdk.Errorf(sdk.Permanent, "mock remote: list documents: %w", err)
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("mock remote: list documents: %w", err)
			}
			cursor, last = p.Cursor, p.Last
			pages++
			return fn(p)
		})
		if err != nil {
			return err
		}
		if done, err := settle("list documents", more, last, pages, cursor); done || err != nil {
			return err
		}
		in.Cursor = cursor
	}
}

// settle decides what follows one response of a paged call: the call is
// done (its last page came), or it goes on from cursor (the server stopped
// at the request's limit), or the server broke the protocol.
func settle(what string, more, last bool, pages int, cursor []byte) (done bool, err error) {
	switch {
	case !more && !last:
		return true, sdk.Errorf(sdk.Permanent, "mock remote: %s: server ended the call without its last page", what)
	case !more || last:
		return true, nil
	case pages == 0 || len(cursor) == 0:
		return true, sdk.Errorf(sdk.Permanent, "mock remote: %s: server asked to continue but sent no page with a cursor", what)
	}
	return false, nil
}

// checkDocuments refuses metadata the engine could not act on: a document
// it cannot ask for (no id) or size (negative).
func checkDocuments(p *sdk.DocumentPage) error {
	for i, d := range p.Documents {
		if d.ID == "" {
			return fmt.Errorf("document %d of the page has no id", i)
		}
		if d.Size < 0 {
			return fmt.Errorf("document %q has a negative size %d", d.ID, d.Size)
		}
	}
	return nil
}

// ReadDocument writes a document's bytes from offset on to w, a chunk at a
// time; each request carries at most BytesPerRequest bytes, and the next
// one starts at the offset reached. Only END says the document is
// complete, so a cut connection is never mistaken for the end of the file.
func (c *Connector) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	if offset < 0 {
		return sdk.Errorf(sdk.Permanent, "mock remote: document %s: negative offset %d", id, offset)
	}
	query := url.Values{httpwire.ParamMaxBytes: {strconv.FormatInt(c.opts.BytesPerRequest, 10)}}
	var msg pb.Chunk
	for {
		start := offset
		more, err := c.stream(ctx, "read document", httpwire.PathReadDocument, query, &pb.ReadDocumentRequest{Id: id, Offset: offset}, func(b []byte) error {
			if err := proto.Unmarshal(b, &msg); err != nil {
				return sdk.Errorf(sdk.Permanent, "mock remote: read document %s: malformed chunk: %w", id, err)
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("mock remote: read document %s: %w", id, err)
			}
			n, err := w.Write(msg.Data)
			offset += int64(n)
			if err == nil && n != len(msg.Data) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return fmt.Errorf("mock remote: write document %s: %w", id, err)
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case !more:
			return nil
		case offset == start:
			return sdk.Errorf(sdk.Permanent, "mock remote: read document %s: server asked to continue but sent no bytes", id)
		}
	}
}

// stream makes one streamed request and hands each MESSAGE frame's payload
// to onMsg (valid only during the call), whose error ends the stream as it
// is, so a callback's own error reaches the caller unchanged. It reports
// whether the server stopped at the request's limit (MORE) rather than at
// the end of the call (END).
func (c *Connector) stream(ctx context.Context, call, path string, query url.Values, in proto.Message, onMsg func([]byte) error) (more bool, err error) {
	resp, err := c.post(ctx, call, path, query, in)
	if err != nil {
		return false, err
	}
	// Closing the body of an unfinished stream drops the connection, which
	// cancels the server's call: what stops a fetch the caller gave up on.
	defer resp.Body.Close()
	more, err = readFrames(ctx, call, resp.Body, onMsg)
	if err == nil {
		// The final frame was read but maybe not the body's end; reaching
		// it lets the client reuse the connection for the next request.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	}
	return more, err
}

// readFrames reads a streamed body frame by frame; see stream.
func readFrames(ctx context.Context, call string, body io.Reader, onMsg func([]byte) error) (more bool, err error) {
	r := httpwire.NewReader(body)
	for {
		t, payload, err := r.Next()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return false, fmt.Errorf("mock remote: %s: %w", call, ctxErr)
			}
			if errors.Is(err, httpwire.ErrTruncated) {
				return false, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("mock remote: %s: connection cut: %v", call, err), Err: err}
			}
			if errors.Is(err, httpwire.ErrMalformed) {
				return false, sdk.Errorf(sdk.Permanent, "mock remote: %s: malformed stream: %w", call, err)
			}
			return false, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("mock remote: %s: read: %v", call, err), Err: err}
		}
		switch t {
		case httpwire.FrameMessage:
			if err := onMsg(payload); err != nil {
				return false, err
			}
		case httpwire.FrameError:
			var d pb.ErrorDetail
			if err := proto.Unmarshal(payload, &d); err != nil {
				return false, sdk.Errorf(sdk.Permanent, "mock remote: %s: malformed error frame: %w", call, err)
			}
			e := httpwire.ErrorOfDetail(&d)
			e.Message = fmt.Sprintf("mock remote: %s: %s", call, e.Message)
			return false, e
		case httpwire.FrameEnd:
			return false, nil
		case httpwire.FrameMore:
			return true, nil
		}
	}
}
