package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// mpBody builds a multipart body with boundary "b" from raw parts (each
// "headers\r\n\r\ncontent").
func mpBody(parts ...string) string {
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString("--b\r\n" + p + "\r\n")
	}
	sb.WriteString("--b--\r\n")
	return sb.String()
}

const jsonHdr = "Content-Disposition: form-data; name=\"entity_content\"\r\nContent-Type: application/json\r\n\r\n"

func binHdr(name string) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
}

func TestMultipartCreate(t *testing.T) {
	o := newOrg(t)
	acc := o.create("Account", `{"Name":"Acme"}`)
	data := bytes.Repeat([]byte("\r\n--bx0123456789abcdef"), 50000) // ~1 MB, boundary-like bytes inside
	body := mpBody(jsonHdr+`{"Title":"Big","PathOnClient":"big.bin","FirstPublishLocationId":"`+acc+`"}`, binHdr("VersionData")+string(data))
	st, _, b := o.do("POST", "sobjects/ContentVersion", body, "Content-Type", "multipart/form-data; boundary=b")
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	var r struct{ ID string }
	_ = json.Unmarshal([]byte(b), &r)
	st, b = o.query("SELECT ContentSize, FileType, ContentDocumentId FROM ContentVersion WHERE Id = '" + r.ID + "'")
	if st != 200 || !contains(b, fmt.Sprintf(`"ContentSize":%d`, len(data))) || !contains(b, `"FileType":"BIN"`) {
		t.Fatalf("version: %d %s", st, b)
	}
	st, b = o.query("SELECT ContentSize FROM ContentDocument")
	if st != 200 || !contains(b, fmt.Sprintf(`"ContentSize":%d`, len(data))) {
		t.Fatalf("document: %d %s", st, b)
	}
	st, b = o.query("SELECT LinkedEntityId FROM ContentDocumentLink WHERE LinkedEntityId = '" + acc + "'")
	if st != 200 || !contains(b, `"totalSize":1`) {
		t.Fatalf("link: %d %s", st, b)
	}
	st, _, got := o.do("GET", "sobjects/ContentVersion/"+r.ID+"/VersionData", "")
	if st != 200 || got != string(data) {
		t.Fatalf("read back: %d, %d bytes", st, len(got))
	}

	// Attachment: part "Body"; an empty file is allowed.
	body = mpBody("Content-Disposition: form-data; name=\"entity_attachment\"\r\nContent-Type: application/json\r\n\r\n"+`{"Name":"a.txt","ParentId":"`+acc+`","ContentType":"text/plain"}`, binHdr("Body")+"hello")
	st, _, b = o.do("POST", "sobjects/Attachment", body, "Content-Type", `multipart/form-data; boundary="b"`)
	if st != 201 {
		t.Fatalf("attachment: %d %s", st, b)
	}
	_ = json.Unmarshal([]byte(b), &r)
	if st, _, got := o.do("GET", "sobjects/Attachment/"+r.ID+"/Body", ""); st != 200 || got != "hello" {
		t.Fatalf("attachment read: %d %q", st, got)
	}
	if st, b := o.query("SELECT BodyLength FROM Attachment WHERE Id = '" + r.ID + "'"); st != 200 || !contains(b, `"BodyLength":5`) {
		t.Fatalf("attachment length: %s", b)
	}
}

func TestMultipartCreateRejects(t *testing.T) {
	o := newOrg(t)
	acc := o.create("Account", `{"Name":"Acme"}`)
	fields := `{"Title":"T","PathOnClient":"t.txt","FirstPublishLocationId":"` + acc + `"}`
	good := mpBody(jsonHdr+fields, binHdr("VersionData")+"abc")
	mp := "multipart/form-data; boundary=b"
	cases := []struct {
		name, ctype, body, code string
	}{
		{"no boundary", "multipart/form-data", good, "INVALID_MULTIPART_REQUEST"},
		{"mixed", "multipart/mixed; boundary=b", good, "INVALID_MULTIPART_REQUEST"},
		{"bad content type", "multipart/form-data; boundary", good, "INVALID_MULTIPART_REQUEST"},
		{"empty", mp, "", "INVALID_MULTIPART_REQUEST"},
		{"garbage", mp, "not multipart at all", "INVALID_MULTIPART_REQUEST"},
		{"only closing", mp, "--b--\r\n", "INVALID_MULTIPART_REQUEST"},
		{"binary first", mp, mpBody(binHdr("VersionData")+"abc", jsonHdr+fields), "INVALID_MULTIPART_REQUEST"},
		{"no json type", mp, mpBody("Content-Disposition: form-data; name=\"entity_content\"\r\n\r\n"+fields, binHdr("VersionData")+"abc"), "INVALID_MULTIPART_REQUEST"},
		{"no entity name", mp, mpBody("Content-Disposition: form-data; name=\"x\"\r\nContent-Type: application/json\r\n\r\n"+fields, binHdr("VersionData")+"abc"), "INVALID_MULTIPART_REQUEST"},
		{"no binary part", mp, mpBody(jsonHdr + fields), "INVALID_MULTIPART_REQUEST"},
		{"wrong binary name", mp, mpBody(jsonHdr+fields, binHdr("Body")+"abc"), "INVALID_MULTIPART_REQUEST"},
		{"third part", mp, mpBody(jsonHdr+fields, binHdr("VersionData")+"abc", binHdr("VersionData")+"def"), "INVALID_MULTIPART_REQUEST"},
		{"truncated", mp, strings.TrimSuffix(good, "--b--\r\n"), "INVALID_MULTIPART_REQUEST"},
		{"cut in binary", mp, good[:len(good)-12], "INVALID_MULTIPART_REQUEST"},
		{"blob in json", mp, mpBody(jsonHdr+`{"Title":"T","PathOnClient":"t.txt","VersionData":"YQ=="}`, binHdr("VersionData")+"abc"), "INVALID_MULTIPART_REQUEST"},
		{"bad json", mp, mpBody(jsonHdr+`{"Title":`, binHdr("VersionData")+"abc"), "JSON_PARSER_ERROR"},
		{"unknown field", mp, mpBody(jsonHdr+`{"Nope":1,"Title":"T","PathOnClient":"t.txt"}`, binHdr("VersionData")+"abc"), "INVALID_FIELD"},
		{"missing title", mp, mpBody(jsonHdr+`{"PathOnClient":"t.txt"}`, binHdr("VersionData")+"abc"), "REQUIRED_FIELD_MISSING"},
	}
	for _, c := range cases {
		st, _, b := o.do("POST", "sobjects/ContentVersion", c.body, "Content-Type", c.ctype)
		var errs []struct{ Message, ErrorCode string }
		if err := json.Unmarshal([]byte(b), &errs); st != 400 || err != nil || len(errs) != 1 || errs[0].ErrorCode != c.code || errs[0].Message == "" {
			t.Errorf("%s: %d %s, want 400 %s", c.name, st, b, c.code)
		}
	}
	if st, b := o.query("SELECT COUNT() FROM ContentVersion"); st != 200 || !contains(b, `"totalSize":0`) {
		t.Errorf("a rejected upload left a version: %s", b)
	}
	if st, _, b := o.do("POST", "sobjects/ContentVersion", good, "Content-Type", mp); st != 201 {
		t.Errorf("good body: %d %s", st, b)
	}
}
