package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func batchBody(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--batch_X\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		b.WriteString(p)
		b.WriteString("\r\n")
	}
	b.WriteString("--batch_X--\r\n")
	return b.String()
}

func TestBatchLimitsAndRefs(t *testing.T) {
	e := newEnv(t, nil)
	var parts []string
	for i := 0; i <= MaxBatchRequests; i++ {
		parts = append(parts, "GET /api/data/v9.2/WhoAmI HTTP/1.1\r\n")
	}
	r := e.do("POST", "$batch", batchBody(parts...), "Content-Type", "multipart/mixed; boundary=batch_X")
	if r.status != 400 || !strings.Contains(string(r.body), "more than 1000 requests") {
		t.Errorf("1001 requests: %d %.200s", r.status, r.body)
	}
	r = e.do("POST", "$batch", batchBody(parts[:MaxBatchRequests]...), "Content-Type", "multipart/mixed; boundary=batch_X")
	if r.status != 200 || strings.Count(string(r.body), "HTTP/1.1 200 OK") != MaxBatchRequests {
		t.Errorf("1000 requests: %d", r.status)
	}
	// One HTTP request in the log, carrying 1000 parts.
	reqs := e.srv.Requests(0)
	last := reqs[len(reqs)-1]
	if last.Parts != MaxBatchRequests || last.Method != "POST" {
		t.Errorf("request log: %+v", last)
	}
	// A reference that was never declared.
	r = e.do("POST", "$batch", batchBody("PATCH $9 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}"), "Content-Type", "multipart/mixed; boundary=batch_X")
	if r.status != 400 || !strings.Contains(string(r.body), "Content-ID Reference: '$9' does not exist in the batch context.") {
		t.Errorf("undeclared ref: %d %s", r.status, r.body)
	}
	// Malformed bodies are 400 with a message.
	for _, bad := range []struct{ ct, body string }{
		{"application/json", "{}"},
		{"multipart/mixed; boundary=batch_X", "garbage"},
		{"multipart/mixed; boundary=batch_X", batchBody("NOT A REQUEST LINE")},
		{"multipart/mixed; boundary=batch_X", "--batch_X\r\nContent-Type: text/plain\r\n\r\nx\r\n--batch_X--\r\n"},
	} {
		r := e.do("POST", "$batch", bad.body, "Content-Type", bad.ct)
		if r.status != 400 || !strings.Contains(string(r.body), `"code":"0x8006088a"`) {
			t.Errorf("%q: %d %s", bad.body, r.status, r.body)
		}
	}
}

