package conflict

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// contact is the entity every table test uses: three writable fields and a
// read-only one only the server sets.
var contact = &sdk.Entity{
	Name:       "contact",
	PrimaryKey: "contactid",
	Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "email", Type: sdk.TypeString},
		{Name: "phone", Type: sdk.TypeString},
		{Name: "createdon", Type: sdk.TypeDateTime, ReadOnly: true},
	},
}

// vals builds a values map from name/value pairs; a string becomes a string
// value, an int an int value, nil a null.
func vals(kv ...any) map[string]sdk.Value {
	m := map[string]sdk.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		var v sdk.Value
		switch x := kv[i+1].(type) {
		case string:
			v = sdk.String(x)
		case int:
			v = sdk.Int(int64(x))
		case sdk.Value:
			v = x
		case nil:
		default:
			panic("vals: unsupported value")
		}
		m[kv[i].(string)] = v
	}
	return m
}

func remote(kv ...any) *sdk.Record {
	return &sdk.Record{ID: "c1", Version: "v2", Values: vals(kv...)}
}

// The shared scenario: the device edits phone; the server, meanwhile, edited
// email (non-overlapping) or phone (overlapping).
var (
	base         = vals("name", "Ann", "email", "a@x", "phone", "1", "createdon", 100)
	localPhone   = vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100)
	remoteEmail  = remote("name", "Ann", "email", "b@x", "phone", "1", "createdon", 100)
	remotePhone  = remote("name", "Ann", "email", "a@x", "phone", "3", "createdon", 100)
	remoteSame   = remote("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100)
	remoteAsBase = remote("name", "Ann", "email", "a@x", "phone", "1", "createdon", 100)
	// A create whose client id collides with a row the server already has.
	localCreate  = vals("name", "Bob", "email", "a@x", "phone", "9")
	remoteExists = remote("name", "Ann", "email", "a@x", "phone", nil, "createdon", 100)
)

func updateUpdate(r *sdk.Record) Input {
	return Input{Entity: contact, LocalOp: sdk.OpUpdate, Base: base, Local: localPhone, Changed: []string{"phone"}, Remote: r}
}

func updateServerDelete() Input {
	return Input{Entity: contact, LocalOp: sdk.OpUpdate, Base: base, Local: localPhone, Changed: []string{"phone"}}
}

func deleteUpdate(r *sdk.Record) Input {
	return Input{Entity: contact, LocalOp: sdk.OpDelete, Base: base, Remote: r}
}

func createCollision() Input {
	return Input{Entity: contact, LocalOp: sdk.OpCreate, Local: localCreate, Changed: []string{"name", "email", "phone"}, Remote: remoteExists}
}

func bothDeletedInput() Input {
	return Input{Entity: contact, LocalOp: sdk.OpDelete, Base: base}
}

type policyCase struct {
	name   string
	in     Input
	want   Resolution // Reason is matched as a substring, when set
	policy Policy     // when nil, the test's own policy
}

func runCases(t *testing.T, p Policy, tests []policyCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := p
			if tc.policy != nil {
				pol = tc.policy
			}
			got, err := pol.Resolve(tc.in)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			checkResolution(t, got, tc.want)
			checkInvariants(t, tc.in, got)
		})
	}
}

func checkResolution(t *testing.T, got, want Resolution) {
	t.Helper()
	if got.Decision != want.Decision {
		t.Errorf("Decision = %v, want %v (reason %q)", got.Decision, want.Decision, got.Reason)
	}
	if !equalValues(got.Values, want.Values) {
		t.Errorf("Values = %v, want %v", got.Values, want.Values)
	}
	if got.PushOp != want.PushOp {
		t.Errorf("PushOp = %v, want %v", got.PushOp, want.PushOp)
	}
	if !slices.Equal(got.Push, want.Push) {
		t.Errorf("Push = %v, want %v", got.Push, want.Push)
	}
	if got.Delete != want.Delete {
		t.Errorf("Delete = %v, want %v", got.Delete, want.Delete)
	}
	if !strings.Contains(got.Reason, want.Reason) {
		t.Errorf("Reason = %q, want it to contain %q", got.Reason, want.Reason)
	}
	if got.Reason == "" || strings.Contains(got.Reason, "\n") {
		t.Errorf("Reason = %q, want one non-empty line", got.Reason)
	}
}

func equalValues(a, b map[string]sdk.Value) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

