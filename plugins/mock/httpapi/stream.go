package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// errLimit stops a connector call when the response reached the request's
// max_pages or max_bytes; the stream then ends with MORE.
var errLimit = errors.New("mock http: response limit reached")

// maxChunk bounds one Chunk frame, whatever size the connector writes in.
const maxChunk = 1 << 20

// stream writes the frames of one streamed response. The status line goes
// out with the first frame, so an error before it still becomes a proper
// HTTP status (the fault switches and bad requests fail there).
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	buf     []byte // one encoded frame, reused
	started bool
	broken  error // the client went away; nothing more can be written
	written int64 // frame bytes sent so far
}

func newStream(w http.ResponseWriter) *stream {
	return &stream{w: w, rc: http.NewResponseController(w)}
}

// send writes one frame and flushes it, so the client has the page as soon
// as the connector made it and the server holds no more than one.
func (s *stream) send(t httpwire.FrameType, msg proto.Message) error {
	if s.broken != nil {
		return s.broken
	}
	if !s.started {
		s.w.Header().Set("Content-Type", httpwire.ContentType)
		s.w.Header().Set("X-Content-Type-Options", "nosniff")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	var err error
	if s.buf, err = httpwire.AppendFrame(s.buf[:0], t, msg); err != nil {
		return err
	}
	if _, err := s.w.Write(s.buf); err != nil {
		s.broken = fmt.Errorf("mock http: write %s frame: %w", t, err)
		return s.broken
	}
	s.written += int64(len(s.buf))
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.broken = fmt.Errorf("mock http: flush %s frame: %w", t, err)
		return s.broken
	}
	return nil
}

// finish ends the stream after the connector's call returned err: END when
// it completed, MORE when it stopped at the limit, and for a failure an
// ERROR frame, or, if nothing was sent yet, the error as an HTTP status
// (returned for the handler to write).
func (s *stream) finish(err error) error {
	switch {
	case err == nil:
		return s.quiet(s.send(httpwire.FrameEnd, nil))
	case errors.Is(err, errLimit):
		return s.quiet(s.send(httpwire.FrameMore, nil))
	case !s.started:
		return err
	case s.broken != nil:
		return nil // the client hung up: there is no one to tell
	}
	_, detail, _ := httpwire.Status(err)
	return s.quiet(s.send(httpwire.FrameError, detail))
}

// quiet drops a write error at the end of a stream: the client went away,
// and the response is already committed, so no status can say so.
func (s *stream) quiet(error) error { return nil }

// limit parses a positive integer query parameter; absent is 0 (no limit).
func limit(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, sdk.Errorf(sdk.Permanent, "mock http: %s=%q is not a positive number", name, v)
	}
	return n, nil
}

func (h *handler) fetch(w http.ResponseWriter, r *http.Request, c *mock.Connector) error {
	var in pb.FetchRequest
	if err := h.decode(w, r, &in); err != nil {
		return err
	}
	req, err := wire.FetchFromPB(&in)
	if err != nil {
		return sdk.Errorf(sdk.Permanent, "mock http: fetch: %w", err)
	}
	maxPages, err := limit(r, httpwire.ParamMaxPages)
	if err != nil {
		return err
	}
	// For a fetch, max_bytes bounds the response's frames: the response
	// ends (MORE) after the page that reaches it, so a client that
	// buffers a response whole (a WASM guest) holds at most that plus a page.
	maxBytes, err := limit(r, httpwire.ParamMaxBytes)
	if err != nil {
		return err
	}
	s := newStream(w)
	var pages int64
	err = c.Fetch(r.Context(), req, func(p *sdk.Page) error {
		if err := s.send(httpwire.FrameMessage, wire.PageToPB(p)); err != nil {
			return err
		}
		pages++
		if !p.Last && ((maxPages > 0 && pages >= maxPages) || (maxBytes > 0 && s.written >= maxBytes)) {
			return errLimit
		}
		return nil
	})
	return s.finish(err)
}

func (h *handler) listDocuments(w http.ResponseWriter, r *http.Request, c *mock.Connector) error {
	var in pb.DocumentQuery
	if err := h.decode(w, r, &in); err != nil {
		return err
	}
	maxPages, err := limit(r, httpwire.ParamMaxPages)
	if err != nil {
		return err
	}
	s := newStream(w)
	var pages int64
	err = c.ListDocuments(r.Context(), wire.DocumentQueryFromPB(&in), func(p *sdk.DocumentPage) error {
		if err := s.send(httpwire.FrameMessage, wire.DocumentPageToPB(p)); err != nil {
			return err
		}
		if pages++; !p.Last && maxPages > 0 && pages >= maxPages {
			return errLimit
		}
		return nil
	})
	return s.finish(err)
}

func (h *handler) readDocument(w http.ResponseWriter, r *http.Request, c *mock.Connector) error {
	var in pb.ReadDocumentRequest
	if err := h.decode(w, r, &in); err != nil {
		return err
	}
	maxBytes, err := limit(r, httpwire.ParamMaxBytes)
	if err != nil {
		return err
	}
	s := newStream(w)
	cw := &chunkWriter{s: s, limit: maxBytes}
	return s.finish(c.ReadDocument(r.Context(), in.GetId(), in.GetOffset(), cw))
}

// chunkWriter turns the connector's writes into Chunk frames of at most
// maxChunk bytes, and stops with errLimit once max_bytes went out.
type chunkWriter struct {
	s     *stream
	limit int64 // bytes this response may carry; 0: no limit
	sent  int64
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		if c.limit > 0 {
			room := c.limit - c.sent
			if room <= 0 {
				return written, errLimit
			}
			n = int(min(int64(n), room))
		}
		if err := c.s.send(httpwire.FrameMessage, &pb.Chunk{Data: p[:n]}); err != nil {
			return written, err
		}
		written += n
		c.sent += int64(n)
		p = p[n:]
	}
	return written, nil
}