func TestServiceProtection(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits = Limits{Requests: 3, Window: time.Minute} })
	for i := 0; i < 3; i++ {
		r := e.must(e.do("GET", "WhoAmI", ""), 200)
		if got := r.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"); got != fmt.Sprint(2-i) {
			t.Errorf("remaining %q", got)
		}
	}
	r := e.must(e.do("GET", "WhoAmI", ""), 429)
	if r.header.Get("Retry-After") != "60" || !strings.Contains(string(r.body), "Number of requests exceeded the limit of 3 over time window of 60 seconds.") {
		t.Errorf("429: %s %s", r.header.Get("Retry-After"), r.body)
	}
	e.clock.Add(61 * time.Second)
	e.must(e.do("GET", "WhoAmI", ""), 200)

	// Concurrency and execution time, on the limiter itself.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lm := newLimiter(Limits{Requests: -1, Concurrent: 2, Window: time.Minute, ExecutionTime: 10 * time.Second})
	d1, err := lm.admit("u", now)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := lm.admit("u", now)
	if _, e := lm.admit("u", now); e == nil || e.Code != codeConcurrent || e.Message != "Number of concurrent requests exceeded the limit of 2." {
		t.Errorf("concurrent: %v", e)
	}
	if _, e := lm.admit("other", now); e != nil {
		t.Errorf("another user is limited: %v", e)
	}
	d1(6 * time.Second)
	d2(6 * time.Second)
	_, e2 := lm.admit("u", now.Add(12*time.Second))
	if e2 == nil || e2.Code != codeExecTime || !strings.Contains(e2.Message, "exceeded limit of 10,000  milliseconds over time window of 60 seconds") {
		t.Errorf("execution time: %v", e2)
	}
	if ra := e2.Header.Get("Retry-After"); ra != "54" {
		t.Errorf("Retry-After %s", ra)
	}
	if _, e := lm.admit("u", now.Add(67*time.Second)); e != nil {
		t.Errorf("after the window: %v", e)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.SetFaults(Faults{Force429: 2, RetryAfter: 7})
	for i := 0; i < 2; i++ {
		r := e.must(e.do("GET", "WhoAmI", ""), 429)
		if r.header.Get("Retry-After") != "7" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	e.must(e.do("GET", "WhoAmI", ""), 200)
	e.srv.SetFaults(Faults{FailRate: 100})
	r := e.must(e.do("GET", "WhoAmI", ""), 503)
	if !strings.HasPrefix(string(r.body), `{"error":{"code":"0x80040216"`) {
		t.Errorf("503 body %s", r.body)
	}
	e.srv.SetFaults(Faults{DropRate: 100})
	req, _ := http.NewRequest("GET", e.url+"WhoAmI", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("dropped connection answered %d", res.StatusCode)
	}
	// The admin endpoint sets and reads the switches.
	res, err := http.Post(e.http.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"delayMs":1}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("admin faults: %v %v", err, res)
	}
	res.Body.Close()
	if f := e.srv.Faults(); f.Delay != time.Millisecond || f.DropRate != 0 {
		t.Errorf("faults %+v", f)
	}
	e.must(e.do("GET", "WhoAmI", ""), 200)
	res, _ = http.Post(e.http.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"failRate":200}`))
	if res.StatusCode != 400 {
		t.Errorf("bad rate accepted: %d", res.StatusCode)
	}
	res.Body.Close()
	// The request log counts what left the server.
	before := e.srv.LastRequestID()
	e.must(e.do("GET", "accounts?$select=name", ""), 200)
	got := e.srv.Requests(before)
	if len(got) != 1 || got[0].Path != "/api/data/v9.2/accounts?$select=name" || got[0].Status != 200 || got[0].User == "" || got[0].BytesOut == 0 {
		t.Errorf("request log %+v", got)
	}
}

func TestAnnotations(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxUploadFileSize = 64 << 20 })
	acc := e.create("accounts", `{"name":"A"}`)
	small := []byte("hello, note")
	id := e.create("annotations", `{"subject":"s","filename":"h.txt","mimetype":"text/plain","documentbody":"`+
		base64.StdEncoding.EncodeToString(small)+`","objectid_account@odata.bind":"/accounts(`+acc+`)"}`)
	m := e.must(e.do("GET", "annotations("+id+")?$select=documentbody,filesize,isdocument", ""), 200).json(t)
	if m["documentbody"] != base64.StdEncoding.EncodeToString(small) || m["filesize"].(float64) != float64(len(small)) || m["isdocument"] != true {
		t.Errorf("note %v", m)
	}
	if r := e.must(e.do("GET", "annotations("+id+")/documentbody/$value", ""), 200); string(r.body) != base64.StdEncoding.EncodeToString(small) {
		t.Errorf("$value %s", r.body)
	}

	// Blocks: upload 2.5 blocks of 4 MB, commit, read back in blocks.
	data := make([]byte, maxBlockSize*5/2)
	rand.Read(data)
	note := "00000000-0000-4000-8000-0000000000e1"
	target := `{"annotationid":"` + note + `","subject":"big","filename":"big.bin","mimetype":"application/octet-stream","@odata.type":"Microsoft.Dynamics.CRM.annotation","objectid_account@odata.bind":"/accounts(` + acc + `)"}`
	tok := e.must(e.do("POST", "InitializeAnnotationBlocksUpload", `{"Target":`+target+`}`), 200).json(t)["FileContinuationToken"].(string)
	var ids []string
	for i, off := 0, 0; off < len(data); i++ {
		end := min(off+maxBlockSize, len(data))
		bid := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("block-%04d", i)))
		ids = append(ids, `"`+bid+`"`)
		e.must(e.do("POST", "UploadBlock", `{"BlockId":"`+bid+`","BlockData":"`+base64.StdEncoding.EncodeToString(data[off:end])+`","FileContinuationToken":"`+tok+`"}`), 204)
		off = end
	}
	r := e.must(e.do("POST", "CommitAnnotationBlocksUpload", `{"Target":`+target+`,"BlockList":[`+strings.Join(ids, ",")+`],"FileContinuationToken":"`+tok+`"}`), 200)
	if m := r.json(t); m["AnnotationId"] != note || m["FileSizeInBytes"].(float64) != float64(len(data)) {
		t.Errorf("commit %s", r.body)
	}
	// The token is used up.
	e.must(e.do("POST", "UploadBlock", `{"BlockId":"eA==","BlockData":"eA==","FileContinuationToken":"`+tok+`"}`), 400)

	dl := e.must(e.do("POST", "InitializeAnnotationBlocksDownload", `{"Target":{"annotationid":"`+note+`","@odata.type":"Microsoft.Dynamics.CRM.annotation"}}`), 200).json(t)
	if dl["FileName"] != "big.bin" || dl["FileSizeInBytes"].(float64) != float64(len(data)) {
		t.Errorf("download init %v", dl)
	}
	var got []byte
	for off := 0; off < len(data); off += maxBlockSize {
		m := e.must(e.do("POST", "DownloadBlock", fmt.Sprintf(`{"Offset":%d,"BlockLength":%d,"FileContinuationToken":"%s"}`, off, maxBlockSize, dl["FileContinuationToken"])), 200).json(t)
		b, err := base64.StdEncoding.DecodeString(m["Data"].(string))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, not the %d uploaded", len(got), len(data))
	}
	e.must(e.do("POST", "DownloadBlock", `{"Offset":0,"BlockLength":10,"FileContinuationToken":"forged.token"}`), 400)
	// The note is tracked like any row.
	if n := e.must(e.do("GET", "annotations?$select=subject&$filter=isdocument%20eq%20true", ""), 200); len(values(t, n.json(t))) != 2 {
		t.Errorf("documents: %s", n.body)
	}
}

func TestUploadLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxUploadFileSize = 1000 })
	body := base64.StdEncoding.EncodeToString(make([]byte, 1000))
	r := e.do("POST", "annotations", `{"subject":"s","documentbody":"`+body+`"}`)
	if r.status != 400 || !strings.Contains(string(r.body), `{"error":{"code":"0x80044a02","message":"Attachment file size is too big."}}`) {
		t.Errorf("%d %s", r.status, r.body)
	}
}
