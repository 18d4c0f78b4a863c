package conflict

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func mustMerge(t *testing.T, tie Tie) *Merger {
	t.Helper()
	m, err := NewMerge(tie)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMerge(t *testing.T) {
	byDevice, byManual := mustMerge(t, TieDevice), mustMerge(t, TieManual)

	// The device changes name and phone; the server changes email and phone.
	both := updateUpdate(remote("name", "Ann", "email", "b@x", "phone", "3", "createdon", 100))
	both.Local = vals("name", "Anna", "email", "a@x", "phone", "2", "createdon", 100)
	both.Changed = []string{"name", "phone"}

	// Changed lists phone, but the device set it back to its base value.
	reverted := updateUpdate(remoteEmail)
	reverted.Local = base

	// The device changed nothing the server deleted.
	revertedDeleted := updateServerDelete()
	revertedDeleted.Local = base

	// The device's record differs from Base in email, but Changed does not
	// list it: the device did not change it, so the server's value stays.
	unlisted := updateUpdate(remoteAsBase)
	unlisted.Local = vals("name", "Ann", "email", "c@x", "phone", "2", "createdon", 100)

	// Only the server writes a read-only field, whatever the device did.
	readOnlyEdit := updateUpdate(remoteEmail)
	readOnlyEdit.Local = vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 999)
	readOnlyEdit.Changed = []string{"phone", "createdon"}

	noBase := deleteUpdate(remoteAsBase)
	noBase.Base = nil

	// The server changed only the read-only field: not an edit to merge,
	// but still a server change a delete must not overrule.
	touched := deleteUpdate(remote("name", "Ann", "email", "a@x", "phone", "1", "createdon", 200))

	runCases(t, mustMerge(t, ""), []policyCase{
		{name: "non-overlapping fields", in: updateUpdate(remoteEmail), want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Ann", "email", "b@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"},
			Reason: "merge: from the device: phone; from the server: email"}},
		{name: "same field, same value", in: updateUpdate(remoteSame), want: Resolution{
			Decision: Merge, Values: remoteSame.Values, Reason: "same on both sides: phone"}},
		{name: "same field, different values: server by default", in: updateUpdate(remotePhone), want: Resolution{
			Decision: Merge, Values: remotePhone.Values, Reason: "changed differently on both sides, server kept: phone"}},
		{name: "tie device", policy: byDevice, in: updateUpdate(remotePhone), want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}, Reason: "device kept: phone"}},
		{name: "tie manual", policy: byManual, in: updateUpdate(remotePhone), want: Resolution{
			Decision: Manual, Reason: "both sides changed phone differently"}},
		{name: "tie manual without a tie merges", policy: byManual, in: updateUpdate(remoteEmail), want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Ann", "email", "b@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "overlapping and non-overlapping", in: both, want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Anna", "email", "b@x", "phone", "3", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"name"}}},
		{name: "overlapping and non-overlapping, tie device", policy: byDevice, in: both, want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Anna", "email", "b@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"name", "phone"}}},
		{name: "a change reverted is no change", in: reverted, want: Resolution{
			Decision: Merge, Values: remoteEmail.Values}},
		{name: "only fields Changed lists are the device's", in: unlisted, want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Ann", "email", "a@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "read-only fields follow the server", in: readOnlyEdit, want: Resolution{
			Decision: Merge,
			Values:   vals("name", "Ann", "email", "b@x", "phone", "2", "createdon", 100),
			PushOp:   sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "create/collision merges against an empty base", in: createCollision(), want: Resolution{
			Decision: Merge,
			// name: both set it differently (tie: server); email: same on
			// both; phone: only the device set it.
			Values: vals("name", "Ann", "email", "a@x", "phone", "9", "createdon", 100),
			PushOp: sdk.OpUpdate, Push: []string{"phone"}}},
		{name: "create/collision, tie manual", policy: byManual, in: createCollision(), want: Resolution{
			Decision: Manual, Reason: "name"}},
		{name: "update/server delete: server wins", in: updateServerDelete(), want: Resolution{
			Decision: TakeRemote, Delete: true, Reason: "device changed phone but a delete cannot be merged"}},
		{name: "update/server delete, tie manual", policy: byManual, in: updateServerDelete(), want: Resolution{
			Decision: Manual, Reason: "server deleted the row but the device changed phone"}},
		{name: "unchanged/server delete, tie manual", policy: byManual, in: revertedDeleted, want: Resolution{
			Decision: TakeRemote, Delete: true, Reason: "device changed nothing"}},
		{name: "delete/update: server wins", in: deleteUpdate(remoteEmail), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values, Reason: "server changed email, so server wins"}},
		{name: "delete/update, tie device still server", policy: byDevice, in: deleteUpdate(remoteEmail), want: Resolution{
			Decision: TakeRemote, Values: remoteEmail.Values}},
		{name: "delete/update, tie manual", policy: byManual, in: deleteUpdate(remoteEmail), want: Resolution{
			Decision: Manual, Reason: "server changed email"}},
		{name: "delete/unchanged: delete wins", in: deleteUpdate(remoteAsBase), want: Resolution{
			Decision: TakeLocal, PushOp: sdk.OpDelete, Delete: true, Reason: "server changed nothing"}},
		{name: "delete/read-only change", in: touched, want: Resolution{
			Decision: TakeRemote, Values: touched.Remote.Values, Reason: "server changed createdon"}},
		{name: "delete without base", in: noBase, want: Resolution{
			Decision: TakeRemote, Values: remoteAsBase.Values, Reason: "with no base"}},
		{name: "both deleted", in: bothDeletedInput(), want: Resolution{Decision: TakeRemote, Delete: true}},
	})
}

func TestNewMerge(t *testing.T) {
	for _, tie := range []Tie{"", TieServer, TieDevice, TieManual} {
		m, err := NewMerge(tie)
		if err != nil {
			t.Fatalf("NewMerge(%q): %v", tie, err)
		}
		want := tie
		if want == "" {
			want = TieServer
		}
		if m.Tie() != want {
			t.Errorf("NewMerge(%q).Tie() = %q, want %q", tie, m.Tie(), want)
		}
		if m.Name() != MergeFields {
			t.Errorf("Name() = %q", m.Name())
		}
	}
	_, err := NewMerge("client")
	if err == nil || !strings.Contains(err.Error(), "server, device, manual") {
		t.Errorf("NewMerge(client) = %v, want an error listing the rules", err)
	}
	// The zero and nil Mergers break ties for the server.
	for _, m := range []*Merger{{}, nil} {
		r, err := m.Resolve(updateUpdate(remotePhone))
		if err != nil || r.Decision != Merge || !r.Values["phone"].Equal(sdk.String("3")) {
			t.Errorf("%v.Resolve = %+v, %v; want the server's phone", m, r, err)
		}
	}
}