// checkInvariants holds every resolution of every policy to the contract
// documented on Resolution.
func checkInvariants(t interface {
	Helper()
	Errorf(string, ...any)
}, in Input, r Resolution) {
	t.Helper()
	if r.Decision < TakeRemote || r.Decision > Manual {
		t.Errorf("invalid decision %v", r.Decision)
	}
	if r.Reason == "" {
		t.Errorf("empty reason")
	}
	if r.Decision == Manual {
		if r.Values != nil || r.Push != nil || r.PushOp != 0 || r.Delete {
			t.Errorf("manual resolution carries an outcome: %+v", r)
		}
		return
	}
	if r.Delete != (r.Values == nil) {
		t.Errorf("Delete = %v but Values = %v", r.Delete, r.Values)
	}
	for f := range r.Values {
		if in.Entity.Field(f) == nil {
			t.Errorf("Values holds %q, which is not in the schema", f)
		}
	}
	for _, f := range r.Push {
		fd := in.Entity.Field(f)
		if fd == nil || fd.ReadOnly {
			t.Errorf("Push holds %q, which is not a writable schema field", f)
		}
		if _, ok := r.Values[f]; !ok {
			t.Errorf("Push holds %q, which Values lacks", f)
		}
	}
	switch r.PushOp {
	case 0:
		if len(r.Push) > 0 {
			t.Errorf("Push %v without a PushOp", r.Push)
		}
	case sdk.OpCreate:
		if in.Remote != nil || r.Decision == TakeRemote {
			t.Errorf("a re-create although the server has the row or was taken")
		}
	case sdk.OpUpdate:
		if in.Remote == nil || len(r.Push) == 0 || r.Decision == TakeRemote {
			t.Errorf("an update with no server row, no fields or taking the server's side: %+v", r)
		}
	case sdk.OpDelete:
		if in.LocalOp != sdk.OpDelete || !r.Delete || len(r.Push) > 0 {
			t.Errorf("a delete the device did not ask for: %+v", r)
		}
	default:
		t.Errorf("invalid PushOp %v", r.PushOp)
	}
	if r.Decision == TakeRemote && (r.PushOp != 0 || r.Delete != (in.Remote == nil)) {
		t.Errorf("take-remote must send nothing and delete exactly when the server did: %+v", r)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		ok   bool
	}{
		{"nil entity", Input{LocalOp: sdk.OpUpdate, Local: localPhone}, false},
		{"zero op", Input{Entity: contact, Local: localPhone}, false},
		{"unknown op", Input{Entity: contact, LocalOp: 9, Local: localPhone}, false},
		{"update without local", Input{Entity: contact, LocalOp: sdk.OpUpdate, Base: base, Remote: remoteEmail}, false},
		{"create without local", Input{Entity: contact, LocalOp: sdk.OpCreate, Remote: remoteEmail}, false},
		{"delete without local", deleteUpdate(remoteEmail), true},
		{"remote with no values", Input{Entity: contact, LocalOp: sdk.OpUpdate, Local: localPhone, Remote: &sdk.Record{}}, true},
		{"update", updateUpdate(remoteEmail), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidInput) {
				t.Errorf("error %v does not wrap ErrInvalidInput", err)
			}
			// Every built-in policy refuses what Validate refuses, and
			// settles what it accepts, without panicking.
			for _, name := range Names() {
				p, _ := Lookup(name)
				r, err := p.Resolve(tc.in)
				if tc.ok != (err == nil) {
					t.Errorf("%s: Resolve error %v, want ok %v", name, err, tc.ok)
				}
				if err == nil {
					checkInvariants(t, tc.in, r)
				} else if !errors.Is(err, ErrInvalidInput) {
					t.Errorf("%s: error %v does not wrap ErrInvalidInput", name, err)
				}
			}
		})
	}
}

// Values of fields the schema does not list never reach a resolution.
func TestUnknownFieldsIgnored(t *testing.T) {
	in := Input{
		Entity:         contact,
		LocalOp:        sdk.OpUpdate,
		Base:           vals("name", "Ann", "nickname", "A"),
		Local:          vals("name", "Ann", "phone", "2", "nickname", "Annie"),
		Changed:        []string{"phone", "nickname", "contactid"},
		Remote:         remote("name", "Anne", "nickname", "An", "secret", "s"),
		LocalModified:  time.Unix(20, 0),
		RemoteModified: time.Unix(10, 0),
	}
	for _, name := range Names() {
		p, _ := Lookup(name)
		for _, remoteDeleted := range []bool{false, true} {
			in := in
			if remoteDeleted {
				in.Remote = nil
			}
			r, err := p.Resolve(in)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkInvariants(t, in, r)
		}
	}
}

func TestDecisionString(t *testing.T) {
	want := map[Decision]string{TakeRemote: "take-remote", TakeLocal: "take-local", Merge: "merge", Manual: "manual", 0: "Decision(0)", 9: "Decision(9)"}
	for d, s := range want {
		if d.String() != s {
			t.Errorf("%d.String() = %q, want %q", d, d.String(), s)
		}
	}
}

// The resolution's maps are its own: changing them leaves the input alone.
func TestResolutionDoesNotAliasInput(t *testing.T) {
	for _, name := range Names() {
		p, _ := Lookup(name)
		in := updateUpdate(remoteEmail)
		in.LocalModified, in.RemoteModified = time.Unix(1, 0), time.Unix(2, 0)
		r, err := p.Resolve(in)
		if err != nil {
			t.Fatal(err)
		}
		for k := range r.Values {
			r.Values[k] = sdk.String("mutated")
		}
		for _, m := range []map[string]sdk.Value{base, localPhone, remoteEmail.Values} {
			for _, v := range m {
				if v.Str() == "mutated" {
					t.Fatalf("%s: resolution aliases an input map", name)
				}
			}
		}
	}
}
