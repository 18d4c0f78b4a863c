package dataverse

import (
	"os"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func loadTestModel(t testing.TB) *model {
	t.Helper()
	f, err := os.Open("testdata/metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := parseMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseMetadata(t *testing.T) {
	m := loadTestModel(t)
	tests := []struct {
		entity, field string
		typ           sdk.FieldType
		target        string
		readOnly      bool
		maxLength     int
		choices       int
	}{
		{"account", "name", sdk.TypeString, "", false, 160, 0},
		{"account", "numberofemployees", sdk.TypeInt, "", false, 0, 0},
		{"account", "revenue", sdk.TypeDecimal, "", false, 0, 0},
		{"account", "donotemail", sdk.TypeBool, "", false, 0, 0},
		{"account", "industrycode", sdk.TypeChoice, "", false, 0, 0},
		{"account", "statecode", sdk.TypeChoice, "", false, 0, 2},
		{"account", "createdon", sdk.TypeDateTime, "", true, 0, 0},
		{"account", "versionnumber", sdk.TypeInt, "", true, 0, 0},
		{"account", "parentaccountid", sdk.TypeLookup, "account", false, 0, 0},
		{"contact", "birthdate", sdk.TypeDateTime, "", false, 0, 0},
		{"contact", "fullname", sdk.TypeString, "", true, 0, 0},
		{"contact", "parentcustomerid", sdk.TypeLookup, "account", false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.entity+"."+tc.field, func(t *testing.T) {
			e := m.schema.Entity(tc.entity)
			if e == nil {
				t.Fatalf("no entity %q", tc.entity)
			}
			f := e.Field(tc.field)
			if f == nil {
				t.Fatalf("no field %q in %v", tc.field, e.FieldNames())
			}
			if f.Type != tc.typ || f.Target != tc.target || f.ReadOnly != tc.readOnly || f.MaxLength != tc.maxLength || len(f.Choices) != tc.choices {
				t.Errorf("got %+v", *f)
			}
		})
	}
	caps := map[string]sdk.EntityCapabilities{}
	for _, e := range m.schema.Entities {
		caps[e.Name] = e.Capabilities
	}
	if !caps["account"].Incremental || !caps["account"].TracksDeletes {
		t.Errorf("account (annotated entity set) is not incremental: %+v", caps["account"])
	}
	if !caps["contact"].Incremental {
		t.Errorf("contact (annotated through an Annotations block) is not incremental: %+v", caps["contact"])
	}
	if caps["businessunit"].Incremental {
		t.Errorf("businessunit (no change tracking) says incremental")
	}
	if m.byName["account"].set != "accounts" || m.byName["account"].pk != "accountid" {
		t.Errorf("account set/key: %q %q", m.byName["account"].set, m.byName["account"].pk)
	}
	if got := m.nav("contact", "parentcustomerid"); got != "parentcustomerid_account" {
		t.Errorf("nav of contact.parentcustomerid = %q", got)
	}
	if got := m.byName["contact"].byName["parentcustomerid"].json; got != "_parentcustomerid_value" {
		t.Errorf("json name of a lookup = %q", got)
	}
	if len(m.schema.Entity("account").Relations) != 1 {
		t.Errorf("account relations: %+v", m.schema.Entity("account").Relations)
	}
}

func TestParseMetadataRefusesGarbage(t *testing.T) {
	for _, in := range []string{"", "{}", "<edmx:Edmx><unclosed>"} {
		if _, err := parseMetadata(strings.NewReader(in)); err == nil && in != "" {
			t.Errorf("parseMetadata(%q) succeeded", in)
		} else if err != nil && sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("parseMetadata(%q): kind %s", in, sdk.KindOf(err))
		}
	}
}
