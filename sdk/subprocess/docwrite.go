package subprocess

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// The write-documents capability over gRPC: a client stream of chunks, the
// first carrying the document's metadata. Neither side holds more than one
// chunk (chunkSize) of the document, plus what gRPC's flow-control window
// lets the host send ahead.

var _ sdk.DocumentWriter = (*Client)(nil)

// WriteDocument streams r to the plugin's connector, a chunk at a time. It
// answers ErrUnsupported unless the plugin advertised CapWriteDocuments
// (use sdk.AsDocumentWriter).
func (c *Client) WriteDocument(ctx context.Context, doc sdk.Document, r io.Reader) (sdk.Document, error) {
	if !c.info.Has(sdk.CapWriteDocuments) {
		return sdk.Document{}, sdk.ErrUnsupported
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.WriteDocument(ctx)
	if err != nil {
		return sdk.Document{}, fromStatus(ctx, "write document", err)
	}
	// finish ends the stream and reads the plugin's answer, which also
	// carries the reason when the plugin ended the call early.
	finish := func() (sdk.Document, error) {
		out, err := stream.CloseAndRecv()
		if err != nil {
			return sdk.Document{}, fromStatus(ctx, "write document", err)
		}
		return wire.DocumentFromPB(out), nil
	}
	if err := stream.Send(&pb.DocumentChunk{Document: wire.DocumentToPB(&doc)}); err != nil {
		if errors.Is(err, io.EOF) {
			return finish()
		}
		return sdk.Document{}, fromStatus(ctx, "write document", err)
	}
	// gRPC encodes a message before Send returns, so one buffer serves
	// every chunk.
	buf := make([]byte, chunkSize)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if err := stream.Send(&pb.DocumentChunk{Data: buf[:n]}); err != nil {
				if errors.Is(err, io.EOF) {
					return finish()
				}
				return sdk.Document{}, fromStatus(ctx, "write document", err)
			}
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return finish()
		default:
			// Cancelling the call tells the plugin the document is
			// incomplete: it must not store it.
			cancel()
			return sdk.Document{}, fmt.Errorf("write document %s: read: %w", doc.Name, rerr)
		}
	}
}

// WriteDocument is the plugin side: it hands the connector a reader over the
// stream's chunks.
func (s *server) WriteDocument(stream pb.Connector_WriteDocumentServer) error {
	ctx := stream.Context()
	c, err := s.connector()
	if err != nil {
		return toStatus(err)
	}
	w, ok := sdk.AsDocumentWriter(ctx, c)
	if !ok {
		return toStatus(sdk.Errorf(sdk.Unsupported, "connector does not write documents"))
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return toStatus(sdk.Errorf(sdk.Permanent, "write document: the stream carried no document"))
		}
		return err
	}
	if first.Document == nil {
		return toStatus(sdk.Errorf(sdk.Permanent, "write document: the first message carries no document metadata"))
	}
	r := &chunkReader{stream: stream, buf: first.Data}
	doc, err := w.WriteDocument(ctx, wire.DocumentFromPB(first.Document), r)
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(wire.DocumentToPB(&doc))
}

// chunkReader reads a WriteDocument stream's data, one received chunk at a
// time.
type chunkReader struct {
	stream pb.Connector_WriteDocumentServer
	buf    []byte
	err    error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		msg, err := r.stream.Recv()
		if err != nil {
			// io.EOF: the host closed its side, the document is complete.
			// Anything else (a cancelled call) must fail the write.
			r.err = err
			continue
		}
		if msg.Document != nil {
			r.err = sdk.Errorf(sdk.Permanent, "write document: metadata after the first message")
			continue
		}
		r.buf = msg.Data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
