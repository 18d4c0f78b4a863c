package sdk

import (
	"context"
	"io"
	"time"
)

// Document is the metadata of one attachment owned by a row.
type Document struct {
	ID       string
	Entity   string // owner row's entity
	RecordID string // owner row's id
	Name     string
	MimeType string
	Size     int64
	Modified time.Time
	Version  string
}

// DocumentQuery lists documents, optionally of one entity and of some rows.
type DocumentQuery struct {
	Entity    string
	RecordIDs []string
	Cursor    []byte // resume after the page that carried it
	PageSize  int
}

// DocumentPage is one batch of a document listing.
type DocumentPage struct {
	Documents []Document
	Cursor    []byte
	Last      bool
}

// Documents is the optional capability CapDocuments: listing document
// metadata and streaming a document's bytes. Find it with AsDocuments.
type Documents interface {
	// ListDocuments streams document metadata page by page.
	ListDocuments(ctx context.Context, q DocumentQuery, fn func(*DocumentPage) error) error
	// ReadDocument writes the document's bytes from offset on to w, in chunks,
	// never holding the whole document in memory. Offset lets an interrupted
	// download resume.
	ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error
}

// CapWriteDocuments is the optional capability of storing documents made on
// a device: the connector implements DocumentWriter. Find it with
// AsDocumentWriter.
const CapWriteDocuments Capability = "write-documents"

// DocumentWriter is the optional capability CapWriteDocuments: uploading a
// document's bytes, streamed, never whole in memory.
type DocumentWriter interface {
	// WriteDocument stores the bytes r yields as a document owned by
	// doc.Entity's row doc.RecordID, named doc.Name with doc.MimeType.
	// doc.Size is the number of bytes r yields (-1: unknown; a connector
	// may then spool r to learn it); a reader that yields another count
	// fails the call. doc.ID may carry a client-chosen id: a connector that
	// accepts client ids creates the document under it, or replaces that
	// document's content when it exists (so a retried upload stores one
	// document); one that does not assigns its own. The answer is the
	// document as the server stored it, with the server's id and version.
	WriteDocument(ctx context.Context, doc Document, r io.Reader) (Document, error)
}

// AsDocumentWriter returns c's DocumentWriter capability, if c implements it
// and, for connectors across a transport, the plugin advertised it.
func AsDocumentWriter(ctx context.Context, c Connector) (DocumentWriter, bool) {
	w, ok := c.(DocumentWriter)
	if !ok {
		return nil, false
	}
	info, err := c.Info(ctx)
	if err != nil || !info.Has(CapWriteDocuments) {
		return nil, false
	}
	return w, true
}
