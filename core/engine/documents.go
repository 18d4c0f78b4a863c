package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

// The documents phase brings the attachments of the rows on the device:
//
//  1. documents whose record left the device are removed with their files;
//  2. documents made on the device (AddDocument) are uploaded, each once its
//     record exists on the server (a record still waiting in the outbox as a
//     create holds its documents back), and then count as downloaded under
//     the server's id;
//  3. every configured entity whose rows may own documents (its schema's
//     Capabilities.Documents) and that the filter lists
//     (DocumentFilter.Lists) is asked for the documents of its rows, in
//     batches of record ids; new ones are indexed as pending, changed ones
//     (another version) go back to pending, ones the server no longer lists
//     are removed;
//  4. the filter decides on every pending or blocked document (newest
//     first, so a quota keeps the recent ones); refused ones are blocked
//     with the reason and stay listed;
//  5. the allowed ones download, Parallel at a time, each streamed into
//     <dir>/<entity>/<id>.part and renamed to <dir>/<entity>/<id><ext> once
//     complete. An interrupted download (a cancelled sync, a killed process)
//     leaves its .part file, and the next attempt asks the connector for the
//     bytes from the file's size on (ReadDocument's offset).
//
// Documents already downloaded stay when the filter later tightens; a
// document fetched on demand (FetchDocument) stays too.

// DocumentOptions turn the documents phase on (Options.Documents).
type DocumentOptions struct {
	// Dir holds the files; default: next to the store, "<store>.documents".
	Dir string
	// Parallel is how many documents download at once; default 5.
	Parallel int
	// Filter decides which documents download (see DocumentFilter: its
	// zero value downloads none).
	Filter DocumentFilter
	// ListBatch is how many record ids one listing call asks about;
	// default 200.
	ListBatch int
}

