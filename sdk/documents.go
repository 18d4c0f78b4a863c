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
