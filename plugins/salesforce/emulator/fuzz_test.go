package emulator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"
)

// FuzzSOQL feeds arbitrary SOQL to the query endpoint: a bad query is a
// 400 with an error array, never a panic or a 500.
func FuzzSOQL(f *testing.F) {
	for _, s := range []string{
		"SELECT Id FROM Account",
		"SELECT Id, Name, Owner.Name FROM Account WHERE Name LIKE 'a%' AND (NumberOfEmployees > 5 OR Industry IN ('Media')) ORDER BY Name DESC NULLS LAST LIMIT 5 OFFSET 1",
		"SELECT COUNT() FROM Contact WHERE Birthdate < 2000-01-01 AND CreatedDate = LAST_N_DAYS:3",
		"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId IN (SELECT Id FROM Account WHERE IsDeleted = false)",
		"SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01T00:00:00.000+01:00 AND Name != 'x\\'y\\\\z\\n'",
		"SELECT Id FROM Account WHERE NOT (Name = null)",
	} {
		f.Add(s)
	}
	s, err := New(Options{Path: filepath.Join(f.TempDir(), "fuzz.db"), Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := s.Seed(context.Background(), SeedOptions{Accounts: 20, ContactsPerAccount: 1, DocumentsPerAccount: 1, Seed: 3}); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", "/services/oauth2/token", nil))
	s.mu.Lock()
	s.sessions["fuzz"] = &session{username: DefaultUsername, userID: defaultUserID, expires: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.mu.Unlock()
	s.SetDailyLimit(1 << 40)
	s.queryTimeout = 2 * time.Second
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4096 {
			// Long inputs only repeat short ones' paths, slowly.
			return
		}
		for _, res := range []string{"query", "queryAll"} {
			req := httptest.NewRequest("GET", "/services/data/v61.0/"+res+"?q="+url.QueryEscape(q), nil)
			req.Header.Set("Authorization", "Bearer fuzz")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("%q: HTTP %d %s", q, w.Code, w.Body.String())
			}
			if w.Code == 400 && (w.Body.Len() == 0 || w.Body.Bytes()[0] != '[') {
				t.Fatalf("%q: 400 without an error array: %s", q, w.Body.String())
			}
		}
	})
}
