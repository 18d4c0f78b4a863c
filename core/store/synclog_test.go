package store

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSyncLogs(t *testing.T) {
	s, path := openStore(t)
	start := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	var ids []int64
	for i := 0; i < 4; i++ {
		id, err := s.AddSyncLog(bg, start.Add(time.Duration(i)*time.Hour), start.Add(time.Duration(i)*time.Hour+time.Second),
			[]string{"ok", "failed", "ok", "partial"}[i], fmt.Sprintf(`{"n":%d}`, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	tests := []struct {
		limit int
		want  string
	}{
		{0, "3,2,1,0"},
		{-1, "3,2,1,0"},
		{2, "3,2"},
		{10, "3,2,1,0"},
	}
	for _, tt := range tests {
		logs, err := s.SyncLogs(bg, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range logs {
			got = append(got, strings.TrimSuffix(strings.TrimPrefix(l.JSON, `{"n":`), "}"))
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("SyncLogs(%d) = %v, want %s", tt.limit, got, tt.want)
		}
	}
	l, err := s.SyncLog(bg, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != ids[1] || l.Result != "failed" || l.JSON != `{"n":1}` ||
		!l.StartedAt.Equal(start.Add(time.Hour)) || !l.EndedAt.Equal(start.Add(time.Hour+time.Second)) {
		t.Errorf("SyncLog = %+v", l)
	}
	if _, err := s.SyncLog(bg, 999); err == nil {
		t.Error("SyncLog of an unknown id")
	}
	// Logs are read offline, by another process too.
	s.Close()
	s2 := reopen(t, path)
	if logs, err := s2.SyncLogs(bg, 1); err != nil || len(logs) != 1 || logs[0].ID != ids[3] {
		t.Errorf("after reopen: %v %+v", err, logs)
	}
	// Housekeeping keeps the newest logs.
	_, n, err := s2.Housekeep(bg, 3)
	if err != nil || n != 1 {
		t.Errorf("Housekeep: removed %d logs, %v", n, err)
	}
	if logs, _ := s2.SyncLogs(bg, 0); len(logs) != 3 || logs[2].ID != ids[1] {
		t.Errorf("after housekeeping %+v", logs)
	}
}

// Looking logs and conflicts up by id must not grow the statement cache by
// one statement per id.
func TestLookupsReuseStatements(t *testing.T) {
	s, _ := openStore(t)
	for i := 0; i < 3; i++ {
		if _, err := s.AddSyncLog(bg, time.Now(), time.Now(), "ok", "{}"); err != nil {
			t.Fatal(err)
		}
	}
	for i := int64(1); i <= 3; i++ {
		if _, err := s.SyncLog(bg, i); err != nil {
			t.Fatal(err)
		}
		s.ConflictByID(bg, i)
		s.SyncLogs(bg, int(i))
	}
	before := len(s.stmts)
	for i := int64(1); i <= 50; i++ {
		s.SyncLog(bg, i)
		s.ConflictByID(bg, i)
		s.SyncLogs(bg, int(i))
	}
	if after := len(s.stmts); after != before {
		t.Errorf("statement cache grew from %d to %d", before, after)
	}
}
