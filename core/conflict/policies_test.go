package conflict

import (
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestServerWins(t *testing.T) {
	runCases(t, serverWins{}, []policyCase{
		{name: "update/update", in: updateUpdate(remoteEmail), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values, Reason: "took the server's row"}},
		{name: "update/server delete", in: updateServerDelete(), want: Resolution{
			Decision: TakeRemote, Delete: true, Reason: "deleted on the device"}},
		{name: "delete/update", in: deleteUpdate(remoteEmail), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values}},
		{name: "create/collision", in: createCollision(), want: Resolution{
			Decision: TakeRemote, Values: remoteExists.Values}},
		{name: "both deleted", in: bothDeletedInput(), want: Resolution{
			Decision: TakeRemote, Delete: true, Reason: "both sides deleted"}},
		{
			name: "fields the server's record lacks come from base",
			in:   updateUpdate(remote("email", "b@x")),
			want: Resolution{Decision: TakeRemote, Values: vals("name", "Ann", "email", "b@x", "phone", "1", "createdon", 100)},
		},
	})
}

func TestDeviceWins(t *testing.T) {
	readOnlyEdit := updateUpdate(remoteEmail)
	readOnlyEdit.Local = vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 999)
	readOnlyEdit.Changed = []string{"phone", "createdon"}

	alreadyThere := updateUpdate(remoteSame)

	// Neither Base nor the server's record carries email: the device keeps
	// its own, but sends only what it changed.
	unknownField := updateUpdate(remote("name", "Ann", "phone", "1", "createdon", 100))
	unknownField.Base = vals("name", "Ann", "phone", "1", "createdon", 100)

	runCases(t, deviceWins{}, []policyCase{
		{name: "update/update keeps the server's other fields", in: updateUpdate(remoteEmail), want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Ann", "email", "b@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}, Reason: "sends 1 field: phone"}},
		{name: "update/update same field", in: updateUpdate(remotePhone), want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "unknown unchanged field is kept, not sent", in: unknownField, want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "server already has the value", in: alreadyThere, want: Resolution{
			Decision: TakeLocal, Values: remoteSame.Values, Reason: "nothing to send"}},
		{name: "update/server delete re-creates", in: updateServerDelete(), want: Resolution{
			Decision: TakeLocal, Values: localPhone,
			PushOp: sdk.OpCreate, Push: []string{"name", "email", "phone"}, Reason: "re-creates"}},
		{name: "delete/update deletes on the server", in: deleteUpdate(remoteEmail), want: Resolution{
			Decision: TakeLocal, PushOp: sdk.OpDelete, Delete: true}},
		{name: "create/collision updates the set fields", in: createCollision(), want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Bob", "email", "a@x", "phone", "9", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"name", "phone"}}},
		{name: "read-only fields follow the server", in: readOnlyEdit, want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Ann", "email", "b@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "both deleted", in: bothDeletedInput(), want: Resolution{Decision: TakeRemote, Delete: true}},
	})
}

func TestDeviceWinsFull(t *testing.T) {
	readOnlyEdit := updateUpdate(remoteEmail)
	readOnlyEdit.Local = vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 999)

	runCases(t, deviceWinsFull{}, []policyCase{
		{name: "update/update sends every field", in: updateUpdate(remoteEmail), want: Resolution{
			Decision: TakeLocal, Values: localPhone,
			PushOp: sdk.OpUpdate, Push: []string{"name", "email", "phone"}, Reason: "full record"}},
		{name: "update/server delete re-creates", in: updateServerDelete(), want: Resolution{
			Decision: TakeLocal, Values: localPhone,
			PushOp: sdk.OpCreate, Push: []string{"name", "email", "phone"}}},
		{name: "delete/update deletes on the server", in: deleteUpdate(remoteEmail), want: Resolution{
			Decision: TakeLocal, PushOp: sdk.OpDelete, Delete: true}},
		{name: "create/collision", in: createCollision(), want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Bob", "email", "a@x", "phone", "9", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"name", "email", "phone"}}},
		{name: "read-only fields follow the server", in: readOnlyEdit, want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"name", "email", "phone"}}},
		{name: "both deleted", in: bothDeletedInput(), want: Resolution{Decision: TakeRemote, Delete: true}},
	})
}

func TestLastWriterWins(t *testing.T) {
	older, newer := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	at := func(in Input, local, remote time.Time) Input {
		in.LocalModified, in.RemoteModified = local, remote
		return in
	}
	runCases(t, lastWriterWins{}, []policyCase{
		{name: "newer local wins the whole record", in: at(updateUpdate(remoteEmail), newer, older), want: Resolution{
			Decision: TakeLocal, Values: localPhone,
			PushOp: sdk.OpUpdate, Push: []string{"email", "phone"}, Reason: "device change at 2026-03-01T11:00:00Z is newer"}},
		{name: "newer remote wins", in: at(updateUpdate(remoteEmail), older, newer), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values, Reason: "server change at 2026-03-01T11:00:00Z is newer"}},
		{name: "equal times go to the server", in: at(updateUpdate(remoteEmail), newer, newer), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values, Reason: "a tie goes to the server"}},
		{name: "missing remote time falls back to server-wins", in: at(updateUpdate(remoteEmail), newer, time.Time{}), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values, Reason: "server's modification time is unknown, so server wins"}},
		{name: "missing local time falls back to server-wins", in: at(updateUpdate(remoteEmail), time.Time{}, older), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values, Reason: "device's modification time is unknown"}},
		{name: "newer local update re-creates a server delete", in: at(updateServerDelete(), newer, older), want: Resolution{
			Decision: TakeLocal, Values: localPhone, PushOp: sdk.OpCreate, Push: []string{"name", "email", "phone"}}},
		{name: "newer server delete deletes locally", in: at(updateServerDelete(), older, newer), want: Resolution{
			Decision: TakeRemote, Delete: true}},
		{name: "newer local delete deletes on the server", in: at(deleteUpdate(remoteEmail), newer, older), want: Resolution{
			Decision: TakeLocal, PushOp: sdk.OpDelete, Delete: true}},
		{name: "newer remote update restores a local delete", in: at(deleteUpdate(remoteEmail), older, newer), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values}},
		{name: "newer local create over a collision", in: at(createCollision(), newer, older), want: Resolution{
			Decision: TakeLocal,
			Values:   vals("name", "Bob", "email", "a@x", "phone", "9", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"name", "phone"}}},
		{name: "time zones do not matter", in: at(updateUpdate(remoteEmail), newer.In(time.FixedZone("x", -5*3600)), older), want: Resolution{
			Decision: TakeLocal, Values: localPhone, PushOp: sdk.OpUpdate, Push: []string{"email", "phone"}}},
	})
}

func TestManual(t *testing.T) {
	runCases(t, manual{}, []policyCase{
		{name: "update/update", in: updateUpdate(remoteEmail), want: Resolution{Decision: Manual, Reason: "parked"}},
		{name: "update/server delete", in: updateServerDelete(), want: Resolution{Decision: Manual}},
		{name: "delete/update", in: deleteUpdate(remoteEmail), want: Resolution{Decision: Manual}},
		{name: "create/collision", in: createCollision(), want: Resolution{Decision: Manual}},
		{name: "both deleted needs nobody", in: bothDeletedInput(), want: Resolution{Decision: TakeRemote, Delete: true}},
	})
}
