package conflict

import (
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Tie says what a field-level merge does with a field that both sides
// changed to different values.
type Tie string

const (
	// TieServer keeps the server's value for that field (the default: the
	// same side server-wins favours, so a merge never loses more of the
	// server's data than the default policy would).
	TieServer Tie = "server"
	// TieDevice keeps the device's value and sends it.
	TieDevice Tie = "device"
	// TieManual parks the whole record for a person.
	TieManual Tie = "manual"
)

// Merger is the field-level three-way merge policy, named "merge".
//
// Each field of the schema is judged on its own against Base. The device
// changed a field when Changed lists it and its local value differs from
// Base's; the server changed it when the server's value differs from Base's
// (a field missing from Base counts as null there, so a local create — or an
// update whose base was lost — merges against an empty record, and every
// value the server has counts as the server's change). Then:
//
//   - only the device changed it: the device's value, sent to the server;
//   - only the server changed it: the server's value;
//   - both changed it to the same value: that value;
//   - both changed it to different values: the Tie rule decides (server by
//     default; TieManual parks the whole record);
//   - neither: the server's value. Read-only fields always follow the server.
//
// A delete cannot be merged with edits. A local delete wins (and is sent) only
// when the server changed no field since Base; a server delete always wins
// (the device's copy is deleted). Otherwise the server's side is taken, as
// server-wins would, except that under TieManual an edit that meets a delete
// is parked for a person. A local create that collides with an existing row
// is merged as an update of every field the device set.
//
// The zero Merger, like a nil one, breaks ties for the server.
type Merger struct {
	tie Tie
}

// NewMerge returns a merge policy with the given tie rule ("" means
// TieServer). An unknown rule is an error naming the valid ones.
func NewMerge(tie Tie) (*Merger, error) {
	switch tie {
	case "":
		tie = TieServer
	case TieServer, TieDevice, TieManual:
	default:
		return nil, fmt.Errorf("merge: unknown tie rule %q (valid: %s, %s, %s)", tie, TieServer, TieDevice, TieManual)
	}
	return &Merger{tie: tie}, nil
}

// Name is "merge", whatever the tie rule; Reason names the rule.
func (m *Merger) Name() string { return MergeFields }

// Tie returns the rule for fields both sides changed differently.
func (m *Merger) Tie() Tie {
	if m == nil || m.tie == "" {
		return TieServer
	}
	return m.tie
}

// Resolve merges one record field by field; see Merger.
func (m *Merger) Resolve(in Input) (Resolution, error) {
	if err := Validate(in); err != nil {
		return Resolution{}, err
	}
	if r, ok := bothDeleted(in); ok {
		return r, nil
	}
	tie := m.Tie()
	switch {
	case in.LocalOp == sdk.OpDelete:
		return m.localDelete(in, tie), nil
	case in.Remote == nil:
		return m.serverDelete(in, tie), nil
	}

	changed := changedSet(in)
	var fromDevice, fromServer, alike, ties []string
	vals := map[string]sdk.Value{}
	push := map[string]bool{}
	for _, f := range in.Entity.Fields {
		base := in.Base[f.Name] // missing: null
		lv, lok := in.Local[f.Name]
		rv, rok := remoteValue(in, f.Name)
		dev := changed[f.Name] && lok && !f.ReadOnly && !lv.Equal(base)
		srv := rok && !rv.Equal(base)
		switch {
		case dev && !srv:
			vals[f.Name], push[f.Name] = lv, true
			fromDevice = append(fromDevice, f.Name)
		case srv && !dev:
			vals[f.Name] = rv
			fromServer = append(fromServer, f.Name)
		case dev && lv.Equal(rv):
			vals[f.Name] = lv
			alike = append(alike, f.Name)
		case dev:
			ties = append(ties, f.Name)
			if tie == TieDevice {
				vals[f.Name], push[f.Name] = lv, true
			} else {
				vals[f.Name] = rv
			}
		case rok:
			vals[f.Name] = rv
		case lok:
			vals[f.Name] = lv
		}
	}
	if len(ties) > 0 && tie == TieManual {
		return Resolution{Decision: Manual, Reason: fmt.Sprintf(
			"merge: both sides changed %s differently; parked for a person (ties: manual)", strings.Join(ties, ", "))}, nil
	}

	r := Resolution{Decision: Merge, Values: vals}
	// A field takes the device's value only where the device changed it,
	// which is also exactly where the merged record can differ from the
	// server's: those are the fields to send.
	r.Push = writable(in.Entity, func(f string) bool { return push[f] && differs(in, f, vals[f]) })
	if len(r.Push) > 0 {
		r.PushOp = sdk.OpUpdate
	}
	var parts []string
	add := func(label string, fs []string) {
		if len(fs) > 0 {
			parts = append(parts, label+" "+strings.Join(fs, ", "))
		}
	}
	add("from the device:", fromDevice)
	add("from the server:", fromServer)
	add("same on both sides:", alike)
	if len(ties) > 0 {
		add(fmt.Sprintf("changed differently on both sides, %s kept:", tie), ties)
	}
	if len(parts) == 0 {
		parts = append(parts, "no field differs")
	}
	r.Reason = "merge: " + strings.Join(parts, "; ")
	return r, nil
}

// localDelete settles a device delete against a row the server still has.
func (m *Merger) localDelete(in Input, tie Tie) Resolution {
	if in.Base == nil {
		if tie == TieManual {
			return Resolution{Decision: Manual, Reason: "merge: the device deleted the row and, with no base, server edits cannot be ruled out; parked for a person"}
		}
		return takeRemote(in, "merge: the device deleted the row and, with no base, server edits cannot be ruled out, so server wins")
	}
	var srv []string
	for _, f := range in.Entity.Fields {
		if rv, ok := in.Remote.Values[f.Name]; ok && !rv.Equal(in.Base[f.Name]) {
			srv = append(srv, f.Name)
		}
	}
	switch {
	case len(srv) == 0:
		return takeLocal(in, TakeLocal, nil, nil, "merge: the device deleted the row and the server changed nothing since")
	case tie == TieManual:
		return Resolution{Decision: Manual, Reason: fmt.Sprintf("merge: the device deleted the row but the server changed %s; parked for a person", strings.Join(srv, ", "))}
	}
	return takeRemote(in, fmt.Sprintf("merge: the device deleted the row but the server changed %s, so server wins", strings.Join(srv, ", ")))
}

// serverDelete settles a device create or update against a server delete.
func (m *Merger) serverDelete(in Input, tie Tie) Resolution {
	changed := changedSet(in)
	var dev []string
	for _, f := range in.Entity.Fields {
		if lv, ok := in.Local[f.Name]; ok && changed[f.Name] && !lv.Equal(in.Base[f.Name]) {
			dev = append(dev, f.Name)
		}
	}
	switch {
	case len(dev) == 0:
		return takeRemote(in, "merge: the device changed nothing")
	case tie == TieManual:
		return Resolution{Decision: Manual, Reason: fmt.Sprintf("merge: the server deleted the row but the device changed %s; parked for a person", strings.Join(dev, ", "))}
	}
	return takeRemote(in, fmt.Sprintf("merge: the device changed %s but a delete cannot be merged, so server wins", strings.Join(dev, ", ")))
}
