package store

import (
	"context"
	"fmt"
	"time"
)

// LogEntry is one stored sync log: a few columns to list by, and the whole
// log as JSON (its shape belongs to the engine).
type LogEntry struct {
	ID        int64
	StartedAt time.Time
	EndedAt   time.Time
	Result    string
	JSON      string
}

// AddSyncLog stores a sync log and returns its id.
func (s *Store) AddSyncLog(ctx context.Context, started, ended time.Time, result, log string) (int64, error) {
	var id int64
	err := s.write(ctx, applied, func() error {
		if err := s.exec("INSERT INTO _fs_sync_log (started_at, ended_at, result, log) VALUES (?, ?, ?, ?)",
			started.UnixMicro(), ended.UnixMicro(), result, log); err != nil {
			return err
		}
		id = s.db.LastInsertRowID()
		return nil
	})
	return id, err
}

// SyncLogs lists the newest sync logs first, at most limit (0: all).
func (s *Store) SyncLogs(ctx context.Context, limit int) ([]LogEntry, error) {
	if limit <= 0 {
		limit = -1
	}
	return s.logs(ctx, "1 ORDER BY id DESC LIMIT ?", limit)
}

// SyncLog returns one sync log.
func (s *Store) SyncLog(ctx context.Context, id int64) (*LogEntry, error) {
	out, err := s.logs(ctx, "id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sync log %d", id)
	}
	return &out[0], nil
}

// logs lists the logs matching where, with args bound to its parameters
// (never spliced into the text: each distinct text is a cached statement).
func (s *Store) logs(ctx context.Context, where string, args ...any) ([]LogEntry, error) {
	var out []LogEntry
	err := s.read(ctx, func() error {
		q, err := s.prep("SELECT id, started_at, ended_at, result, log FROM _fs_sync_log WHERE " + where)
		if err != nil {
			return err
		}
		defer q.Reset()
		if err := bindArgs(q, args...); err != nil {
			return err
		}
		for q.Step() {
			out = append(out, LogEntry{
				ID: q.ColumnInt64(0), StartedAt: time.UnixMicro(q.ColumnInt64(1)), EndedAt: time.UnixMicro(q.ColumnInt64(2)),
				Result: q.ColumnText(3), JSON: q.ColumnText(4),
			})
		}
		return q.Err()
	})
	return out, err
}

// Housekeep removes resolved conflicts older than 30 days and all but the
// newest keepLogs sync logs.
func (s *Store) Housekeep(ctx context.Context, keepLogs int) (conflicts, logs int, err error) {
	err = s.write(ctx, applied, func() error {
		cutoff := time.Now().Add(-30 * 24 * time.Hour).UnixMicro()
		if err := s.exec("DELETE FROM _fs_conflict WHERE resolved_at IS NOT NULL AND resolved_at < ?", cutoff); err != nil {
			return err
		}
		conflicts = int(s.db.Changes())
		if err := s.exec("DELETE FROM _fs_sync_log WHERE id NOT IN (SELECT id FROM _fs_sync_log ORDER BY id DESC LIMIT ?)", keepLogs); err != nil {
			return err
		}
		logs = int(s.db.Changes())
		return nil
	})
	return conflicts, logs, err
}
