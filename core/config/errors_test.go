package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// head is a valid start of a config; bad configs append their fault to it,
// so their line numbers start at 4.
const head = "store = \"device.db\"\nuser = \"alice\"\nbackend \"mock\" {}\n"

func TestParseBad(t *testing.T) {
	stubHostname(t, "host-1", nil)
	type problem struct {
		line, col int
		text      string
	}
	tests := []struct {
		name string
		src  string
		want []problem // each must appear as "fieldsync.hcl:line,col: …text…"
	}{
		{"syntax error", head + "entity \"a\" {\n  conflict = \n}\n",
			[]problem{{5, 14, "Invalid expression"}}},
		{"unterminated block", head + "sync {\n", []problem{{4, 6, "Unclosed configuration block"}}},
		{"unknown attribute", head + "colour = \"red\"\n", []problem{{4, 1, `An argument named "colour" is not expected here`}}},
		{"unknown attribute in a block", head + "entity \"a\" {\n  conflct = \"merge\"\n}\n",
			[]problem{{5, 3, `An argument named "conflct" is not expected here. Did you mean "conflict"?`}}},
		{"unknown block", head + "filter \"a\" {}\n", []problem{{4, 1, `Blocks of type "filter" are not expected here`}}},
		{"entity without a name", head + "entity {}\n", []problem{{4, 8, "Missing name for entity"}}},
		{"two sync blocks", head + "sync {}\nsync {}\n", []problem{{5, 1, "Duplicate sync block"}}},
		{"empty file", "", []problem{
			{1, 1, `"store" is required`},
			{1, 1, `"user" is required`},
			{1, 1, "a backend block is required"},
		}},
		{"null user", "store = \"s\"\nuser = null\nbackend \"m\" {}\n", []problem{{2, 1, `"user" is required`}}},
		{"blank store", "store = \"  \"\nuser = \"u\"\nbackend \"m\" {}\n", []problem{{1, 1, "store: must not be empty"}}},
		{"list for a string", "store = [\"a\"]\nuser = \"u\"\nbackend \"m\" {}\n",
			[]problem{{1, 1, "store: want a string, got list"}}},
		{"variables", head + "app_version = var.version\n", []problem{{4, 15, "app_version: only a literal value is allowed here"}}},
		{"functions", head + "device = lower(\"X\")\n", []problem{{4, 10, "device: only a literal value is allowed here"}}},
		{"operators", head + "sync {\n  page_size = 10 * 100\n}\n", []problem{{5, 15, "sync: page_size: only a literal value is allowed here"}}},
		{"template", head + "entity \"a\" {\n  fields = [\"x\", { k = \"a${1e9999999}\" }]\n}\n",
			[]problem{{5, 28, `entity "a": fields: only a literal value is allowed here; the config has no variables, functions, operators or "${...}" templates`}}},
		{"for expression", head + "entity \"a\" {\n  fields = [for f in [\"a\"]: f]\n}\n",
			[]problem{{5, 12, `entity "a": fields: only a literal value is allowed here`}}},
		{"huge number as a string", "store = 1e9999999\nuser = \"u\"\nbackend \"m\" {}\n",
			[]problem{{1, 1, "store: want a string, got number"}}},
		{"two backends", head + "backend \"other\" {}\n",
			[]problem{{4, 1, `backend "other": only one backend block is allowed; the first is at line 3`}}},
		{"wasm plugin", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  plugin = \"wasm\"\n}\n",
			[]problem{{3, 1, `backend "rc": a wasm plugin needs a module`}}},
		{"unknown plugin", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  plugin = \"grpc\"\n}\n",
			[]problem{{4, 3, `backend "rc": unknown plugin "grpc"; valid: builtin, subprocess`}}},
		{"subprocess without command", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  plugin = \"subprocess\"\n}\n",
			[]problem{{3, 1, `backend "rc": a subprocess plugin needs a command`}}},
		{"command on a builtin", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  command = \"./x\"\n  args = []\n}\n",
			[]problem{
				{4, 3, `backend "rc": command is only for subprocess plugins`},
				{5, 3, `backend "rc": args is only for subprocess plugins`},
			}},
		{"args not a list", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  plugin = \"subprocess\"\n  command = \"x\"\n  args = \"-v\"\n}\n",
			[]problem{{6, 3, `backend "rc": args: want a list of strings, got string`}}},
		{"nested settings", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  settings = { tls = { verify = true } }\n}\n",
			[]problem{{4, 3, `backend "rc": settings: "tls": want a string, got object`}}},
		{"settings not an object", "store = \"s\"\nuser = \"u\"\nbackend \"rc\" {\n  settings = [\"a\"]\n}\n",
			[]problem{{4, 3, `backend "rc": settings: want an object of strings, got list`}}},
		{"backend name with a space", "store = \"s\"\nuser = \"u\"\nbackend \"my mock\" {}\n",
			[]problem{{3, 9, `backend: "my mock" holds spaces or control characters`}}},
		{"threads out of range", head + "sync {\n  download_threads = 17\n}\n",
			[]problem{{5, 3, "sync: download_threads: 17 is out of range; valid: 1..16, default 3"}}},
		{"page size out of range", head + "sync {\n  page_size = 99\n}\n",
			[]problem{{5, 3, "sync: page_size: 99 is out of range; valid: 100..5000, default 1000"}}},
		{"batch out of range", head + "sync {\n  upload_batch = 0\n}\n",
			[]problem{{5, 3, "sync: upload_batch: 0 is out of range; valid: 1..1000, default 100"}}},
		{"negative retries", head + "sync {\n  retries = -1\n}\n",
			[]problem{{5, 3, "sync: retries: -1 is out of range; valid: 0..20, default 5"}}},
		{"fractional number", head + "sync {\n  page_size = 1000.5\n}\n",
			[]problem{{5, 3, "sync: page_size: 1000.5 is not a whole number"}}},
		{"huge number", head + "sync {\n  page_size = 1e999\n}\n",
			[]problem{{5, 3, "sync: page_size: 1e999 is out of range"}}},
		{"very huge number", head + "sync {\n  page_size = 1e-9999999\n}\n",
			[]problem{{5, 3, "sync: page_size: 1e-9999999 is not a whole number"}}},
		{"long value", head + "entity \"a\" {\n  conflict = \"" + strings.Repeat("x", 1000) + "\"\n}\n",
			[]problem{{5, 3, `entity "a": unknown conflict policy "` + strings.Repeat("x", maxQuoted) + `"...`}}},
		{"word for a number", head + "sync {\n  page_size = \"big\"\n}\n",
			[]problem{{5, 3, `sync: page_size: want a whole number, got string "big"`}}},
		{"bad duration", head + "sync {\n  retry_backoff = \"5 seconds\"\n}\n",
			[]problem{{5, 3, `sync: retry_backoff: "5 seconds" is not a duration; write a number with a unit`}}},
		{"duration without unit", head + "sync {\n  retry_backoff = 5\n}\n",
			[]problem{{5, 3, `sync: retry_backoff: "5" is not a duration`}}},
		{"duration out of range", head + "sync {\n  retry_backoff = \"2h\"\n}\n",
			[]problem{{5, 3, "sync: retry_backoff: 2h0m0s is out of range; valid: 1ms..1h0m0s, default 500ms"}}},
		{"zero duration", head + "sync {\n  retry_backoff = \"0s\"\n}\n",
			[]problem{{5, 3, "sync: retry_backoff: 0s is out of range"}}},
		{"unknown conflict policy", head + "entity \"account\" {\n  fields = [\"name\"]\n  conflict = \"serverwins\"\n}\n",
			[]problem{{6, 3, `entity "account": unknown conflict policy "serverwins"; valid: server-wins, device-wins, device-wins-full, merge, last-writer-wins, manual`}}},
		{"duplicate entity", head + "entity \"account\" {}\nentity \"contact\" {}\nentity \"account\" {}\n",
			[]problem{{6, 1, `entity "account": declared twice; the first is at line 4`}}},
		{"empty entity name", head + "entity \"\" {}\n", []problem{{4, 8, "entity: the name is empty"}}},
		{"empty fields", head + "entity \"a\" {\n  fields = []\n}\n",
			[]problem{{5, 3, `entity "a": fields is empty; remove fields to sync every field`}}},
		{"field listed twice", head + "entity \"a\" {\n  fields = [\"name\", \"city\", \"name\"]\n}\n",
			[]problem{{5, 3, `entity "a": field "name" is listed twice`}}},
		{"field that is not a string", head + "entity \"a\" {\n  fields = [\"name\", null]\n}\n",
			[]problem{{5, 3, `entity "a": fields: item 2: want a string, got null`}}},
		{"field with a space", head + "entity \"a\" {\n  fields = [\"first name\"]\n}\n",
			[]problem{{5, 3, `entity "a": field: "first name" holds spaces or control characters`}}},
		{"negative order", head + "entity \"a\" {\n  order = -1\n}\n",
			[]problem{{5, 3, `entity "a": order: -1 is out of range; valid: 0..1000000`}}},
		{"empty modified field", head + "entity \"a\" {\n  modified_field = \"\"\n}\n",
			[]problem{{5, 3, `entity "a": modified_field: must not be empty`}}},
		{"every value problem at once", head + "sync {\n  page_size = 1\n  retries = 100\n}\nentity \"a\" {\n  conflict = \"x\"\n}\n",
			[]problem{
				{5, 3, "sync: page_size: 1 is out of range"},
				{6, 3, "sync: retries: 100 is out of range"},
				{9, 3, `entity "a": unknown conflict policy "x"`},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src), "fieldsync.hcl")
			if err == nil {
				t.Fatalf("Parse succeeded with %+v; want an error", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Diagnostics) != len(strings.Split(err.Error(), "\n")) {
				t.Errorf("error %T does not carry one diagnostic a line", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, p := range tt.want {
				prefix := fmt.Sprintf("fieldsync.hcl:%d,%d: ", p.line, p.col)
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, prefix) && strings.Contains(l, p.text) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem %q at %s in:\n%v", p.text, prefix, err)
				}
			}
		})
	}
}

