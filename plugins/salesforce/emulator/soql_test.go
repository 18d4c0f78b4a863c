package emulator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSOQLTranslate(t *testing.T) {
	sc := newSchema(true)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		q, code, where string
	}{
		{q: "SELECT Id FROM Account", where: `t."IsDeleted" = 0`},
		{q: "select id, name from account where name = 'O\\'Brien' and NumberOfEmployees >= 10", where: `(t."Name" = ?1 AND t."NumberOfEmployees" >= ?2)`},
		{q: "SELECT Id FROM Account WHERE Name != null OR (Industry IN ('Media','Retail') AND NOT Phone LIKE '555%')", where: `t."Name" IS NOT NULL OR`},
		{q: "SELECT Id FROM Contact WHERE Account.Name LIKE 'a\\_b%' AND Birthdate < 2000-01-01", where: `t_AccountId."Name" LIKE ?1 ESCAPE`},
		{q: "SELECT Id FROM Account WHERE SystemModstamp >= 2026-01-01T00:00:00.000Z AND CreatedDate = LAST_N_DAYS:7", where: `t."SystemModstamp" >= ?1`},
		{q: "SELECT Id FROM Opportunity WHERE CloseDate = NEXT_N_DAYS:30 AND Amount > -1.5", where: `t."CloseDate" >= ?1`},
		{q: "SELECT Id FROM Account WHERE Id NOT IN ('001000000000001AAA')", where: `t."Id" IS NULL OR`},
		{q: "SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId IN (SELECT Id FROM Account WHERE Name = 'x')", where: `IN (SELECT s1."Id" FROM "Account" s1`},
		{q: "SELECT COUNT() FROM Contact", where: `IsDeleted`},
		{q: "SELECT Id FROM Account ORDER BY Name DESC NULLS LAST, Id LIMIT 10 OFFSET 2000", where: `IsDeleted`},
		{q: "SELECT Id FROM Nope", code: "INVALID_TYPE"},
		{q: "SELECT Nope FROM Account", code: "INVALID_FIELD"},
		{q: "SELECT Foo.Name FROM Contact", code: "INVALID_FIELD"},
		{q: "SELECT Id FROM Account WHERE Name = 5", code: "INVALID_FIELD"},
		{q: "SELECT Id FROM Account WHERE NumberOfEmployees = '5'", code: "INVALID_FIELD"},
		{q: "SELECT Id FROM Account WHERE CreatedDate = 2026-01-01", code: "INVALID_FIELD"},
		{q: "SELECT Id FROM Account WHERE Id = 'abc'", code: "INVALID_QUERY_FILTER_OPERATOR"},
		{q: "SELECT Id FROM Account OFFSET 2001", code: "NUMBER_OUTSIDE_VALID_RANGE"},
		{q: "SELECT Id, Id FROM Account", code: "MALFORMED_QUERY"},
		{q: "SELECT FROM Account", code: "MALFORMED_QUERY"},
		{q: "SELECT Id FROM Account WHERE", code: "MALFORMED_QUERY"},
		{q: "SELECT Id FROM Account WHERE Name = 'unterminated", code: "MALFORMED_QUERY"},
		{q: "SELECT Id FROM Account WHERE Name = 'bad \\q escape'", code: "MALFORMED_QUERY"},
		{q: "SELECT Id FROM Account GROUP BY Name", code: "MALFORMED_QUERY"},
		{q: "SELECT Id FROM Account WHERE Name IN ()", code: "MALFORMED_QUERY"},
		{q: "SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS", code: "MALFORMED_QUERY"},
	}
	for _, tc := range tests {
		q, err := parseSOQL(tc.q)
		var c *compiled
		if err == nil {
			c, err = compile(sc, q, false, now)
		}
		if tc.code != "" {
			var se *soqlError
			if !errors.As(err, &se) || se.code != tc.code {
				t.Errorf("%s: got %v, want %s", tc.q, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.q, err)
			continue
		}
		if !strings.Contains(c.where, tc.where) {
			t.Errorf("%s: WHERE %s lacks %s", tc.q, c.where, tc.where)
		}
	}
}

func TestIDChecksum(t *testing.T) {
	// The documented example: 15-character 001A0000006Vm9r → 001A0000006Vm9rIAC.
	if got, ok := normID("001A0000006Vm9r"); !ok || got != "001A0000006Vm9rIAC" {
		t.Fatalf("normID = %q, %v", got, ok)
	}
	if _, ok := normID("001A0000006Vm9rAAA"); ok {
		t.Fatal("a wrong checksum passed")
	}
	id := newID("003")
	if n, ok := normID(id); !ok || n != id {
		t.Fatalf("newID %q does not check", id)
	}
}
