package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/fieldsync/fieldsync/plugins/mock"
)

// The demo's second part: two more users of the same server with different
// roles. Their config files declare the same two roles and differ in one
// line, the roles the user has; the server filters, so each device gets
// exactly its role's rows.

// demoRoles is the role part of both users' configs.
const demoRoles = `# Both roles are declared in every config; "roles" says which the user has.
role "sales" {
  # Every account, and the user's own open opportunities.
  entity "account" {}
  entity "opportunity" {
    where = "ownerid eq-userid and statecode eq 0"
  }
}

role "service" {
  # The accounts of three cities, and only the contacts of those accounts.
  entity "account" {
    fields = ["name", "city", "email", "active"]
    filter {
      condition {
        field  = "city"
        op     = "in"
        values = ["Oslo", "Helsinki", "Stockholm"]
      }
    }
  }
  entity "contact" {
    download_only_related = true
  }
}
`

func demoRoleConfig(name, role string) string {
	return fmt.Sprintf(`# fieldsync demo: %[1]s, who has the %[2]s role. Sync it again with
#   fieldsync --config %[1]s.hcl sync

store  = "%[1]s.db"
user   = "%[1]s"
device = "%[1]s-tablet"
roles  = ["%[2]s"]

backend "mock" {
  plugin = "builtin"
  settings = {
    path = "server.db"
    user = "%[1]s"
  }
}

%[3]s`, name, role, demoRoles)
}

// roles adds carol (sales) and dave (service) as users of the server,
// gives carol half of the opportunities, syncs both and checks that each
// device holds exactly what its role's filters select on the server.
func (d *demo) roles() error {
	d.say("7. Roles: two more users of the same server, with different roles")
	srv, err := mock.OpenServer(d.ctx, d.server)
	if err != nil {
		return fail(err, "cannot open the mock server %s", d.server)
	}
	carol, err := srv.AddUser(d.ctx, "carol", "b0000000-0000-4000-8000-000000000001")
	if err == nil {
		_, err = srv.AddUser(d.ctx, "dave", "b0000000-0000-4000-8000-000000000001")
	}
	if err == nil {
		err = srv.AssignOwners(d.ctx, "opportunity", "ownerid", []string{carol, "0be00000-0000-4000-8000-000000000002"})
	}
	srv.Close()
	if err != nil {
		return fail(err, "cannot add the demo's users to the mock server")
	}
	devs := []struct {
		dev  demoDevice
		role string
	}{
		{demoDevice{name: "carol", how: "role sales"}, "sales"},
		{demoDevice{name: "dave", how: "role service"}, "service"},
	}
	for i := range devs {
		dv := &devs[i].dev
		dv.cfg = filepath.Join(d.dir, dv.name+".hcl")
		dv.db = filepath.Join(d.dir, dv.name+".db")
		if err := os.WriteFile(dv.cfg, []byte(demoRoleConfig(dv.name, devs[i].role)), 0o644); err != nil {
			return fail(err, "cannot write %s", dv.cfg)
		}
		lg, err := d.sync(*dv)
		if err != nil {
			return err
		}
		received, _, _ := lg.Counts()
		d.say("   %-5s  %s: %s in %s", dv.name, dv.how, counted(received, "record", "records"), dur(logDuration(lg)))
	}

	srvDB, err := openSQL(d.server)
	if err != nil {
		return fail(err, "cannot open the server file")
	}
	defer srvDB.Close()
	checks := []struct {
		dev, entity, label, serverQuery string
	}{
		{"carol", "account", "every account", `SELECT count(*) FROM account`},
		{"carol", "opportunity", "her open opportunities", `SELECT count(*) FROM opportunity WHERE ownerid = '` + carol + `' AND statecode = 0`},
		{"carol", "contact", "no contacts (not in her role)", ``},
		{"dave", "account", "accounts in Oslo, Helsinki, Stockholm", `SELECT count(*) FROM account WHERE city IN ('Oslo', 'Helsinki', 'Stockholm')`},
		{"dave", "contact", "only those accounts' contacts", `SELECT count(*) FROM contact WHERE parentaccountid IN (SELECT accountid FROM account WHERE city IN ('Oslo', 'Helsinki', 'Stockholm'))`},
		{"dave", "opportunity", "no opportunities (not in his role)", ``},
	}
	d.say("   %-5s  %-12s %8s %8s  %s", "user", "entity", "device", "server", "what the role selects")
	for _, c := range checks {
		dev, err := openSQL(filepath.Join(d.dir, c.dev+".db"))
		if err != nil {
			return fail(err, "cannot open %s's store", c.dev)
		}
		onDevice := "—"
		if has, _ := dev.value(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, c.entity); has == "1" {
			onDevice, err = dev.value(`SELECT count(*) FROM ` + c.entity)
		}
		dev.Close()
		if err != nil {
			return fail(err, "cannot count %s's %s", c.dev, c.entity)
		}
		want := "—"
		if c.serverQuery != "" {
			if want, err = srvDB.value(c.serverQuery); err != nil {
				return fail(err, "cannot count the server's %s", c.entity)
			}
		}
		total, _ := srvDB.value(`SELECT count(*) FROM ` + c.entity)
		mark := "✓"
		if onDevice != want {
			mark = "✗"
			d.failed++
		}
		d.say("   %-5s  %-12s %8s %8s  %s %s (of %s on the server)", c.dev, c.entity, onDevice, want, mark, c.label, total)
	}
	if n, _ := strconv.Atoi(mustValue(srvDB, `SELECT count(*) FROM opportunity WHERE ownerid = '`+carol+`' AND statecode = 0`)); n == 0 {
		d.say("   (carol owns no open opportunity in this seed: try more --records)")
	}
	return nil
}

func mustValue(f *sqlFile, q string) string {
	v, _ := f.value(q)
	return v
}
