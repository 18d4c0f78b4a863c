package dataverse

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// Fuzz targets for every parser of what a server sends: collections,
// $metadata, $batch responses, document bodies, and the tokens and cursors
// the core hands back. None may panic.

func FuzzCollection(f *testing.F) {
	f.Add(`{"value":[{"@odata.etag":"W/\"1\"","accountid":"aaaaaaaa-0000-0000-0000-000000000001","name":"x","numberofemployees":3}],"@odata.nextLink":"n"}`)
	f.Add(`{"@odata.context":"c","value":[{"@odata.context":"x/$deletedEntity","id":"a","reason":"deleted"},{"@removed":{},"@id":"accounts(b)"}],"@odata.deltaLink":"d"}`)
	f.Add(`{"value":[{"accountid":"a","name":{"nested":[1,2]}}]}`)
	f.Add(`{"value":[],"value":[]}`)
	m := loadTestModel(f)
	e := m.byName["account"]
	fields := []*field{e.byName["name"], e.byName["numberofemployees"], e.byName["createdon"], e.byName["revenue"]}
	slots := map[string]int{"name": 0, "numberofemployees": 1, "createdon": 2, "revenue": 3}
	f.Fuzz(func(t *testing.T, in string) {
		col, err := openCollection(strings.NewReader(in))
		if err != nil {
			return
		}
		vals := make([]sdk.Value, len(fields))
		for i := 0; i < 1000; i++ {
			more, err := col.more()
			if err != nil || !more {
				return
			}
			if _, err := col.readItem(e, slots, fields, vals); err != nil {
				return
			}
		}
	})
}

func FuzzMetadata(f *testing.F) {
	meta, err := os.ReadFile("testdata/metadata.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(meta))
	f.Add(`<Edmx><DataServices><Schema><EntityType Name="a" BaseType="x.a"><Key><PropertyRef Name="id"/></Key></EntityType></Schema></DataServices></Edmx>`)
	f.Fuzz(func(t *testing.T, in string) {
		m, err := parseMetadata(strings.NewReader(in))
		if err == nil {
			if verr := m.schema.Validate(); verr != nil {
				t.Fatalf("parsed schema does not validate: %v", verr)
			}
		}
	})
}

func FuzzReadBatch(f *testing.F) {
	f.Add(multipartBody("b", "HTTP/1.1 200 OK\nContent-Type: text/plain\n\n0", []string{"1|HTTP/1.1 204 No Content\n\n"}))
	f.Add("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n\r\nnot http\r\n--c--\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = readBatch(strings.NewReader(in), "b")
	})
}

func FuzzDocumentBody(f *testing.F) {
	f.Add(`{"@odata.context":"x","@odata.etag":"W/\"1\"","documentbody":"aGVsbG8=","annotationid":"a"}`)
	f.Add(`{"a":{"b":["}",1]},"documentbody":"aGV\u0073bG8\/","x":1}`)
	f.Add(`{"documentbody":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := documentBody(bufio.NewReader(strings.NewReader(in)))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}

func FuzzTokens(f *testing.F) {
	f.Add(changeToken{Entity: "account", Sig: "s", Mode: modePlain, Link: "accounts?$deltatoken=1"}.encode())
	f.Add(cursor{Entity: "account", Sig: "s", Phase: phaseTDS, After: "x"}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeToken(b, "account", "s")
		_, _ = decodeCursor(b, "account", "s")
		var dc docCursor
		_ = decodeOpaque(kindDocCursor, b, &dc)
	})
}

func TestDocumentBodyEscapes(t *testing.T) {
	r, err := documentBody(bufio.NewReader(strings.NewReader(`{"skip":{"s":"}\""},"n":12,"documentbody":"aGV\u0073bG8\/+="}`)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		t.Fatal(err)
	}
	if b.String() != "aGVsbG8/+=" {
		t.Errorf("documentbody read as %q", b.String())
	}
}
