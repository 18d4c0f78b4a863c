package emulator

import (
	"context"
	"database/sql"
	"net"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// TestTDSReadsTheStore: go-mssqldb, logged in with a Web API token, reads
// the same rows over TDS as the store holds, with Dataverse's column shapes.
func TestTDSReadsTheStore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	s := e.srv
	if err := s.Store().Seed(ctx, SeedOptions{Accounts: 30, ContactsPerAccount: 1, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTDS(l)
	token := e.token
	conn, err := mssql.NewAccessTokenConnector("sqlserver://"+l.Addr().String()+"?database=org&encrypt=disable",
		func() (string, error) { return token, nil })
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()

	want, err := s.Store().QueryInt(ctx, `SELECT count(*) FROM contact WHERE _parentcustomerid_value IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT TOP (1000) contactid, lastname, parentcustomerid, createdon, birthdate FROM contact WHERE parentcustomerid IS NOT NULL ORDER BY contactid`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id, parent mssql.UniqueIdentifier
		var last sql.NullString
		var created, birth sql.NullTime
		if err := rows.Scan(&id, &last, &parent, &created, &birth); err != nil {
			t.Fatal(err)
		}
		if created.Valid && created.Time.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("createdon %v", created.Time)
		}
		if birth.Valid && (birth.Time.Hour() != 0 || birth.Time.Minute() != 0 || birth.Time.Year() < 1900) {
			t.Errorf("birthdate (date-only) %v is not a day at midnight", birth.Time)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if int64(n) != want || n == 0 {
		t.Errorf("TDS returned %d contacts with a parent, the store holds %d", n, want)
	}

	var revenue sql.NullString
	var acc mssql.UniqueIdentifier
	if err := db.QueryRowContext(ctx, `SELECT TOP (1) accountid, revenue FROM account WHERE revenue > @p1 ORDER BY accountid`, 10.5).Scan(&acc, &revenue); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Store().QueryInt(ctx, `SELECT revenue FROM account WHERE accountid = ?1`, strings.ToLower(acc.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := moneyUnits(revenue.String); got != stored {
		t.Errorf("revenue over TDS %q, stored %d ten-thousandths", revenue.String, stored)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM account`); err == nil {
		t.Error("DML over TDS was accepted")
	}
}
