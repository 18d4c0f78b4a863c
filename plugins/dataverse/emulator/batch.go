package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// $batch (Microsoft: "Execute batch operations using the Web API"; OData
// 4.0 part 1 §11.7). A batch body is multipart/mixed; each part is either
// one request (application/http, binary) or a change set (a nested
// multipart/mixed whose requests are atomic). The whole batch runs on one
// connection; a change set runs in one write transaction, rolled back when
// any of its requests fails, and then only the failing request's response
// is returned for it. Content-ID n names the entity a change set request
// created; "$n" may start a later request's URL or be an @odata.bind
// value. Without Prefer: odata.continue-on-error the batch stops at the
// first failing request and answers 400 with the responses so far; with
// it, every request is answered and the batch answers 200.

const maxBatchBody = 256 << 20

type batchRequest struct {
	method    string
	target    string
	header    http.Header
	body      []byte
	contentID string
}

// batchItem is one top-level part: a request or a change set.
type batchItem struct {
	req       *batchRequest
	changeSet []*batchRequest
}

func batchError(format string, args ...any) *apiError {
	return badRequest(codeBatch, fmt.Sprintf(format, args...))
}

// parseBatch reads a $batch body. It never panics; anything malformed is a
// 400 naming what is wrong.
func parseBatch(body io.Reader, contentType string, maxRequests int) ([]batchItem, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, batchError("The $batch request must have Content-Type multipart/mixed with a boundary, not '%s'.", contentType)
	}
	mr := multipart.NewReader(body, params["boundary"])
	var items []batchItem
	n := 0
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, batchError("The $batch body is not valid multipart/mixed: %v.", err)
		}
		pmt, pparams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			return nil, batchError("A $batch part has no valid Content-Type (%q).", p.Header.Get("Content-Type"))
		}
		switch pmt {
		case "application/http":
			req, err := readBatchRequest(p, p.Header)
			if err != nil {
				return nil, err
			}
			items = append(items, batchItem{req: req})
			n++
		case "multipart/mixed":
			if pparams["boundary"] == "" {
				return nil, batchError("A change set part has no boundary.")
			}
			cr := multipart.NewReader(p, pparams["boundary"])
			var set []*batchRequest
			ids := map[string]bool{}
			for {
				cp, err := cr.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, batchError("A change set is not valid multipart/mixed: %v.", err)
				}
				if cmt, _, _ := mime.ParseMediaType(cp.Header.Get("Content-Type")); cmt != "application/http" {
					return nil, batchError("A change set part must be application/http, not %q.", cp.Header.Get("Content-Type"))
				}
				req, err := readBatchRequest(cp, cp.Header)
				if err != nil {
					return nil, err
				}
				if req.method == http.MethodGet {
					return nil, batchError("GET requests are not allowed within change sets.")
				}
				if req.contentID != "" {
					if ids[req.contentID] {
						return nil, batchError("The Content-ID '%s' is used twice in one change set.", req.contentID)
					}
					ids[req.contentID] = true
				}
				set = append(set, req)
				n++
				if n > maxRequests {
					return nil, batchError("The batch has more than %d requests.", maxRequests)
				}
			}
			if len(set) == 0 {
				return nil, batchError("A change set has no requests.")
			}
			items = append(items, batchItem{changeSet: set})
		default:
			return nil, batchError("A $batch part must be application/http or multipart/mixed, not %q.", pmt)
		}
		if n > maxRequests {
			return nil, batchError("The batch has more than %d requests.", maxRequests)
		}
	}
	if len(items) == 0 {
		return nil, batchError("The $batch body has no parts.")
	}
	return items, nil
}

// readBatchRequest reads one application/http part: request line,
// headers, blank line, body (the rest of the part).
func readBatchRequest(part io.Reader, ph textproto.MIMEHeader) (*batchRequest, error) {
	if te := ph.Get("Content-Transfer-Encoding"); te != "" && !strings.EqualFold(te, "binary") {
		return nil, batchError("A $batch part must have Content-Transfer-Encoding binary, not %q.", te)
	}
	br := bufio.NewReader(io.LimitReader(part, maxBatchBody))
	tp := textproto.NewReader(br)
	var line string
	for {
		l, err := tp.ReadLine()
		if err != nil {
			return nil, batchError("A $batch part has no request line.")
		}
		if strings.TrimSpace(l) != "" {
			line = l
			break
		}
	}
	fields := strings.Fields(line)
	if len(fields) < 2 || len(fields) > 3 || len(fields) == 3 && !strings.HasPrefix(fields[2], "HTTP/") {
		return nil, batchError("The request line %q of a $batch part is not 'METHOD URL HTTP/1.1'.", line)
	}
	switch fields[0] {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return nil, batchError("The method %q of a $batch part is not supported.", fields[0])
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(hdr) >= 0) {
		return nil, batchError("The headers of a $batch part cannot be read: %v.", err)
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return nil, batchError("The body of a $batch part cannot be read: %v.", err)
	}
	body = bytes.TrimRight(body, "\r\n")
	return &batchRequest{method: fields[0], target: fields[1], header: http.Header(hdr), body: body,
		contentID: strings.TrimSpace(ph.Get("Content-ID"))}, nil
}

