package conflict

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestBuiltinNames(t *testing.T) {
	want := []string{DeviceWins, DeviceWinsFull, LastWriterWins, ManualReview, MergeFields, ServerWins}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		p, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if p.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, p.Name())
		}
	}
	if want[1] != "device-wins-full" || want[2] != "last-writer-wins" || want[5] != "server-wins" {
		t.Errorf("built-in names changed: %v", want) // configuration files spell them
	}
}

func TestLookupDefault(t *testing.T) {
	p, err := Lookup("")
	if err != nil || p.Name() != ServerWins {
		t.Fatalf("Lookup(\"\") = %v, %v; want server-wins", p, err)
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup("client-wins")
	if !errors.Is(err, ErrUnknownPolicy) {
		t.Fatalf("Lookup(client-wins) = %v, want ErrUnknownPolicy", err)
	}
	for _, name := range Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}

// funcPolicy is a custom policy for tests.
type funcPolicy struct {
	name    string
	resolve func(Input) (Resolution, error)
}

func (p funcPolicy) Name() string                         { return p.name }
func (p funcPolicy) Resolve(in Input) (Resolution, error) { return p.resolve(in) }

func TestRegister(t *testing.T) {
	r := NewRegistry()
	custom := funcPolicy{name: "wasm:newest-email", resolve: func(Input) (Resolution, error) {
		return Resolution{Decision: Manual, Reason: "custom"}, nil
	}}
	if err := r.Register(custom); err != nil {
		t.Fatal(err)
	}
	p, err := r.Lookup("wasm:newest-email")
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Resolve(Input{}); res.Reason != "custom" {
		t.Errorf("looked-up policy is not the registered one")
	}
	if !slices.Contains(r.Names(), "wasm:newest-email") {
		t.Errorf("Names() = %v lacks the custom policy", r.Names())
	}
	if slices.Contains(Names(), "wasm:newest-email") {
		t.Errorf("registering in a new registry changed Default")
	}

	for _, bad := range []Policy{
		nil,
		funcPolicy{name: ""},
		funcPolicy{name: " padded "},
		funcPolicy{name: "wasm:newest-email"},
		funcPolicy{name: ServerWins}, // built-ins cannot be replaced
	} {
		if err := r.Register(bad); err == nil {
			t.Errorf("Register(%v) succeeded", bad)
		}
	}
	if p, _ := r.Lookup(ServerWins); fmt.Sprintf("%T", p) != "conflict.serverWins" {
		t.Errorf("server-wins was replaced by %T", p)
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = r.Register(funcPolicy{name: fmt.Sprintf("p%d", i)})
			_, _ = r.Lookup(ServerWins)
			_ = r.Names()
		}()
	}
	for range 8 {
		<-done
	}
	if n := len(r.Names()); n != 6+8 {
		t.Errorf("%d policies registered, want %d", n, 6+8)
	}
}

func ExampleLookup() {
	p, err := Lookup("device-wins")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := p.Resolve(Input{
		Entity: &sdk.Entity{Name: "task", PrimaryKey: "id", Fields: []sdk.Field{
			{Name: "title", Type: sdk.TypeString},
			{Name: "done", Type: sdk.TypeBool},
		}},
		LocalOp: sdk.OpUpdate,
		Base:    map[string]sdk.Value{"title": sdk.String("Call Ann"), "done": sdk.Bool(false)},
		Local:   map[string]sdk.Value{"title": sdk.String("Call Ann"), "done": sdk.Bool(true)},
		Changed: []string{"done"},
		Remote: &sdk.Record{ID: "t1", Version: "7", Values: map[string]sdk.Value{
			"title": sdk.String("Call Ann today"), "done": sdk.Bool(false),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Decision, r.PushOp, r.Push)
	fmt.Println(r.Values["title"], r.Values["done"])
	fmt.Println(r.Reason)
	// Output:
	// take-local update [done]
	// "Call Ann today" true
	// device wins (changed fields); sends 1 field: done
}

func ExampleNewMerge() {
	m, err := NewMerge(TieDevice)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := m.Resolve(Input{
		Entity: &sdk.Entity{Name: "task", PrimaryKey: "id", Fields: []sdk.Field{
			{Name: "title", Type: sdk.TypeString},
			{Name: "owner", Type: sdk.TypeString},
			{Name: "due", Type: sdk.TypeString},
		}},
		LocalOp: sdk.OpUpdate,
		Base:    map[string]sdk.Value{"title": sdk.String("Audit"), "owner": sdk.String("ann"), "due": sdk.String("mon")},
		Local:   map[string]sdk.Value{"title": sdk.String("Audit Q3"), "owner": sdk.String("ann"), "due": sdk.String("tue")},
		Changed: []string{"title", "due"},
		Remote: &sdk.Record{ID: "t1", Version: "8", Values: map[string]sdk.Value{
			"title": sdk.String("Audit"), "owner": sdk.String("bob"), "due": sdk.String("wed"),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Decision, r.PushOp, r.Push)
	fmt.Println(r.Reason)
	// Output:
	// merge update [title due]
	// merge: from the device: title; from the server: owner; changed differently on both sides, device kept: due
}
