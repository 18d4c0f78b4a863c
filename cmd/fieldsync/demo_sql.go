package main

import (
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// sqlFile is a plain SQLite connection to a device's store or the mock
// server's file: what a host app, or an admin with the sqlite3 shell, would
// use. The demo makes its edits and reads its checks through it, so they
// go through no fieldsync code at all: the store's triggers and the mock's
// change tracking must notice them on their own.
type sqlFile struct {
	path string
	db   *sqlite3.Conn
}

func openSQL(path string) (*sqlFile, error) {
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// The engine or a plugin may hold the write lock for a moment.
	if err := db.BusyTimeout(10 * time.Second); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sqlFile{path: path, db: db}, nil
}

func (f *sqlFile) Close() error { return f.db.Close() }

// query runs one statement with args bound and returns its first row as
// text (NULL reads as ""), or nil when there is no row. Statements with
// RETURNING use it too.
func (f *sqlFile) query(sql string, args ...any) ([]string, error) {
	st, _, err := f.db.Prepare(sql)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	defer st.Close()
	for i, a := range args {
		switch v := a.(type) {
		case string:
			err = st.BindText(i+1, v)
		case int:
			err = st.BindInt64(i+1, int64(v))
		case int64:
			err = st.BindInt64(i+1, v)
		default:
			err = fmt.Errorf("cannot bind %T", a)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	var row []string
	if st.Step() {
		row = make([]string, st.ColumnCount())
		for i := range row {
			row[i] = st.ColumnText(i)
		}
		for st.Step() { // finish the statement (RETURNING, writes)
		}
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return row, nil
}

// exec runs a statement that returns nothing.
func (f *sqlFile) exec(sql string, args ...any) error {
	_, err := f.query(sql, args...)
	return err
}

// value returns the first column of the first row ("" when none).
func (f *sqlFile) value(sql string, args ...any) (string, error) {
	row, err := f.query(sql, args...)
	if err != nil || len(row) == 0 {
		return "", err
	}
	return row[0], nil
}
