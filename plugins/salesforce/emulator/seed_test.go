package emulator

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSeedDeterministic(t *testing.T) {
	read := func() string {
		s, err := New(Options{Path: filepath.Join(t.TempDir(), "s.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Seed(context.Background(), SeedOptions{Accounts: 30, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, DocumentsPerAccount: 1, Users: 3, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		v, err := s.QueryText(context.Background(), `SELECT group_concat("Id" || "Name" || coalesce("Industry", ''), ',') FROM (SELECT * FROM "Account" ORDER BY "Id")`)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := s.QueryInt(context.Background(), `SELECT count(*) FROM "ContentDocumentLink"`)
		if n != 30 {
			t.Fatalf("%d links", n)
		}
		return v
	}
	if a, b := read(), read(); a != b || a == "" {
		t.Fatal("seed is not deterministic")
	}
}

// TestSeedMillion times a 1,000,000-account seed (SEED_MILLION=1).
func TestSeedMillion(t *testing.T) {
	if os.Getenv("SEED_MILLION") == "" {
		t.Skip("set SEED_MILLION=1")
	}
	s, err := New(Options{Path: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if err := s.Seed(context.Background(), SeedOptions{Accounts: 1000000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000,000 accounts in %v", time.Since(start))
}

func TestExecMovesStamp(t *testing.T) {
	o := newOrg(t)
	id := o.create("Account", `{"Name":"Acme"}`)
	before, _ := o.s.QueryInt(context.Background(), `SELECT "SystemModstamp" FROM "Account" WHERE "Id" = ?1`, id)
	if err := o.s.Exec(context.Background(), `UPDATE "Account" SET "Name" = 'Changed' WHERE "Id" = ?1`, id); err != nil {
		t.Fatal(err)
	}
	after, _ := o.s.QueryInt(context.Background(), `SELECT "SystemModstamp" FROM "Account" WHERE "Id" = ?1`, id)
	lm, _ := o.s.QueryInt(context.Background(), `SELECT "LastModifiedDate" FROM "Account" WHERE "Id" = ?1`, id)
	if after <= before || lm != after {
		t.Fatalf("stamp %d → %d, LastModifiedDate %d", before, after, lm)
	}
}

func TestSessionExpiryAndFaults(t *testing.T) {
	o := newOrg(t, func(op *Options) { op.TokenTTL = time.Hour })
	if st, _, _ := o.do("GET", "limits", ""); st != 200 {
		t.Fatal(st)
	}
	o.s.Faults().Fail(1, 503, "SERVER_UNAVAILABLE")
	if st, _, b := o.do("GET", "limits", ""); st != 503 {
		t.Fatal(st, b)
	}
	o.s.Faults().Drop(1)
	req := o.srv.URL + "/services/data/v61.0/limits"
	_ = req
	o.clock.t = o.clock.t.Add(2 * time.Hour)
	if st, _, b := o.do("GET", "limits", ""); st != 401 || b != `[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]` {
		t.Fatal(st, b)
	}
}

func TestFilesAndBlobs(t *testing.T) {
	o := newOrg(t)
	acc := o.create("Account", `{"Name":"Acme"}`)
	cv := o.create("ContentVersion", `{"Title":"Plan","PathOnClient":"plan.txt","VersionData":"aGVsbG8gd29ybGQ=","FirstPublishLocationId":"`+acc+`"}`)
	st, b := o.query("SELECT ContentDocumentId, LinkedEntityId FROM ContentDocumentLink WHERE LinkedEntityId IN (SELECT Id FROM Account)")
	if st != 200 || !contains(b, acc) {
		t.Fatal(st, b)
	}
	st2, h, body := o.do("GET", "sobjects/ContentVersion/"+cv+"/VersionData", "", "Range", "bytes=6-")
	if st2 != 206 || body != "world" || h.Get("Content-Range") == "" {
		t.Fatal(st2, body)
	}
	att := o.create("Attachment", `{"ParentId":"`+acc+`","Name":"a.txt","Body":"aGk=","ContentType":"text/plain"}`)
	st3, _, body3 := o.do("GET", "sobjects/Attachment/"+att+"/Body", "")
	if st3 != 200 || body3 != "hi" {
		t.Fatal(st3, body3)
	}
	st, b = o.query("SELECT Id, BodyLength, Body FROM Attachment")
	if st != 200 || !contains(b, `"BodyLength":2`) || !contains(b, "/Body\"") {
		t.Fatal(b)
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (func() bool { return stringsIndex(s, sub) >= 0 })()
}
