package conflict

import (
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Names of the built-in policies, as configuration spells them.
const (
	ServerWins     = "server-wins"
	DeviceWins     = "device-wins"
	DeviceWinsFull = "device-wins-full"
	MergeFields    = "merge"
	LastWriterWins = "last-writer-wins"
	ManualReview   = "manual"
)

// DefaultPolicy is the policy of an entity whose configuration names none.
const DefaultPolicy = ServerWins

// serverWins always takes the server's side.
type serverWins struct{}

func (serverWins) Name() string { return ServerWins }

// Resolve takes the server's row, or deletes the device's copy when the
// server deleted it. The device's pending change is dropped.
func (serverWins) Resolve(in Input) (Resolution, error) {
	if err := Validate(in); err != nil {
		return Resolution{}, err
	}
	if r, ok := bothDeleted(in); ok {
		return r, nil
	}
	return takeRemote(in, "server wins"), nil
}

// deviceWins takes the device's side but sends only what the device changed,
// so the server keeps other users' edits to the other fields.
type deviceWins struct{}

func (deviceWins) Name() string { return DeviceWins }

// Resolve sends the device's Changed fields (those the server does not
// already hold) as an update against the server's row, and the device keeps
// the server's row with those fields on top. When the server deleted the row,
// the device re-creates it with every local field; a local delete deletes the
// row on the server. A local create that collides with an existing row is an
// update of the fields the device set.
func (deviceWins) Resolve(in Input) (Resolution, error) {
	if err := Validate(in); err != nil {
		return Resolution{}, err
	}
	if r, ok := bothDeleted(in); ok {
		return r, nil
	}
	if in.LocalOp == sdk.OpDelete || in.Remote == nil {
		return takeLocal(in, TakeLocal, nil, nil, "device wins"), nil
	}
	changed := changedSet(in)
	vals := map[string]sdk.Value{}
	for _, f := range in.Entity.Fields {
		lv, local := in.Local[f.Name]
		rv, remote := remoteValue(in, f.Name)
		switch {
		case changed[f.Name] && local && !f.ReadOnly:
			vals[f.Name] = lv
		case remote:
			vals[f.Name] = rv
		case local:
			vals[f.Name] = lv
		}
	}
	pick := func(f string) bool {
		_, local := in.Local[f]
		return changed[f] && local && differs(in, f, vals[f])
	}
	return takeLocal(in, TakeLocal, vals, pick, "device wins (changed fields)"), nil
}

// deviceWinsFull takes the device's whole record.
type deviceWinsFull struct{}

func (deviceWinsFull) Name() string { return DeviceWinsFull }

// Resolve sends every writable field of the device's record, changed or not,
// so the server's row becomes the device's; other users' edits to fields the
// device did not touch are overwritten. Deletes go as in device-wins.
func (deviceWinsFull) Resolve(in Input) (Resolution, error) {
	if err := Validate(in); err != nil {
		return Resolution{}, err
	}
	if r, ok := bothDeleted(in); ok {
		return r, nil
	}
	pick := func(f string) bool { _, ok := in.Local[f]; return ok }
	return takeLocal(in, TakeLocal, nil, pick, "device wins (full record)"), nil
}

// lastWriterWins lets the side modified later win the whole record.
type lastWriterWins struct{}

func (lastWriterWins) Name() string { return LastWriterWins }

// Resolve compares LocalModified with RemoteModified. A newer device change
// wins the whole record: the device sends the fields where its record differs
// from the server's (a re-create when the server deleted the row, a delete
// when the device deleted it). A newer server change, an equal time, or an
// unknown time on either side means the server wins, because a clock that
// cannot be compared proves nothing.
func (lastWriterWins) Resolve(in Input) (Resolution, error) {
	if err := Validate(in); err != nil {
		return Resolution{}, err
	}
	if r, ok := bothDeleted(in); ok {
		return r, nil
	}
	switch {
	case in.RemoteModified.IsZero():
		return takeRemote(in, "last writer wins: the server's modification time is unknown, so server wins"), nil
	case in.LocalModified.IsZero():
		return takeRemote(in, "last writer wins: the device's modification time is unknown, so server wins"), nil
	}
	lt, rt := in.LocalModified.UTC().Format(time.RFC3339Nano), in.RemoteModified.UTC().Format(time.RFC3339Nano)
	switch {
	case in.LocalModified.After(in.RemoteModified):
		why := fmt.Sprintf("last writer wins: device change at %s is newer than server's at %s", lt, rt)
		pick := func(f string) bool {
			v, ok := in.Local[f]
			return ok && differs(in, f, v)
		}
		return takeLocal(in, TakeLocal, nil, pick, why), nil
	case in.LocalModified.Equal(in.RemoteModified):
		return takeRemote(in, fmt.Sprintf("last writer wins: both sides modified at %s, a tie goes to the server", rt)), nil
	}
	return takeRemote(in, fmt.Sprintf("last writer wins: server change at %s is newer than device's at %s", rt, lt)), nil
}

// manual parks every conflict for a person.
type manual struct{}

func (manual) Name() string { return ManualReview }

// Resolve answers Manual, except when both sides deleted the row: there is
// nothing for a person to decide then.
func (manual) Resolve(in Input) (Resolution, error) {
	if err := Validate(in); err != nil {
		return Resolution{}, err
	}
	if r, ok := bothDeleted(in); ok {
		return r, nil
	}
	return Resolution{Decision: Manual, Reason: "parked for a person to resolve (policy manual)"}, nil
}

var (
	_ Policy = serverWins{}
	_ Policy = deviceWins{}
	_ Policy = deviceWinsFull{}
	_ Policy = lastWriterWins{}
	_ Policy = manual{}
	_ Policy = (*Merger)(nil)
)
