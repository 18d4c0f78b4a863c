package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
	"github.com/fieldsync/fieldsync/sdk"
)

func TestDocuments(t *testing.T) {
	f := newFakeOrg(t)
	content := bytes.Repeat([]byte("0123456789"), 1000)
	f.query = func(q string, all bool) (int, string) {
		switch {
		case strings.Contains(q, "FROM ContentDocumentLink"):
			return 200, queryJSON(true, "", `{"ContentDocumentId":"069000000000001AAA","LinkedEntityId":"`+acct(1)+`"}`)
		case strings.Contains(q, "FROM ContentVersion"):
			return 200, queryJSON(true, "", `{"Id":"068000000000001AAA","ContentDocumentId":"069000000000001AAA","Title":"a","PathOnClient":"a.txt","FileType":"TEXT","ContentSize":10000,"SystemModstamp":"2025-01-01T00:00:00.000+0000"}`)
		case strings.Contains(q, "FROM Attachment"):
			return 200, queryJSON(true, "", `{"Id":"00P000000000001AAA","ParentId":"`+acct(1)+`","Name":"b.bin","ContentType":"application/octet-stream","BodyLength":3,"SystemModstamp":"2025-01-01T00:00:00.000+0000"}`)
		}
		t.Errorf("unexpected query %q", q)
		return 400, "[]"
	}
	f.other = func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/services/data/v60.0/sobjects/ContentVersion/068000000000001AAA/VersionData":
			_, _ = w.Write(content)
		case "/services/data/v60.0/sobjects/Attachment/00P000000000001AAA/Body":
			_, _ = w.Write([]byte("abc"))
		default:
			return false
		}
		return true
	}
	c := f.connect()
	var docs []sdk.Document
	var pages []*sdk.DocumentPage
	err := c.ListDocuments(context.Background(), sdk.DocumentQuery{Entity: "Account", RecordIDs: []string{acct(1)}, PageSize: 1}, func(p *sdk.DocumentPage) error {
		pages = append(pages, p)
		docs = append(docs, p.Documents...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Name != "a.txt" || docs[0].Size != 10000 || docs[1].ID != "Attachment/00P000000000001AAA" || docs[0].RecordID != acct(1) {
		t.Fatalf("documents %+v", docs)
	}
	if !pages[len(pages)-1].Last || len(pages[0].Cursor) == 0 {
		t.Errorf("pages %+v", pages)
	}
	var buf bytes.Buffer
	if err := c.ReadDocument(context.Background(), docs[0].ID, 3333, &buf); err != nil || !bytes.Equal(buf.Bytes(), content[3333:]) {
		t.Errorf("read from offset: %v (%d bytes)", err, buf.Len())
	}
	buf.Reset()
	if err := c.ReadDocument(context.Background(), docs[1].ID, 0, &buf); err != nil || buf.String() != "abc" {
		t.Errorf("read attachment: %v %q", err, buf.String())
	}
	for _, id := range []string{"nope", "ContentVersion/068000000000009AAA"} {
		if err := c.ReadDocument(context.Background(), id, 0, &buf); sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("read %q: %v, want permanent", id, err)
		}
	}
	_ = fmt.Sprint
}

// pattern is n bytes of a position-dependent pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

// onlyReader hides bytes.Reader's WriterTo/Seeker, as a device file stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func emuConnector(t *testing.T, o *emuOrg) *Connector {
	t.Helper()
	c, err := Factory(context.Background(), o.settings(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.(*Connector)
}

func firstAccount(t *testing.T, c *Connector) string {
	t.Helper()
	rows, err := c.queryAll(context.Background(), "SELECT Id FROM Account ORDER BY Id LIMIT 1", "first account")
	if err != nil || len(rows) != 1 {
		t.Fatalf("first account: %v %v", rows, err)
	}
	return str(rows[0], "Id")
}

func TestWriteDocumentRoundTrip(t *testing.T) {
	ctx := context.Background()
	org := newEmuOrg(t, emulator.Options{}, emulator.SeedOptions{Accounts: 2, Users: 1, Seed: 3})
	c := emuConnector(t, org)
	if w, ok := sdk.AsDocumentWriter(ctx, c); !ok || w == nil {
		t.Fatal("CapWriteDocuments not advertised")
	}
	acc := firstAccount(t, c)
	content := pattern(3 << 20)
	for _, size := range []int64{int64(len(content)), -1} {
		name := fmt.Sprintf("scan %d.pdf", size)
		got, err := c.WriteDocument(ctx, sdk.Document{Entity: "Account", RecordID: acc, Name: name, MimeType: "application/pdf", Size: size}, onlyReader{bytes.NewReader(content)})
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !strings.HasPrefix(got.ID, "ContentVersion/068") || got.Size != int64(len(content)) || got.Name != name || got.RecordID != acc || got.Version == "" || got.MimeType != "application/pdf" {
			t.Fatalf("size %d: answer %+v", size, got)
		}
		var listed *sdk.Document
		err = c.ListDocuments(ctx, sdk.DocumentQuery{Entity: "Account", RecordIDs: []string{acc}}, func(p *sdk.DocumentPage) error {
			for i := range p.Documents {
				if p.Documents[i].ID == got.ID {
					listed = &p.Documents[i]
				}
			}
			return nil
		})
		if err != nil || listed == nil {
			t.Fatalf("size %d: listing: %v, found %v", size, err, listed != nil)
		}
		if *listed != got {
			t.Errorf("size %d: listed %+v, written %+v", size, *listed, got)
		}
		var buf bytes.Buffer
		const off = 1<<20 + 12345
		if err := c.ReadDocument(ctx, got.ID, off, &buf); err != nil || !bytes.Equal(buf.Bytes(), content[off:]) {
			t.Fatalf("size %d: read from %d: %v (%d bytes)", size, off, err, buf.Len())
		}
	}
	// An empty file.
	if got, err := c.WriteDocument(ctx, sdk.Document{Entity: "Account", RecordID: acc, Name: "empty.txt", Size: 0}, strings.NewReader("")); err != nil || got.Size != 0 {
		t.Fatalf("empty: %+v %v", got, err)
	}
}

func TestWriteDocumentSizeMismatch(t *testing.T) {
	ctx := context.Background()
	org := newEmuOrg(t, emulator.Options{}, emulator.SeedOptions{Accounts: 1, Users: 1, Seed: 3})
	c := emuConnector(t, org)
	acc := firstAccount(t, c)
	count := func() int {
		rows, err := c.queryAll(ctx, "SELECT Id FROM ContentVersion WHERE FirstPublishLocationId = '"+acc+"'", "count")
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	before := count()
	content := pattern(200 << 10)
	for _, size := range []int64{int64(len(content)) + 1, int64(len(content)) - 1, 10} {
		_, err := c.WriteDocument(ctx, sdk.Document{Entity: "Account", RecordID: acc, Name: "x.bin", Size: size}, onlyReader{bytes.NewReader(content)})
		var mm *sizeMismatch
		if sdk.KindOf(err) != sdk.Permanent || !errors.As(err, &mm) || !strings.Contains(err.Error(), "size") {
			t.Errorf("size %d of %d: %v, want a permanent size mismatch", size, len(content), err)
		}
	}
	if n := count(); n != before {
		t.Errorf("a failed upload stored a version: %d → %d", before, n)
	}
	// A failing reader is not a mismatch, and stores nothing either.
	boom := errors.New("disk gone")
	_, err := c.WriteDocument(ctx, sdk.Document{Entity: "Account", RecordID: acc, Name: "x.bin", Size: -1}, io.MultiReader(bytes.NewReader(content), iotestErr{boom}))
	if !errors.Is(err, boom) || sdk.KindOf(err) != sdk.Retryable {
		t.Errorf("failing reader: %v", err)
	}
	if n := count(); n != before {
		t.Errorf("a failed upload stored a version: %d → %d", before, n)
	}
	// Bad arguments.
	for _, d := range []sdk.Document{
		{Entity: "Account", RecordID: "nope", Name: "a", Size: 1},
		{Entity: "Account", RecordID: acc, Name: " ", Size: 1},
		{Entity: "Account", RecordID: acc, Name: "a", Size: -2},
		{Entity: "NoSuch", RecordID: acc, Name: "a", Size: 1},
	} {
		if _, err := c.WriteDocument(ctx, d, strings.NewReader("a")); sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("%+v: %v, want permanent", d, err)
		}
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// TestWriteDocumentRequestShape checks the documented multipart request
// and the mapping of a refused upload.
func TestWriteDocumentRequestShape(t *testing.T) {
	f := newFakeOrg(t)
	var seen struct {
		ctype, chunked string
		fields         map[string]string
		partName, body string
		length         int64
	}
	reply := func(w http.ResponseWriter) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`[{"message":"bad id","errorCode":"FIELD_INTEGRITY_EXCEPTION","fields":["FirstPublishLocationId"]}]`))
	}
	f.other = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/services/data/v60.0/sobjects/ContentVersion" || r.Method != http.MethodPost {
			return false
		}
		seen.ctype, seen.length = r.Header.Get("Content-Type"), r.ContentLength
		seen.chunked = strings.Join(r.TransferEncoding, ",")
		log := f.log() // the fake has read the body already
		r.Body = io.NopCloser(strings.NewReader(log[len(log)-1].Body))
		mr, err := r.MultipartReader()
		if err != nil {
			t.Errorf("multipart: %v", err)
			reply(w)
			return true
		}
		p, err := mr.NextPart()
		if err != nil {
			t.Errorf("first part: %v", err)
			reply(w)
			return true
		}
		if p.FormName() != "entity_content" || p.Header.Get("Content-Type") != "application/json" {
			t.Errorf("first part %v", p.Header)
		}
		_ = json.NewDecoder(p).Decode(&seen.fields)
		if p, err = mr.NextPart(); err != nil {
			t.Errorf("second part: %v", err)
			reply(w)
			return true
		}
		seen.partName = p.FormName() + "|" + p.FileName() + "|" + p.Header.Get("Content-Type")
		b, _ := io.ReadAll(p)
		seen.body = string(b)
		reply(w)
		return true
	}
	c := f.connect()
	_, err := c.WriteDocument(context.Background(), sdk.Document{Entity: "Account", RecordID: acct(1), Name: `a "b".txt`, MimeType: "text/plain", Size: 5}, strings.NewReader("hello"))
	if sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "FIELD_INTEGRITY_EXCEPTION") {
		t.Errorf("refused upload: %v", err)
	}
	if !strings.HasPrefix(seen.ctype, "multipart/form-data; boundary=") || seen.length <= 5 || seen.chunked != "" {
		t.Errorf("request: %q length %d chunked %q", seen.ctype, seen.length, seen.chunked)
	}
	if seen.fields["Title"] != `a "b"` || seen.fields["PathOnClient"] != `a "b".txt` || seen.fields["FirstPublishLocationId"] != acct(1) {
		t.Errorf("fields %v", seen.fields)
	}
	if seen.partName != `VersionData|a "b".txt|text/plain` || seen.body != "hello" {
		t.Errorf("binary part %q %q", seen.partName, seen.body)
	}
	// Unknown size: chunked.
	_, _ = c.WriteDocument(context.Background(), sdk.Document{Entity: "Account", RecordID: acct(1), Name: "a.txt", Size: -1}, onlyReader{strings.NewReader("hello")})
	if seen.length != -1 || seen.chunked != "chunked" || seen.body != "hello" {
		t.Errorf("unknown size: length %d %q body %q", seen.length, seen.chunked, seen.body)
	}
}
