package emulator

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzFilter feeds $filter text to the parser and the SQL builder. It
// must never panic; anything refused is a 400 with a message; anything
// accepted must compile to SQL SQLite can prepare (a builder bug would
// otherwise be a 500).
func FuzzFilter(f *testing.F) {
	seeds := []string{
		"name eq 'Contoso'",
		"statecode eq 0 and (address1_city eq 'Praha' or numberofemployees gt 100)",
		"not (name eq 'x')",
		"contains(name,'[[]O''Brien]')",
		"startswith(name,'50[%][_]off')",
		"revenue ge 7.25 and revenue le -0.5",
		"createdon ge 2026-01-02T03:04:05.123456Z",
		"accountid eq 2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab",
		"_ownerid_value eq null",
		`Microsoft.Dynamics.CRM.In(PropertyName='address1_city',PropertyValues=["Praha","Brno"])`,
		"Microsoft.Dynamics.CRM.NotIn(PropertyName='statecode',PropertyValues=[\"0\",\"2\"])",
		"Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=30)",
		"Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')",
		"Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='owningbusinessunit')",
		"primarycontactid/contactid ne null and primarycontactid/lastname eq 'x'",
		"parentaccountid/owninguser/businessunitid/name eq 'Sales'",
		"donotemail eq true",
		"1 lt numberofemployees",
	}
	if files, _ := filepath.Glob("../odata/testdata/golden/*.txt"); len(files) > 0 {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				if _, out, ok := strings.Cut(string(b), "---\n"); ok {
					seeds = append(seeds, strings.TrimSuffix(out, "\n"))
				}
			}
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	st, err := OpenStore(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	sc := scope{userID: "00000000-0000-4000-8000-000000000001", businessUnitID: "00000000-0000-4000-8000-000000000002", now: time.Now()}
	acc := model["account"]
	f.Fuzz(func(t *testing.T, src string) {
		sf, err := compileFilter(src, acc, sc)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("%q: not a 400 with a message: %v", src, err)
			}
			return
		}
		sql := "SELECT count(*) FROM account AS t " + strings.Join(sf.joins, " ") + " WHERE " + sf.where
		err = st.WithConn(context.Background(), func(c *sqliteConn) error {
			s, _, err := c.Prepare(sql)
			if err == nil {
				if s.BindCount() > len(sf.args) {
					err = errors.New("more parameters than arguments")
				}
				s.Close()
			}
			return err
		})
		if err != nil {
			t.Fatalf("%q compiled to bad SQL %q: %v", src, sql, err)
		}
	})
}

// FuzzBatch feeds $batch bodies to the multipart parser: never a panic,
// and a refusal is a 400 with a message.
func FuzzBatch(f *testing.F) {
	f.Add([]byte(batchBody("GET /api/data/v9.2/WhoAmI HTTP/1.1\r\n")), "batch_X")
	f.Add([]byte("--batch_X\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPOST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"x\"}\r\n--cs--\r\n--batch_X--\r\n"), "batch_X")
	f.Add([]byte("--batch_X\r\n\r\n--batch_X--"), "batch_X")
	f.Add([]byte(""), "")
	if b, err := os.ReadFile(filepath.Join("testdata", "golden", "batch_changeset_success.txt")); err == nil {
		req, _, _ := bytes.Cut(b, []byte("\n---\n"))
		if _, body, ok := bytes.Cut(req, []byte("\n\n")); ok {
			f.Add(bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")), "batch_AAA")
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		items, err := parseBatch(bytes.NewReader(body), "multipart/mixed; boundary="+boundary, MaxBatchRequests)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("not a 400 with a message: %v", err)
			}
			return
		}
		n := 0
		for _, it := range items {
			if it.req == nil && len(it.changeSet) == 0 {
				t.Fatal("an empty item")
			}
			n += len(it.changeSet)
			if it.req != nil {
				n++
			}
		}
		if n > MaxBatchRequests {
			t.Fatalf("%d requests accepted", n)
		}
	})
}