func TestParseNoHostname(t *testing.T) {
	stubHostname(t, "", errors.New("no uts namespace"))
	_, err := Parse([]byte(head), "fieldsync.hcl")
	want := `fieldsync.hcl:1,1: "device" is not set and the hostname is unknown; name this device, e.g. device = "laptop-1"`
	if err == nil || err.Error() != want {
		t.Errorf("Parse: %v\nwant %s", err, want)
	}
	if _, err := Parse([]byte(head+"device = \"d\"\n"), "fieldsync.hcl"); err != nil {
		t.Errorf("Parse with device set: %v", err)
	}
}

// TestParseLimits: files built to exhaust the parser's stack or flood the
// report fail fast with a plain problem. Without checkLimits each of the
// first four is a fatal stack overflow in hclsyntax (checked by hand).
func TestParseLimits(t *testing.T) {
	stubHostname(t, "host-1", nil)
	// fill repeats unit to just under the size limit.
	fill := func(unit string) int { return (maxFileSize - 100) / len(unit) }
	tests := []struct {
		name, src, want string
	}{
		{"brackets", "store = " + strings.Repeat("[", fill("[]")) + strings.Repeat("]", fill("[]")), "1,73: nesting too deep"},
		{"blocks", strings.Repeat("a {\n", fill("a {\n")), "65,3: nesting too deep"},
		{"templates", `store = "` + strings.Repeat(`${"`, fill(`${"`)), "1,105: nesting too deep"},
		{"unary minus", "store = " + strings.Repeat("-", fill("-")) + "1", "1,265: too many operators"},
		{"conditionals", "store = " + strings.Repeat("true ? 1 : ", fill("true ? 1 : ")) + "1", "1,2830: too many operators"},
		{"too large", head + strings.Repeat("#", maxFileSize), "1,1: the file is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "fieldsync.hcl")
			if err == nil || !strings.HasPrefix(err.Error(), "fieldsync.hcl:"+tt.want) {
				t.Errorf("Parse: %.200v; want fieldsync.hcl:%s", err, tt.want)
			}
		})
	}

	t.Run("many problems", func(t *testing.T) {
		// 999 times "Attribute redefined".
		_, err := Parse([]byte(strings.Repeat("x = 1\n", 1000)), "fieldsync.hcl")
		var cerr *Error
		if !errors.As(err, &cerr) || len(cerr.Diagnostics) != 999 {
			t.Fatalf("Parse: %T with %d diagnostics; want every problem kept", err, len(cerr.Diagnostics))
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != maxReported+1 || !strings.HasPrefix(lines[maxReported], "... and ") {
			t.Errorf("Error() has %d lines ending %q; want %d and a count of the rest", len(lines), lines[len(lines)-1], maxReported+1)
		}
	})
}
