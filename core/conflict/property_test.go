package conflict

import (
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fieldsync/fieldsync/sdk"
)

// propEntity has a few writable fields of two kinds and one read-only field.
var propEntity = &sdk.Entity{
	Name:       "item",
	PrimaryKey: "id",
	Fields: []sdk.Field{
		{Name: "a", Type: sdk.TypeString},
		{Name: "b", Type: sdk.TypeString},
		{Name: "c", Type: sdk.TypeInt},
		{Name: "d", Type: sdk.TypeInt},
		{Name: "ro", Type: sdk.TypeInt, ReadOnly: true},
	},
}

var propWritable = []string{"a", "b", "c", "d"}

// genValue draws from a small domain so that the two sides often agree.
var genValue = rapid.SampledFrom([]sdk.Value{
	sdk.Null(), sdk.String("x"), sdk.String("y"), sdk.Int(1), sdk.Int(2),
})

func genRecord(t *rapid.T, label string) map[string]sdk.Value {
	m := map[string]sdk.Value{}
	for _, f := range propEntity.Fields {
		m[f.Name] = genValue.Draw(t, label+"."+f.Name)
	}
	return m
}

// genEdit returns a copy of from with a random subset of fields (among
// candidates) set to random values, and the fields it set.
func genEdit(t *rapid.T, label string, from map[string]sdk.Value, candidates []string) (map[string]sdk.Value, []string) {
	out := maps.Clone(from)
	fields := rapid.SliceOfDistinct(rapid.SampledFrom(candidates), rapid.ID[string]).Draw(t, label+".fields")
	for _, f := range fields {
		out[f] = genValue.Draw(t, label+"."+f)
	}
	return out, fields
}

// genConsistent draws a well-formed update conflict: Local differs from Base
// only in Changed, which the device may edit (never the read-only field).
func genConsistent(t *rapid.T) Input {
	base := genRecord(t, "base")
	local, changed := genEdit(t, "local", base, propWritable)
	remoteVals, _ := genEdit(t, "remote", base, propEntity.FieldNames())
	return Input{
		Entity: propEntity, LocalOp: sdk.OpUpdate,
		Base: base, Local: local, Changed: changed,
		Remote: &sdk.Record{ID: "r", Version: "2", Values: remoteVals},
	}
}

var genTie = rapid.SampledFrom([]Tie{TieServer, TieDevice, TieManual})

// A server that changed nothing leaves the device's record as it is, and the
// device sends exactly the fields it really changed.
func TestPropMergeRemoteUnchanged(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genConsistent(t)
		in.Remote.Values = maps.Clone(in.Base)
		m, _ := NewMerge(genTie.Draw(t, "tie"))
		r, err := m.Resolve(in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Decision != Merge || !equalValues(r.Values, in.Local) {
			t.Fatalf("got %v %v, want the local record %v", r.Decision, r.Values, in.Local)
		}
		want := writable(propEntity, func(f string) bool {
			return slices.Contains(in.Changed, f) && !in.Local[f].Equal(in.Base[f])
		})
		if !slices.Equal(r.Push, want) {
			t.Fatalf("Push = %v, want %v", r.Push, want)
		}
	})
}

// A device that changed nothing takes the server's record and sends nothing.
func TestPropMergeLocalUnchanged(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genConsistent(t)
		in.Local = maps.Clone(in.Base)
		m, _ := NewMerge(genTie.Draw(t, "tie"))
		r, err := m.Resolve(in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Decision != Merge || !equalValues(r.Values, in.Remote.Values) || len(r.Push) != 0 || r.PushOp != 0 {
			t.Fatalf("got %+v, want the server's record %v and nothing sent", r, in.Remote.Values)
		}
	})
}

