package engine

import (
	"context"
	"testing"
)

// overlap makes one account edited on the device and on the server since
// the device's last sync: the device changes city (and maybe name), the
// server changes name.
func overlap(t *testing.T, policy string, deviceSetsName bool) (*world, *device, string) {
	w := newWorld(t, 5)
	d := w.device("dev", []EntityConfig{{Name: "account", Conflict: policy, ModifiedField: "createdon"}})
	d.sync()
	id := d.text("SELECT accountid FROM account ORDER BY accountid LIMIT 1")
	set := "city = 'DeviceCity'"
	if deviceSetsName {
		set += ", name = 'DeviceName'"
	}
	d.exec("UPDATE account SET " + set + " WHERE accountid = '" + id + "'")
	w.exec("UPDATE account SET name = 'ServerName' WHERE accountid = '" + id + "'")
	return w, d, id
}

func TestConflictPolicies(t *testing.T) {
	tests := []struct {
		policy         string
		deviceSetsName bool
		// what the server and the device hold afterwards
		name, city string
		parked     int
	}{
		// server-wins: the device's edit is dropped.
		{"server-wins", true, "ServerName", "", 0},
		// device-wins sends only the fields the device changed: the
		// server's name stays, the device's city lands.
		{"device-wins", false, "ServerName", "DeviceCity", 0},
		{"device-wins", true, "DeviceName", "DeviceCity", 0},
		// device-wins-full sends every field: the device's stale name
		// overwrites the server's.
		{"device-wins-full", false, "", "DeviceCity", 0},
		// merge: non-overlapping fields combine.
		{"merge", false, "ServerName", "DeviceCity", 0},
		// merge with both changing name: the tie goes to the server.
		{"merge", true, "ServerName", "DeviceCity", 0},
		// manual: parked, nothing moves until a person decides.
		{"manual", true, "ServerName", "", 1},
	}
	for _, tt := range tests {
		name := tt.policy
		if tt.deviceSetsName {
			name += "/both-change-name"
		}
		t.Run(name, func(t *testing.T) {
			w, d, id := overlap(t, tt.policy, tt.deviceSetsName)
			before := d.text("SELECT name FROM account WHERE accountid = '" + id + "'")
			lg := d.sync()
			if lg.Upload.Conflicts != 1 || lg.Upload.Parked != tt.parked {
				t.Fatalf("upload log %+v, want 1 conflict, %d parked", lg.Upload, tt.parked)
			}
			lg = d.sync() // what the policy queued goes up; the device settles
			wantName := tt.name
			if wantName == "" {
				wantName = before // the device's unchanged (stale) value
			}
			srvName := w.text("SELECT name FROM account WHERE accountid = '" + id + "'")
			srvCity := w.text("SELECT coalesce(city, '') FROM account WHERE accountid = '" + id + "'")
			if srvName != wantName {
				t.Errorf("server name %q, want %q", srvName, wantName)
			}
			if tt.city != "" && srvCity != tt.city {
				t.Errorf("server city %q, want %q", srvCity, tt.city)
			}
			if tt.parked == 0 {
				devName := d.text("SELECT name FROM account WHERE accountid = '" + id + "'")
				devCity := d.text("SELECT coalesce(city, '') FROM account WHERE accountid = '" + id + "'")
				if devName != srvName || devCity != srvCity {
					t.Errorf("device has %q/%q, server %q/%q", devName, devCity, srvName, srvCity)
				}
				if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 0 {
					t.Errorf("%d changes left in the outbox", n)
				}
			} else {
				if n := d.count("SELECT count(*) FROM _fs_conflict WHERE resolved_at IS NULL"); n != 1 {
					t.Fatalf("%d open conflicts, want 1", n)
				}
				if got := d.text("SELECT city FROM account WHERE accountid = '" + id + "'"); got != "DeviceCity" {
					t.Errorf("a parked conflict changed the device's row: city %q", got)
				}
			}
		})
	}
}

func TestManualResolutionReachesTheServer(t *testing.T) {
	for _, take := range []string{"local", "server"} {
		t.Run(take, func(t *testing.T) {
			w, d, id := overlap(t, "manual", true)
			d.sync()
			cs, err := d.store.Conflicts(context.Background(), false)
			if err != nil || len(cs) != 1 {
				t.Fatalf("conflicts %v %v", cs, err)
			}
			if cs[0].Local["name"].Str() != "DeviceName" || cs[0].Remote["name"].Str() != "ServerName" {
				t.Fatalf("conflict holds local %v remote %v", cs[0].Local["name"], cs[0].Remote["name"])
			}
			out := keepLocal
			want := "DeviceName"
			if take == "server" {
				out, want = keepRemote, "ServerName"
			}
			if err := d.store.ResolveConflict(context.Background(), cs[0].ID, out); err != nil {
				t.Fatal(err)
			}
			d.sync()
			if got := w.text("SELECT name FROM account WHERE accountid = '" + id + "'"); got != want {
				t.Fatalf("server name %q, want %q", got, want)
			}
			if got := d.text("SELECT name FROM account WHERE accountid = '" + id + "'"); got != want {
				t.Fatalf("device name %q, want %q", got, want)
			}
		})
	}
}

func TestLastWriterWins(t *testing.T) {
	// createdon stands in for the server's modification time: set far in
	// the past, the device's later edit wins; far in the future, the server.
	for _, tt := range []struct {
		when, want string
	}{
		{"2001-01-01T00:00:00Z", "DeviceName"},
		{"2999-01-01T00:00:00Z", "ServerName"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			w, d, id := overlap(t, "last-writer-wins", true)
			w.exec("UPDATE account SET createdon = CAST(unixepoch('" + tt.when + "') AS INTEGER) * 1000000 WHERE accountid = '" + id + "'")
			d.sync()
			d.sync()
			if got := w.text("SELECT name FROM account WHERE accountid = '" + id + "'"); got != tt.want {
				t.Fatalf("server name %q, want %q", got, tt.want)
			}
		})
	}
}
