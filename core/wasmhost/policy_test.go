package wasmhost

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/wasmhost/testdata/guestconn"
	"github.com/fieldsync/fieldsync/sdk"
)

func openPolicy(t *testing.T, change func(*Config)) *Policy {
	t.Helper()
	cfg := Config{Path: buildGuest(t), Name: "guest", CacheDir: sharedDir}
	if change != nil {
		change(&cfg)
	}
	p, err := OpenPolicy(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open the policy: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// TestPolicy: a policy in the sandbox decides as the same code does
// in-process, registers like a built-in one, and cannot push read-only
// fields.
func TestPolicy(t *testing.T) {
	pol := openPolicy(t, nil)
	if pol.Name() != "larger-number" {
		t.Fatalf("name %q", pol.Name())
	}
	reg := conflict.NewRegistry()
	if err := reg.Register(pol); err != nil {
		t.Fatal(err)
	}
	ent := &guestconn.Schema.Entities[0]
	when := time.UnixMicro(1_700_000_000_000_000).UTC()
	tests := []struct {
		name string
		in   conflict.Input
	}{
		{"update", conflict.Input{
			Entity: ent, LocalOp: sdk.OpUpdate, Changed: []string{"count", "ratio", "name"},
			Base:          map[string]sdk.Value{"count": sdk.Int(1), "ratio": sdk.Float(1), "name": sdk.String("a")},
			Local:         map[string]sdk.Value{"count": sdk.Int(5), "ratio": sdk.Float(0.5), "name": sdk.String("device"), "note": sdk.String("mine")},
			Remote:        &sdk.Record{ID: "t-1", Version: "7", Values: map[string]sdk.Value{"count": sdk.Int(3), "ratio": sdk.Float(2), "name": sdk.String("server"), "note": sdk.String("theirs"), "ok": sdk.Null()}},
			LocalModified: when, RemoteModified: when.Add(time.Minute),
		}},
		{"server-deleted", conflict.Input{
			Entity: ent, LocalOp: sdk.OpUpdate, Changed: []string{"name"},
			Local: map[string]sdk.Value{"name": sdk.String("device")},
		}},
		{"local-delete", conflict.Input{
			Entity: ent, LocalOp: sdk.OpDelete,
			Remote: &sdk.Record{ID: "t-1", Version: "7", Values: map[string]sdk.Value{"name": sdk.String("server")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pol.Resolve(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			in := tt.in
			want, err := guestconn.Policy{}.Resolve(sdk.ConflictInput{Entity: in.Entity, LocalOp: in.LocalOp, Base: in.Base, Local: in.Local, Changed: in.Changed, Remote: in.Remote, LocalModified: in.LocalModified, RemoteModified: in.RemoteModified})
			if err != nil {
				t.Fatal(err)
			}
			if got.Decision.String() != string(want.Decision) || got.PushOp != want.PushOp || got.Delete != want.Delete ||
				got.Reason != want.Reason || !reflect.DeepEqual(got.Push, want.Push) || !valuesEqual(got.Values, want.Values) {
				t.Errorf("through the sandbox %+v\nin-process %+v", got, want)
			}
		})
	}
	// The update case, spelled out.
	got, _ := pol.Resolve(tests[0].in)
	if got.Decision != conflict.Merge || got.Values["count"].Int() != 5 || got.Values["ratio"].Float() != 2 ||
		got.Values["name"].Str() != "device" || got.Values["note"].Str() != "theirs" || !reflect.DeepEqual(got.Push, []string{"name", "count"}) {
		t.Errorf("update resolved as %+v", got)
	}
}

func valuesEqual(a, b map[string]sdk.Value) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

// TestPolicyFailures: a policy's error keeps its kind; a panic or a loop
// costs the instance, not the host, and the next conflict is decided.
func TestPolicyFailures(t *testing.T) {
	pol := openPolicy(t, func(c *Config) { c.CallTimeout = 300 * time.Millisecond })
	in := func(entity string) conflict.Input {
		return conflict.Input{Entity: &sdk.Entity{Name: entity, PrimaryKey: "id"}, LocalOp: sdk.OpDelete}
	}
	tests := []struct {
		entity string
		is     error
		want   string
	}{
		{"error", sdk.ErrPermanent, "cannot judge error"},
		{"panic", ErrCrashed, "panic: policy bug"},
		{"loop", ErrTimeLimit, "300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.entity, func(t *testing.T) {
			_, err := pol.Resolve(in(tt.entity))
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if r, err := pol.Resolve(in("fine")); err != nil || r.Decision != conflict.TakeRemote || !r.Delete {
				t.Errorf("the next conflict: %+v, %v", r, err)
			}
		})
	}
	if _, err := pol.Resolve(conflict.Input{LocalOp: sdk.OpUpdate}); !errors.Is(err, conflict.ErrInvalidInput) {
		t.Errorf("invalid input: %v", err)
	}
}

// TestToResolution: what a policy answers is held to the entity's schema.
func TestToResolution(t *testing.T) {
	ent := &sdk.Entity{Name: "e", PrimaryKey: "id", Fields: []sdk.Field{{Name: "a"}, {Name: "ro", ReadOnly: true}}}
	tests := []struct {
		name    string
		in      sdk.ConflictResolution
		wantErr string
		want    conflict.Resolution
	}{
		{"ok", sdk.ConflictResolution{Decision: sdk.DecisionTakeLocal, Values: map[string]sdk.Value{"a": sdk.Int(1), "ro": sdk.Int(2)}, PushOp: sdk.OpUpdate, Push: []string{"a"}},
			"", conflict.Resolution{Decision: conflict.TakeLocal, Values: map[string]sdk.Value{"a": sdk.Int(1), "ro": sdk.Int(2)}, PushOp: sdk.OpUpdate, Push: []string{"a"}}},
		{"unknown-values-dropped", sdk.ConflictResolution{Decision: sdk.DecisionMerge, Values: map[string]sdk.Value{"a": sdk.Int(1), "zz": sdk.Int(2)}},
			"", conflict.Resolution{Decision: conflict.Merge, Values: map[string]sdk.Value{"a": sdk.Int(1)}}},
		{"push-read-only", sdk.ConflictResolution{Decision: sdk.DecisionTakeLocal, PushOp: sdk.OpUpdate, Push: []string{"ro"}}, `field "ro"`, conflict.Resolution{}},
		{"push-unknown", sdk.ConflictResolution{Decision: sdk.DecisionTakeLocal, PushOp: sdk.OpUpdate, Push: []string{"zz"}}, `field "zz"`, conflict.Resolution{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := toResolution("p", ent, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