// DocumentLog is what the documents phase did.
type DocumentLog struct {
	Listed     int `json:"listed"`     // documents the connector listed
	Downloaded int `json:"downloaded"` // documents downloaded in full
	Resumed    int `json:"resumed"`    // of those, continued from an interrupted download
	Blocked    int `json:"blocked"`    // documents the filter keeps off the device
	Failed     int `json:"failed"`     // downloads and uploads that failed
	Removed    int `json:"removed"`    // documents gone with their record or from the server
	Uploaded   int `json:"uploaded"`   // documents made on the device, uploaded
	// Waiting counts documents made on the device that wait for their
	// record's upload (or for a connector that can upload documents).
	Waiting       int   `json:"waiting,omitempty"`
	Bytes         int64 `json:"bytes"`          // bytes downloaded
	UploadedBytes int64 `json:"uploaded_bytes"` // bytes uploaded
	Calls         int   `json:"calls"`          // listing calls
	Ms            int64 `json:"ms"`             // the whole phase
	// TransferMs is the wall time of the downloads; BytesPerSec is Bytes
	// over it.
	TransferMs  int64   `json:"transfer_ms"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// Skipped says why the phase did nothing (a connector without
	// documents).
	Skipped string `json:"skipped,omitempty"`
}

const (
	defaultDocParallel  = 5
	defaultDocListBatch = 200
	// docFlushBytes and docFlushEvery are how often a download's progress
	// is recorded in the store (for status; the resume offset is the
	// .part file's size).
	docFlushBytes = 8 << 20
	docFlushEvery = 2 * time.Second
)

// prepareDocuments replaces opts.Documents with a copy with defaults filled
// in, and checks its filter.
func prepareDocuments(opts *Options) error {
	if opts.Documents == nil {
		return nil
	}
	d, err := opts.Documents.withDefaults(opts.Store)
	if err != nil {
		return err
	}
	opts.Documents = d
	return nil
}

func (o *DocumentOptions) withDefaults(st *store.Store) (*DocumentOptions, error) {
	var c DocumentOptions
	if o != nil {
		c = *o
	}
	if c.Dir == "" {
		c.Dir = st.Path() + ".documents"
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("documents directory %s: %w", c.Dir, err)
	}
	c.Dir = dir
	if c.Parallel <= 0 {
		c.Parallel = defaultDocParallel
	}
	if c.ListBatch <= 0 {
		c.ListBatch = defaultDocListBatch
	}
	if err := c.Filter.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// docOptions are the documents settings, defaults when the phase is off
// (FetchDocument and AddDocument work either way).
func (e *Engine) docOptions() (*DocumentOptions, error) {
	if e.opts.Documents != nil {
		return e.opts.Documents, nil
	}
	return (*DocumentOptions)(nil).withDefaults(e.opts.Store)
}

// DocumentsDir is where the engine keeps document files.
func (e *Engine) DocumentsDir() string {
	o, err := e.docOptions()
	if err != nil {
		return ""
	}
	return o.Dir
}

// documents is the documents phase (see the top of this file).
func (e *Engine) documents(ctx context.Context, p *plan, lg *Log) error {
	do := e.opts.Documents
	dl := &DocumentLog{}
	lg.Documents = dl
	start := time.Now()
	defer func() { dl.Ms = time.Since(start).Milliseconds() }()
	docs, ok := sdk.AsDocuments(ctx, e.opts.Connector)
	if !ok || !p.info.Has(sdk.CapDocuments) {
		dl.Skipped = "the " + p.info.Name + " connector offers no documents"
		return nil
	}
	var first error
	fail := func(entity string, err error) {
		lg.addError("documents", entity, err)
		if first == nil {
			first = err
		}
	}
	// Orphans first: a document made on the device for a row deleted
	// since has nothing to be uploaded with.
	n, err := e.opts.Store.RemoveOrphanDocuments(ctx, do.Dir)
	dl.Removed += n
	if err != nil {
		fail("", err)
	}
	if err := e.uploadDocuments(ctx, p, lg, dl); err != nil {
		fail("", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	planned := map[string]bool{}
	for _, ep := range p.entities {
		name := ep.ent.Name
		planned[name] = true
		// An entity whose rows own no documents (its schema says so) is
		// not asked.
		if !ep.ent.Capabilities.Documents || !do.Filter.Lists(name) {
			continue
		}
		if err := e.listDocuments(ctx, docs, name, dl); err != nil {
			fail(name, err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	queue, err := e.decideDocuments(ctx, planned, dl)
	if err != nil {
		fail("", err)
		return first
	}
	if err := e.downloadDocuments(ctx, docs, queue, lg, dl); err != nil && first == nil {
		first = err
	}
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// listDocuments indexes the documents of entity's rows on the device, a
// batch of record ids per listing.
func (e *Engine) listDocuments(ctx context.Context, docs sdk.Documents, entity string, dl *DocumentLog) error {
	do := e.opts.Documents
	after := ""
	for {
		ids, err := e.opts.Store.RecordIDs(ctx, entity, after, do.ListBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		after = ids[len(ids)-1]
		var listed []string
		err = e.retry(ctx, "list documents of "+entity, func() error {
			listed = listed[:0]
			dl.Calls++
			return docs.ListDocuments(ctx, sdk.DocumentQuery{Entity: entity, RecordIDs: ids}, func(pg *sdk.DocumentPage) error {
				for i := range pg.Documents {
					d := &pg.Documents[i]
					if d.ID == "" {
						return sdk.Errorf(sdk.Permanent, "the connector listed a document of %s without an id", entity)
					}
					if d.Entity == "" {
						d.Entity = entity
					}
					listed = append(listed, d.ID)
				}
				_, err := e.opts.Store.UpsertDocuments(ctx, pg.Documents, e.staleDocument)
				return err
			})
		})
		if err != nil {
			return err
		}
		dl.Listed += len(listed)
		n, err := e.opts.Store.RemoveUnlisted(ctx, do.Dir, entity, ids, listed)
		dl.Removed += n
		if err != nil {
			return err
		}
		if len(ids) < do.ListBatch {
			return nil
		}
	}
}

// staleDocument runs when a listed document has another version than the
// one indexed: a partial download of the old version must never be resumed
// as the new one. (The old version's complete file stays until the new one
// replaces it.)
func (e *Engine) staleDocument(old store.Document) error {
	err := os.Remove(filepath.Join(e.opts.Documents.Dir, store.PartPath(old.Entity, old.ID)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// decideDocuments runs the filter over the pending and blocked documents of
// the planned entities and returns the ones to download.
func (e *Engine) decideDocuments(ctx context.Context, planned map[string]bool, dl *DocumentLog) ([]store.Document, error) {
	do := e.opts.Documents
	cands, err := e.opts.Store.Documents(ctx, store.DocQuery{States: []store.DocState{store.DocPending, store.DocBlocked}})
	if err != nil {
		return nil, err
	}
	used, err := e.opts.Store.DocumentBytes(ctx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if !cands[i].Modified.Equal(cands[j].Modified) {
			return cands[i].Modified.After(cands[j].Modified)
		}
		return cands[i].ID < cands[j].ID
	})
	var queue []store.Document
	for _, d := range cands {
		if !planned[d.Entity] {
			continue
		}
		ok, why := do.Filter.Decide(d.Document, used)
		if !ok {
			dl.Blocked++
			if d.State == store.DocBlocked && d.Reason == why {
				continue
			}
			if d.Path != "" {
				// An older version's file: the document is off the
				// device now.
				if err := os.Remove(filepath.Join(do.Dir, d.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
			}
			if err := e.opts.Store.MarkDocumentBlocked(ctx, d.ID, why); err != nil {
				return nil, err
			}
			continue
		}
		if d.State == store.DocBlocked {
			if err := e.opts.Store.MarkDocumentPending(ctx, d.ID); err != nil {
				return nil, err
			}
		}
		used += d.Size
		queue = append(queue, d)
	}
	return queue, nil
}

// downloadDocuments downloads queue, Parallel at a time.
func (e *Engine) downloadDocuments(ctx context.Context, docs sdk.Documents, queue []store.Document, lg *Log, dl *DocumentLog) error {
	if len(queue) == 0 {
		return nil
	}
	start := time.Now()
	var (
		bytes atomic.Int64
		mu    sync.Mutex
		first error
		done  int
	)
	work := make(chan store.Document)
	var wg sync.WaitGroup
	for range min(e.opts.Documents.Parallel, len(queue)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				_, resumed, err := e.fetchFile(ctx, docs, d.ID, func(n int64) { bytes.Add(n) })
				mu.Lock()
				done++
				switch {
				case err == nil:
					dl.Downloaded++
					if resumed {
						dl.Resumed++
					}
				case ctx.Err() != nil:
					// Cancelled: the .part file waits for the next sync.
				default:
					dl.Failed++
					lg.addError("documents", d.Entity, err)
					if first == nil {
						first = err
					}
				}
				n := done
				mu.Unlock()
				e.emit(Event{Phase: "documents", Entity: d.Entity, Records: n, Total: len(queue)})
			}
		}()
	}
feed:
	for _, d := range queue {
		select {
		case work <- d:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	dl.Bytes = bytes.Load()
	dl.TransferMs = el.Milliseconds()
	if s := el.Seconds(); s > 0 {
		dl.BytesPerSec = float64(dl.Bytes) / s
	}
	return first
}

// fetchFile downloads document id into its file, resuming a partial
// download, and records it as downloaded. It returns the file's path. A
// document already downloaded (another caller got it meanwhile) is not
// read again.
func (e *Engine) fetchFile(ctx context.Context, docs sdk.Documents, id string, onBytes func(int64)) (path string, resumed bool, err error) {
	do, err := e.docOptions()
	if err != nil {
		return "", false, err
	}
	unlock := lockDocument(do.Dir + "\x00" + id)
	defer unlock()
	d, err := e.opts.Store.Document(ctx, id)
	if err != nil {
		return "", false, err
	}
	if d == nil {
		return "", false, fmt.Errorf("document %s is not listed on the device", id)
	}
	if d.State == store.DocDownloaded || d.State == store.DocLocalNew {
		p := filepath.Join(do.Dir, d.Path)
		if _, err := os.Stat(p); err == nil && d.Path != "" {
			return p, false, nil
		} else if d.State == store.DocLocalNew {
			return "", false, fmt.Errorf("document %s was made on the device and its file %s is gone", id, p)
		}
	}
	part := filepath.Join(do.Dir, store.PartPath(d.Entity, d.ID))
	if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", false, err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", false, err
	}
	if off > d.Size {
		// More than the document holds: not this version's bytes.
		if err := f.Truncate(0); err != nil {
			return "", false, err
		}
		if off, err = f.Seek(0, io.SeekStart); err != nil {
			return "", false, err
		}
	}
	resumed = off > 0
	pw := &partWriter{f: f, n: off, onBytes: onBytes, flushed: time.Now(), flushedAt: off,
		flush: func(n int64) {
			// Progress is recorded even when the sync was cancelled.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := e.opts.Store.DocumentProgress(fctx, d.ID, n); err != nil {
				e.log.Warn("recording a download's progress failed", "document", d.ID, "error", err)
			}
		}}
	err = e.retry(ctx, "read document "+d.ID, func() error {
		return docs.ReadDocument(ctx, d.ID, pw.n, pw)
	})
	if err != nil {
		pw.flush(pw.n)
		return "", resumed, err
	}
	if pw.n != d.Size {
		e.log.Warn("document size differs from its listing (it changed meanwhile?)", "document", d.ID, "listed", d.Size, "read", pw.n)
	}
	if err := f.Sync(); err != nil {
		return "", resumed, err
	}
	if err := f.Close(); err != nil {
		f = nil
		return "", resumed, err
	}
	f = nil
	rel := docFilePath(d.Entity, d.ID, d.Name)
	path = filepath.Join(do.Dir, rel)
	if err := os.Rename(part, path); err != nil {
		return "", resumed, err
	}
	if d.Path != "" && d.Path != rel {
		// The previous version's file, under another name.
		if err := os.Remove(filepath.Join(do.Dir, d.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("removing a document's old file failed", "document", d.ID, "error", err)
		}
	}
	if err := e.opts.Store.MarkDocumentDownloaded(context.WithoutCancel(ctx), d.ID, rel, pw.n); err != nil {
		return "", resumed, err
	}
	return path, resumed, nil
}

// partWriter appends a download to its .part file, counting bytes.
type partWriter struct {
	f         *os.File
	n         int64
	onBytes   func(int64)
	flush     func(int64)
	flushed   time.Time
	flushedAt int64
}

func (w *partWriter) Write(p []byte) (int, error) {
	k, err := w.f.Write(p)
	w.n += int64(k)
	if w.onBytes != nil {
		w.onBytes(int64(k))
	}
	if w.n-w.flushedAt >= docFlushBytes || time.Since(w.flushed) >= docFlushEvery {
		w.flush(w.n)
		w.flushed, w.flushedAt = time.Now(), w.n
	}
	return k, err
}

// docFilePath is a downloaded document's file, relative to the documents
// directory: <entity>/<id><ext>, the extension taken from its name so the
// file opens with the right application.
func docFilePath(entity, id, name string) string {
	return filepath.Join(store.SafeName(entity), store.SafeName(id)+docExt(name))
}

// docExt is name's extension when it is short and plain (letters and
// digits), else "".
func docExt(name string) string {
	ext := filepath.Ext(name)
	if len(ext) < 2 || len(ext) > 16 {
		return ""
	}
	for _, c := range ext[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return ext
}

// FetchDocument downloads one listed document now, whatever the document
// filter says (a blocked one too), and returns its file's path. A document
// already on the device is not downloaded again. The document must have
// been listed by a sync (see store.Store.Documents).
func (e *Engine) FetchDocument(ctx context.Context, id string) (string, error) {
	docs, ok := sdk.AsDocuments(ctx, e.opts.Connector)
	if !ok {
		return "", sdk.Errorf(sdk.Unsupported, "the connector offers no documents")
	}
	path, _, err := e.fetchFile(ctx, docs, id, nil)
	return path, err
}

// AddDocument attaches a document made on the device to entity's row
// recordID: it copies r (streamed) into the documents directory and
// indexes it for upload, which happens in the documents phase of a sync
// (Options.Documents must be set) once the row exists on the server, over
// a connector with the write-documents capability. It returns the
// document's id, which becomes the server's id once uploaded (a connector
// that accepts client ids keeps it).
func (e *Engine) AddDocument(ctx context.Context, entity, recordID, name, mime string, r io.Reader) (id string, err error) {
	do, err := e.docOptions()
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", errors.New("add document: no name")
	}
	ok, err := e.opts.Store.HasRecord(ctx, entity, recordID)
	if err != nil {
		return "", fmt.Errorf("add document: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("add document: no %s %s on the device", entity, recordID)
	}
	id = newDocumentID()
	rel := docFilePath(entity, id, name)
	path := filepath.Join(do.Dir, rel)
	part := filepath.Join(do.Dir, store.PartPath(entity, id))
	if err := os.MkdirAll(filepath.Dir(part), 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.Remove(part)
			os.Remove(path)
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("add document %s: %w", name, err)
	}
	if err := os.Rename(part, path); err != nil {
		return "", err
	}
	d := store.Document{Document: sdk.Document{ID: id, Entity: entity, RecordID: recordID, Name: name, MimeType: mime,
		Size: n, Modified: time.Now().UTC()}, Path: rel}
	if err := e.opts.Store.AddLocalDocument(ctx, d); err != nil {
		return "", err
	}
	return id, nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// newDocumentID is a random (version 4) GUID, lower-case.
func newDocumentID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// uploadDocuments uploads the documents made on the device whose records
// the server has.
func (e *Engine) uploadDocuments(ctx context.Context, p *plan, lg *Log, dl *DocumentLog) error {
	ready, waiting, err := e.opts.Store.LocalDocuments(ctx)
	dl.Waiting = waiting
	if err != nil || len(ready) == 0 {
		return err
	}
	w, ok := sdk.AsDocumentWriter(ctx, e.opts.Connector)
	if !ok {
		dl.Waiting += len(ready)
		lg.Hints = append(lg.Hints, fmt.Sprintf("%d document(s) made on the device wait: the %s connector cannot upload documents", len(ready), p.info.Name))
		return nil
	}
	for _, d := range ready {
		if err := e.uploadDocument(ctx, w, d, dl); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Logged here; the document waits for the next sync.
			dl.Failed++
			lg.addError("documents", d.Entity, err)
		}
	}
	return nil
}

func (e *Engine) uploadDocument(ctx context.Context, w sdk.DocumentWriter, d store.Document, dl *DocumentLog) error {
	path := filepath.Join(e.opts.Documents.Dir, d.Path)
	var out sdk.Document
	var sent int64
	err := e.retry(ctx, "upload document "+d.Name, func() error {
		f, err := os.Open(path)
		if err != nil {
			return sdk.Errorf(sdk.Permanent, "document %s made on the device: %v", d.ID, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		meta := d.Document
		meta.Size, meta.Version = fi.Size(), ""
		out, err = w.WriteDocument(ctx, meta, f)
		sent = fi.Size()
		return err
	})
	if err != nil {
		return err
	}
	if out.ID == "" {
		return sdk.Errorf(sdk.Permanent, "the connector stored document %s without giving its id", d.Name)
	}
	if out.Entity == "" {
		out.Entity = d.Entity
	}
	if out.RecordID == "" {
		out.RecordID = d.RecordID
	}
	if out.Name == "" {
		out.Name = d.Name
	}
	if err := e.opts.Store.DocumentUploaded(context.WithoutCancel(ctx), d.ID, out); err != nil {
		return err
	}
	dl.Uploaded++
	dl.UploadedBytes += sent
	return nil
}

// lockDocument serialises work on one document's files (a sync's download
// and a FetchDocument of the same document), across engines of a process.
func lockDocument(key string) func() {
	docLocks.Lock()
	l := docLocks.m[key]
	if l == nil {
		l = &docLock{}
		docLocks.m[key] = l
	}
	l.refs++
	docLocks.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		docLocks.Lock()
		if l.refs--; l.refs == 0 {
			delete(docLocks.m, key)
		}
		docLocks.Unlock()
	}
}

type docLock struct {
	mu   sync.Mutex
	refs int
}

var docLocks = struct {
	sync.Mutex
	m map[string]*docLock
}{m: map[string]*docLock{}}

// documentsPhase runs the documents phase through the cycle's phase
// runner, when Options.Documents turned it on.
func (e *Engine) documentsPhase(ctx context.Context, p *plan, lg *Log, phase func(string, func() error) error) error {
	if e.opts.Documents == nil {
		return nil
	}
	return phase("documents", func() error { return e.documents(ctx, p, lg) })
}