// Every merged field holds the device's or the server's value, the fields
// only one side changed hold that side's, and exactly the fields that differ
// from the server's are sent.
func TestPropMergeFields(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genConsistent(t)
		tie := genTie.Draw(t, "tie")
		m, _ := NewMerge(tie)
		r, err := m.Resolve(in)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, in, r)
		if r.Decision == Manual {
			if tie != TieManual {
				t.Fatalf("manual under tie %s", tie)
			}
			return
		}
		var sent []string
		for _, f := range propEntity.FieldNames() {
			lv, rv, bv, mv := in.Local[f], in.Remote.Values[f], in.Base[f], r.Values[f]
			dev, srv := !lv.Equal(bv), !rv.Equal(bv)
			switch {
			case dev && !srv && !mv.Equal(lv), !dev && !mv.Equal(rv):
				t.Fatalf("field %s = %v; local %v, remote %v, base %v", f, mv, lv, rv, bv)
			case dev && srv && !lv.Equal(rv) && !mv.Equal(map[Tie]sdk.Value{TieServer: rv, TieDevice: lv}[tie]):
				t.Fatalf("tie %s: field %s = %v; local %v, remote %v", tie, f, mv, lv, rv)
			}
			if !mv.Equal(rv) {
				sent = append(sent, f)
			}
		}
		if !slices.Equal(r.Push, sent) {
			t.Fatalf("Push = %v, want the fields differing from the server's %v", r.Push, sent)
		}
	})
}

// device-wins sends nothing the device did not change, and what it sends is
// the device's value.
func TestPropDeviceWinsPushSubsetOfChanged(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genConsistent(t)
		// Changed may also name fields outside the schema or read-only ones.
		in.Changed = append(in.Changed, rapid.SliceOf(rapid.SampledFrom([]string{"ro", "zz", "id"})).Draw(t, "extra")...)
		if rapid.Bool().Draw(t, "serverDeleted") {
			in.Remote = nil
		}
		r, err := deviceWins{}.Resolve(in)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, in, r)
		for _, f := range r.Push {
			if in.Remote != nil && !slices.Contains(in.Changed, f) {
				t.Fatalf("pushed %s, which the device did not change (Changed %v)", f, in.Changed)
			}
			if !r.Values[f].Equal(in.Local[f]) {
				t.Fatalf("pushed %s = %v, not the device's %v", f, r.Values[f], in.Local[f])
			}
		}
	})
}

// Whatever arrives — any op, missing maps, stray fields, any times — every
// policy returns an error exactly when Validate does, never panics, and
// otherwise answers within the Resolution contract.
func TestPropAnyInput(t *testing.T) {
	genMaybe := func(t *rapid.T, label string) map[string]sdk.Value {
		if rapid.Bool().Draw(t, label+".nil") {
			return nil
		}
		return rapid.MapOf(rapid.SampledFrom([]string{"a", "b", "c", "d", "ro", "zz"}), genValue).Draw(t, label)
	}
	genTime := rapid.Custom(func(t *rapid.T) time.Time {
		if rapid.Bool().Draw(t, "zero") {
			return time.Time{}
		}
		return time.Unix(int64(rapid.IntRange(0, 3).Draw(t, "sec")), 0)
	})
	policies := []Policy{serverWins{}, deviceWins{}, deviceWinsFull{}, lastWriterWins{}, manual{}}
	for _, tie := range []Tie{TieServer, TieDevice, TieManual} {
		m, _ := NewMerge(tie)
		policies = append(policies, m)
	}
	rapid.Check(t, func(t *rapid.T) {
		in := Input{
			LocalOp:        sdk.Op(rapid.IntRange(0, 4).Draw(t, "op")),
			Base:           genMaybe(t, "base"),
			Local:          genMaybe(t, "local"),
			Changed:        rapid.SliceOf(rapid.SampledFrom([]string{"a", "b", "c", "d", "ro", "zz"})).Draw(t, "changed"),
			LocalModified:  genTime.Draw(t, "localModified"),
			RemoteModified: genTime.Draw(t, "remoteModified"),
		}
		if rapid.IntRange(0, 9).Draw(t, "entity") > 0 {
			in.Entity = propEntity
		}
		if rv := genMaybe(t, "remote"); rv != nil || rapid.Bool().Draw(t, "emptyRemote") {
			in.Remote = &sdk.Record{ID: "r", Version: "2", Values: rv}
		}
		p := rapid.SampledFrom(policies).Draw(t, "policy")
		r, err := p.Resolve(in)
		if verr := Validate(in); (err == nil) != (verr == nil) {
			t.Fatalf("%s: Resolve error %v, Validate error %v", p.Name(), err, verr)
		}
		if err == nil {
			checkInvariants(t, in, r)
		}
	})
}
