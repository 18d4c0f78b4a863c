package store

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// assetRow is an asset row with a value in every field.
func assetRow(id, version, label string, photo []byte, seen int64) row {
	return row{id, version, []sdk.Value{
		sdk.String(label), sdk.Int(-42), sdk.String("12.50"), sdk.Float(2.5), sdk.Bool(true),
		sdk.Int(seen), sdk.String("0b6f0d36-7d2b-4c4e-9e43-1c0e6b9a0c11"), sdk.String("a1"), sdk.Int(3), sdk.Bytes(photo),
	}}
}

func assetValues(r row) map[string]sdk.Value {
	m := map[string]sdk.Value{}
	for i, f := range assetEnt.Fields {
		m[f.Name] = r.vals[i]
	}
	return m
}

func TestEveryTypeRoundTrips(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, assetEnt, nil)
	if _, err := s.BeginFull(bg, "asset"); err != nil {
		t.Fatal(err)
	}
	full := assetRow("x1", "v1", "full", []byte{0, 1, 0xfe}, time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC).UnixMicro())
	nulls := row{"x2", "v1", make([]sdk.Value, len(assetEnt.Fields))}
	empty := assetRow("x3", "v1", "", []byte{}, 0)
	old := assetRow("x4", "v1", "before 1970", []byte{7}, time.Date(1901, 2, 3, 4, 5, 6, 7000, time.UTC).UnixMicro())
	nilBytes := assetRow("x5", "v1", "nil bytes", nil, 0) // sdk.Bytes(nil) is an empty value, not null
	apply(t, s, "asset", pageOf(assetEnt, nil, []row{full, nulls, empty, old, nilBytes}, last("t")), nil)
	for _, r := range []row{full, nulls, old} {
		got := getRow(t, s, "asset", r.id)
		wantValues(t, r.id, got.Values, assetValues(r))
	}
	// An empty blob is not null.
	for _, id := range []string{"x3", "x5"} {
		if got := getRow(t, s, "asset", id); got.Values["photo"].IsNull() || len(got.Values["photo"].Bytes()) != 0 {
			t.Errorf("%s: empty photo read as %v", id, got.Values["photo"])
		}
	}

	// The host sees plain SQL types; datetimes as ISO text.
	h := openHost(t, path)
	if got := h.text("SELECT seen FROM asset WHERE assetid = 'x1'"); got != "2026-11-26T10:00:00.123456Z" {
		t.Errorf("seen stored as %q", got)
	}
	if got := h.text("SELECT typeof(active) || typeof(count) || typeof(weight) || typeof(photo) FROM asset WHERE assetid = 'x1'"); got != "integerintegerrealblob" {
		t.Errorf("storage classes %q", got)
	}
	if got := h.text("SELECT count(*) FROM asset WHERE seen > '2026-01-01'"); got != "1" {
		t.Errorf("datetimes do not compare as text: %s", got)
	}

	// Values a host app writes read back typed, and the base of an
	// update holds every type (null binary stays null).
	h.exec(`INSERT INTO asset (assetid, label, count, price, weight, active, seen, tag, owner, kind, photo)
		VALUES ('h1', 'host', 7, '1.10', 0.25, 1, '2026-01-02 03:04:05', 'g', 'a1', 2, x'cafe')`)
	h.exec("UPDATE asset SET label = 'edited', photo = x'00' WHERE assetid = 'x1'")
	h.exec("UPDATE asset SET label = 'edited' WHERE assetid = 'x2'")
	out := outbox(t, s)
	if len(out) != 3 {
		t.Fatalf("outbox %+v", out)
	}
	if err := s.LoadValues(bg, out); err != nil {
		t.Fatal(err)
	}
	wantValues(t, "h1", out[0].Values, vals("label", "host", "count", 7, "price", "1.10", "weight", sdk.Float(0.25),
		"active", sdk.Bool(true), "seen", sdk.Int(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()),
		"tag", "g", "owner", "a1", "kind", 2, "photo", sdk.Bytes([]byte{0xca, 0xfe})))
	wantValues(t, "base of x1", out[1].Base, assetValues(full))
	if !sameStrings(out[1].Fields, []string{"label", "photo"}) {
		t.Errorf("fields %v", out[1].Fields)
	}
	wantValues(t, "base of x2", out[2].Base, assetValues(nulls))
}