// recorder captures one part's response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (k *call) batch(w http.ResponseWriter, r *http.Request) error {
	pf := parsePrefer(r.Header)
	items, err := parseBatch(http.MaxBytesReader(nil, r.Body, maxBatchBody), r.Header.Get("Content-Type"), MaxBatchRequests)
	if err != nil {
		return err
	}
	if _, err := k.conn(); err != nil {
		return err
	}
	if k.refs == nil {
		k.refs = map[string]string{}
	}
	boundary := "batchresponse_" + newGUID()
	var out bytes.Buffer
	status := http.StatusOK
	var parts int
	for _, it := range items {
		if it.req != nil {
			rec := k.runPart(r, it.req)
			writePart(&out, boundary, "", rec)
			parts++
			if rec.status >= 400 && !pf.continueOnError {
				status = http.StatusBadRequest
				break
			}
			continue
		}
		recs, failed := k.runChangeSet(r, it.changeSet)
		parts += len(it.changeSet)
		if failed != nil {
			writePart(&out, boundary, "", failed)
			if !pf.continueOnError {
				status = http.StatusBadRequest
				break
			}
			continue
		}
		inner := "changesetresponse_" + newGUID()
		fmt.Fprintf(&out, "--%s\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", boundary, inner)
		for i, rec := range recs {
			writePart(&out, inner, it.changeSet[i].contentID, rec)
		}
		fmt.Fprintf(&out, "--%s--\r\n", inner)
	}
	fmt.Fprintf(&out, "--%s--\r\n", boundary)
	if lw, ok := w.(*loggedWriter); ok {
		lw.parts = parts
	}
	h := w.Header()
	h.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	h.Set("OData-Version", "4.0")
	if pf.continueOnError {
		h.Add("Preference-Applied", "odata.continue-on-error")
	}
	h.Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(status)
	w.Write(out.Bytes())
	return nil
}

// runChangeSet runs a change set in one transaction; on failure it rolls
// back and returns the failing response.
func (k *call) runChangeSet(outer *http.Request, set []*batchRequest) ([]*recorder, *recorder) {
	c, err := k.conn()
	if err != nil {
		rec := newRecorder()
		k.fail(rec, err)
		return nil, rec
	}
	if err := c.begin(); err != nil {
		rec := newRecorder()
		k.fail(rec, err)
		return nil, rec
	}
	k.inTx = true
	defer func() { k.inTx = false }()
	var added []string
	var recs []*recorder
	for _, req := range set {
		rec := k.runPart(outer, req)
		if rec.status >= 400 {
			c.rollback()
			for _, id := range added {
				delete(k.refs, id)
			}
			return nil, rec
		}
		if req.contentID != "" {
			ref := "$" + req.contentID
			if id := rec.header.Get("OData-EntityId"); id != "" {
				if i := strings.Index(id, APIPath); i >= 0 {
					k.refs[ref] = id[i+len(APIPath):]
					added = append(added, ref)
				}
			}
		}
		recs = append(recs, rec)
	}
	if err := c.commit(); err != nil {
		c.rollback()
		for _, id := range added {
			delete(k.refs, id)
		}
		rec := newRecorder()
		k.fail(rec, err)
		return nil, rec
	}
	return recs, nil
}

// runPart runs one request of a batch on the batch's connection.
func (k *call) runPart(outer *http.Request, req *batchRequest) *recorder {
	rec := newRecorder()
	target := req.target
	if strings.HasPrefix(target, "$") {
		id, rest, _ := strings.Cut(target, "/")
		ref, ok := k.refs[id]
		if !ok {
			writeError(rec, batchError("Content-ID Reference: '%s' does not exist in the batch context.", id))
			return rec
		}
		target = APIPath + ref
		if rest != "" {
			target += "/" + rest
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		writeError(rec, batchError("The URL %q of a $batch part is not valid.", req.target))
		return rec
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = APIPath + u.Path
	}
	if !strings.HasPrefix(u.Path, APIPath) {
		writeError(rec, segmentNotFound(u.Path))
		return rec
	}
	if strings.TrimPrefix(u.Path, APIPath) == "$batch" {
		writeError(rec, batchError("A batch cannot contain another batch."))
		return rec
	}
	r, err := http.NewRequestWithContext(k.ctx, req.method, (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String(), bytes.NewReader(req.body))
	if err != nil {
		writeError(rec, batchError("The request %s %s of a $batch part is not valid.", req.method, req.target))
		return rec
	}
	r.Header = req.header
	r.Host = outer.Host
	r.TLS = outer.TLS
	sub := &call{s: k.s, ctx: k.ctx, user: k.user, base: k.base, c: k.c, inTx: k.inTx, refs: k.refs}
	if err := sub.dispatch(rec, r); err != nil {
		var es errStreamed
		if errors.As(err, &es) {
			rec.header = http.Header{}
			rec.body.Reset()
			rec.status = 0
			err = es.err
		}
		sub.fail(rec, err)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

// headerOrder is the order part headers are written in (the rest follow
// sorted), as Dataverse's samples show them.
var headerOrder = []string{"Content-Type", "Odata-Version", "Location", "Odata-Entityid", "Etag", "Preference-Applied"}

var headerNames = map[string]string{"Odata-Version": "OData-Version", "Odata-Entityid": "OData-EntityId", "Etag": "ETag"}

func writePart(out *bytes.Buffer, boundary, contentID string, rec *recorder) {
	fmt.Fprintf(out, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n", boundary)
	if contentID != "" {
		fmt.Fprintf(out, "Content-ID: %s\r\n", contentID)
	}
	fmt.Fprintf(out, "\r\nHTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
	seen := map[string]bool{"Content-Length": true}
	write := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		name := k
		if n, ok := headerNames[k]; ok {
			name = n
		}
		for _, v := range rec.header[k] {
			fmt.Fprintf(out, "%s: %s\r\n", name, v)
		}
	}
	for _, k := range headerOrder {
		write(k)
	}
	var rest []string
	for k := range rec.header {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		write(k)
	}
	out.WriteString("\r\n")
	out.Write(rec.body.Bytes())
	out.WriteString("\r\n")
}
