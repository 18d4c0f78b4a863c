package salesforce

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

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