func TestDateTimesFromHostApps(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, assetEnt, nil)
	h := openHost(t, path)
	tests := []struct {
		text string
		want time.Time
	}{
		{"2026-03-04T05:06:07.123456Z", time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)},
		{"2026-03-04T05:06:07Z", time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)},
		{"2026-03-04T05:06:07.5+02:00", time.Date(2026, 3, 4, 3, 6, 7, 500000000, time.UTC)},
		{"2026-03-04T05:06:07-05:30", time.Date(2026, 3, 4, 10, 36, 7, 0, time.UTC)},
		{"2026-03-04T05:06:07.123", time.Date(2026, 3, 4, 5, 6, 7, 123000000, time.UTC)},
		{"2026-03-04 05:06:07", time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)},             // SQLite's datetime()
		{"2026-03-04 05:06:07.250", time.Date(2026, 3, 4, 5, 6, 7, 250000000, time.UTC)}, // SQLite's %f
		{"2026-03-04 05:06:07Z", time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)},
		{"2026-03-04 05:06:07+01:00", time.Date(2026, 3, 4, 4, 6, 7, 0, time.UTC)},
		{"2026-03-04T05:06", time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)}, // HTML datetime-local
		{"2026-03-04 05:06", time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)},
		{"2026-03-04T05:06Z", time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)},
		{"2026-03-04", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			h.exec("DELETE FROM asset; INSERT INTO asset (assetid, seen) VALUES ('d1', '" + tt.text + "')")
			r := getRow(t, s, "asset", "d1")
			if got := r.Values["seen"]; got.Kind() != sdk.KindInt || !got.Time().Equal(tt.want) {
				t.Errorf("%q read as %v (%v), want %v", tt.text, got.Time(), got, tt.want)
			}
		})
	}
	// SQLite's own functions agree with what the store wrote.
	h.exec("DELETE FROM asset; INSERT INTO asset (assetid, seen) VALUES ('d2', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
	if r := getRow(t, s, "asset", "d2"); time.Since(r.Values["seen"].Time()) > time.Minute {
		t.Errorf("now read as %v", r.Values["seen"].Time())
	}
}

func TestBadValuesFromHostApps(t *testing.T) {
	tests := []struct {
		name, set string
	}{
		{"garbage datetime", "seen = 'next tuesday'"},
		{"datetime out of range", "seen = '2026-13-45T99:00:00Z'"},
		{"text in an integer field", "count = 'many'"},
		{"real in an integer field", "count = 1.5"},
		{"text in a float field", "weight = 'heavy'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			ensure(t, s, assetEnt, nil)
			h := openHost(t, path)
			h.exec("INSERT INTO asset (assetid) VALUES ('b1')")
			h.exec("UPDATE asset SET " + tt.set)
			if _, err := s.Row(bg, "asset", "b1"); err == nil {
				t.Error("Row: no error")
			}
			out := outbox(t, s)
			if len(out) != 1 {
				t.Fatalf("outbox %+v", out)
			}
			if err := s.LoadValues(bg, out); err == nil {
				t.Error("LoadValues: no error")
			}
		})
	}
	// Text that is a number is taken as one.
	s, path := openStore(t)
	ensure(t, s, assetEnt, nil)
	openHost(t, path).exec("INSERT INTO asset (assetid, weight) VALUES ('n1', '2.75')")
	if r := getRow(t, s, "asset", "n1"); r.Values["weight"].Float() != 2.75 {
		t.Errorf("weight %v", r.Values["weight"])
	}
}

