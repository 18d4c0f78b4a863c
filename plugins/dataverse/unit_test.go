package dataverse

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestConcurrencyBounded(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		w.Write([]byte(`{"value":[]}`))
	}))
	defer srv.Close()
	c, err := New(context.Background(), Options{URL: srv.URL, MaxConcurrency: 3,
		TokenSource: func(context.Context) (string, error) { return "t", nil }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.http.do(context.Background(), request{Method: "GET", URL: "accounts", What: "test"})
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d with max_concurrency 3", p)
	}
	if req, _, _ := c.http.usage(); req != 12 {
		t.Errorf("counted %d requests, want 12", req)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name, v string
		want    time.Duration
	}{
		{"seconds", "3", 3 * time.Second},
		{"absent", "", time.Second},
		{"garbage", "soon", time.Second},
		{"fraction", "0.5", 500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.v != "" {
				h.Set("Retry-After", tc.v)
			}
			if got := retryAfter(h, time.Second); got != tc.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

func TestValuesRoundTrip(t *testing.T) {
	m := loadTestModel(t)
	acc, con := m.byName["account"], m.byName["contact"]
	tests := []struct {
		name  string
		f     *field
		v     sdk.Value
		wire  string
		back  sdk.Value // what reading wire gives; zero: v
		write bool      // false: encodeValue refuses v
	}{
		{"string", acc.byName["name"], sdk.String("Ünïcode \"q\""), `"Ünïcode \"q\""`, sdk.Value{}, true},
		{"int", acc.byName["numberofemployees"], sdk.Int(42), `42`, sdk.Value{}, true},
		{"int32 overflow", acc.byName["numberofemployees"], sdk.Int(math.MaxInt32 + 1), ``, sdk.Value{}, false},
		{"decimal", acc.byName["revenue"], sdk.String("-12.50"), `-12.50`, sdk.Value{}, true},
		{"decimal garbage", acc.byName["revenue"], sdk.String("1e5"), ``, sdk.Value{}, false},
		{"bool", acc.byName["donotemail"], sdk.Bool(true), `true`, sdk.Value{}, true},
		{"datetime", acc.byName["createdon"], sdk.Time(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)), `"2025-01-02T03:04:05Z"`, sdk.Value{}, true},
		{"date", con.byName["birthdate"], sdk.Time(time.Date(1990, 5, 6, 0, 0, 0, 0, time.UTC)), `"1990-05-06"`, sdk.Value{}, true},
		{"date not midnight", con.byName["birthdate"], sdk.Time(time.Date(1990, 5, 6, 1, 0, 0, 0, time.UTC)), ``, sdk.Value{}, false},
		{"lookup upper", acc.byName["parentaccountid"], sdk.String("AAAAAAAA-0000-0000-0000-000000000001"), `"aaaaaaaa-0000-0000-0000-000000000001"`, sdk.String("aaaaaaaa-0000-0000-0000-000000000001"), true},
		{"lookup not a guid", acc.byName["parentaccountid"], sdk.String("x"), ``, sdk.Value{}, false},
		{"wrong kind", acc.byName["name"], sdk.Int(1), ``, sdk.Value{}, false},
		{"null", acc.byName["name"], sdk.Null(), `null`, sdk.Value{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := encodeValue(tc.f, tc.v)
			if !tc.write {
				if err == nil {
					t.Fatalf("encodeValue(%v) = %s, want a refusal", tc.v, raw)
				}
				return
			}
			if err != nil || string(raw) != tc.wire {
				t.Fatalf("encodeValue(%v) = %s, %v; want %s", tc.v, raw, err, tc.wire)
			}
			dec := newDecoder(strings.NewReader(tc.wire))
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeValue(tc.f, tok)
			want := tc.back
			if want.IsNull() && !tc.v.IsNull() {
				want = tc.v
			}
			if err != nil || !got.Equal(want) {
				t.Errorf("decodeValue(%s) = %v, %v; want %v", tc.wire, got, err, want)
			}
		})
	}
	// Exponent forms from a server become plain decimals.
	got, err := decodeValue(acc.byName["revenue"], json.Number("1.5E+3"))
	if err != nil || got.Str() != "1500" {
		t.Errorf("decimal 1.5E+3 read as %v, %v", got, err)
	}
}

func TestLocalFilter(t *testing.T) {
	m := loadTestModel(t)
	e := m.byName["account"]
	row := func(name string, n int64) map[string]sdk.Value {
		r := map[string]sdk.Value{"numberofemployees": sdk.Int(n)}
		if name != "" {
			r["name"] = sdk.String(name)
		} else {
			r["name"] = sdk.Null()
		}
		return r
	}
	tests := []struct {
		name   string
		f      *sdk.Filter
		server string
		yes    []map[string]sdk.Value
		no     []map[string]sdk.Value
	}{
		{"inner wildcard", sdk.Cmp("name", sdk.OpLike, sdk.String("%ba_an%")), "contains(name,'ba')",
			[]map[string]sdk.Value{row("Banana", 1), row("xBAxANy", 1)}, []map[string]sdk.Value{row("bnan", 1), row("", 1)}},
		{"under not", sdk.Not(sdk.Cmp("name", sdk.OpLike, sdk.String("a_c"))), "",
			[]map[string]sdk.Value{row("abd", 1), row("", 1)}, []map[string]sdk.Value{row("ABC", 1)}},
		{"and with exact part", sdk.And(sdk.Cmp("name", sdk.OpLike, sdk.String("a_c%")), sdk.Cmp("numberofemployees", sdk.OpGt, sdk.Int(5))), "contains(name,'a') and numberofemployees gt 5",
			[]map[string]sdk.Value{row("abcd", 6)}, []map[string]sdk.Value{row("abcd", 5), row("xbc", 9)}},
		{"or with exact part", sdk.Or(sdk.Cmp("name", sdk.OpLike, sdk.String("_")), sdk.Cmp("numberofemployees", sdk.OpEq, sdk.Int(5))), "",
			[]map[string]sdk.Value{row("x", 1), row("long", 5)}, []map[string]sdk.Value{row("xy", 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp, err := widen(tc.f, m, e, errTest)
			if err != nil {
				t.Fatal(err)
			}
			if lp.server != tc.server {
				t.Errorf("server filter %q, want %q", lp.server, tc.server)
			}
			for _, r := range tc.yes {
				if !matches(tc.f, e, r) {
					t.Errorf("%v does not match", r)
				}
			}
			for _, r := range tc.no {
				if matches(tc.f, e, r) {
					t.Errorf("%v matches", r)
				}
			}
		})
	}
	// A link cannot be checked on a row: the refusal stands.
	link := sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpLike, sdk.String("a_c")))
	if _, err := widen(link, m, e, errTest); err != errTest {
		t.Errorf("widen of a link: %v, want the refusal", err)
	}
}

var errTest = sdk.Errorf(sdk.Permanent, "refused")

func TestTokensAndCursors(t *testing.T) {
	tok := changeToken{Entity: "account", Sig: "s1", Mode: modePlain, Link: "accounts?$deltatoken=1"}.encode()
	if _, err := decodeToken(tok, "account", "s1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		b           []byte
		entity, sig string
	}{
		{"garbage", []byte("\x00not a token"), "account", "s1"},
		{"other entity", tok, "contact", "s1"},
		{"other selection", tok, "account", "s2"},
		{"no delta link", changeToken{Entity: "account", Sig: "s1", Mode: modeNone}.encode(), "account", "s1"},
		{"cursor as token", cursor{Entity: "account", Sig: "s1", Phase: phaseFull, URL: "x"}.encode(), "account", "s1"},
	} {
		if _, err := decodeToken(tc.b, tc.entity, tc.sig); sdk.KindOf(err) != sdk.TokenExpired {
			t.Errorf("%s: %v, want TokenExpired", tc.name, err)
		}
	}
	cur := cursor{Entity: "account", Sig: "s1", Phase: phaseDelta, URL: "accounts?$skiptoken=2", Skip: 3}.encode()
	if got, err := decodeCursor(cur, "account", "s1"); err != nil || got.Skip != 3 {
		t.Errorf("cursor round trip: %+v %v", got, err)
	}
	for _, b := range [][]byte{tok, []byte("dv\x01c{}"), []byte("dv\x01c{\"e\":\"account\",\"s\":\"s1\",\"p\":\"zzz\"}")} {
		if _, err := decodeCursor(b, "account", "s1"); sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("cursor %q: %v, want Permanent", b, err)
		}
	}
}

func TestResolveRefusesForeignLinks(t *testing.T) {
	c, err := New(context.Background(), Options{URL: "https://org.crm.dynamics.com", TokenSource: func(context.Context) (string, error) { return "t", nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"https://evil.example/api/data/v9.2/accounts", "http://org.crm.dynamics.com/api/data/v9.2/accounts", "/other/path", "../../x"} {
		if _, err := c.http.resolve(link); err == nil {
			t.Errorf("resolve(%q) accepted a link outside the API", link)
		}
	}
	if rel, err := c.http.relative("https://org.crm.dynamics.com/api/data/v9.2/accounts?$skiptoken=a%20b"); err != nil || rel != "accounts?$skiptoken=a%20b" {
		t.Errorf("relative = %q, %v", rel, err)
	}
}