func TestValuesJSONRoundTrip(t *testing.T) {
	r := assetRow("x", "v", "label \"quoted\" ü", []byte{0, 0xff, 10}, time.Date(2026, 1, 1, 0, 0, 0, 1000, time.UTC).UnixMicro())
	in := assetValues(r)
	in["weight"] = sdk.Float(math.MaxFloat64)
	in["count"] = sdk.Int(math.MinInt64)
	in["tag"] = sdk.Null()
	for _, hexBinary := range []bool{true, false} {
		text, err := valuesToJSON(&assetEnt, in, hexBinary)
		if err != nil {
			t.Fatal(err)
		}
		out, err := valuesFromJSON(&assetEnt, text, hexBinary)
		if err != nil {
			t.Fatalf("valuesFromJSON(%s): %v", text, err)
		}
		wantValues(t, "round trip", out, in)
	}
	// NaN and infinities have no JSON form: they are stored as null.
	text, err := valuesToJSON(&assetEnt, vals("weight", sdk.Float(math.NaN())), false)
	if err != nil || text != `{"weight":null}` {
		t.Errorf("NaN: %s %v", text, err)
	}
	// Fields the entity no longer has are dropped; "" means no record.
	if out, err := valuesFromJSON(&assetEnt, `{"gone": 1, "label": "x"}`, false); err != nil || len(out) != 1 {
		t.Errorf("unknown field: %v %v", out, err)
	}
	if out, err := valuesFromJSON(&assetEnt, "", false); err != nil || out != nil {
		t.Errorf("empty: %v %v", out, err)
	}
}

// FuzzValuesFromJSON feeds arbitrary text to the decoder of stored records
// (outbox bases, conflict tables: a host app can write anything there). It
// must never panic, and what it accepts must encode and decode again to the
// same values.
func FuzzValuesFromJSON(f *testing.F) {
	seeds := []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"label": null}`,
		`{"label": "a", "count": 1, "price": "1.5", "weight": 2.5, "active": true, "seen": "2026-01-02T03:04:05.123456Z",
		  "tag": "g", "owner": "o", "kind": 2, "photo": "00ff"}`,
		`{"photo": "AP8="}`, `{"active": 1}`, `{"active": 2.5}`, `{"count": 1e3}`, `{"count": "12"}`,
		`{"count": 99999999999999999999}`, `{"weight": 1e999}`, `{"seen": 1700000000000000}`, `{"seen": "garbage"}`,
		`{"seen": "0000-01-01T00:00:00+23:59"}`, `{"seen": 9223372036854775807}`, `{"label": {"nested": [1, 2]}}`,
		`{"label": 12}`, `{"photo": 12}`, `{"photo": "zz"}`, `{"label": "\ud800"}`, `{"label": "a", "label": "b"}`,
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, hexBinary bool) {
		got, err := valuesFromJSON(&assetEnt, text, hexBinary)
		if err != nil {
			return
		}
		for name, v := range got {
			fd := assetEnt.Field(name)
			if fd == nil {
				t.Fatalf("decoded a field the entity does not have: %s", name)
			}
			if err := v.CheckType(fd.Type); err != nil {
				t.Fatalf("decoded %s as %v: %v", name, v, err)
			}
		}
		again, err := valuesToJSON(&assetEnt, got, hexBinary)
		if err != nil {
			t.Fatalf("valuesToJSON of decoded values: %v", err)
		}
		if got == nil {
			return
		}
		// Datetimes outside years 0-9999 have no ISO 8601 text form, and
		// JSON has none for text that is not UTF-8 (a raw non-string value
		// kept as a text field's value may be).
		if v, ok := got["seen"]; ok && !v.IsNull() {
			if y := v.Time().Year(); y < 0 || y > 9999 {
				return
			}
		}
		for _, v := range got {
			if v.Kind() == sdk.KindString && !utf8.ValidString(v.Str()) {
				return
			}
		}
		back, err := valuesFromJSON(&assetEnt, again, hexBinary)
		if err != nil {
			t.Fatalf("re-decoding %s (from %q): %v", again, text, err)
		}
		if len(back) != len(got) {
			t.Fatalf("re-decoded %v, first %v", back, got)
		}
		for k, v := range got {
			if !back[k].Equal(v) {
				t.Fatalf("%s: %v became %v (via %s)", k, v, back[k], again)
			}
		}
		if !json.Valid([]byte(again)) || strings.Contains(again, "NaN") {
			t.Fatalf("invalid JSON %s", again)
		}
	})
}
