package config

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

const rolesSrc = `
store   = "device.db"
user    = "alice"
device  = "d1"
roles   = %s
backend "mock" {}

entity "account" {
  fields = ["name", "city"]
  where  = "active eq true"
}

role "sales" {
  entity "account" {
    fields = ["name", "revenue"]
    where  = "city eq 'Oslo'"
    order  = 5
  }
  entity "opportunity" {
    where     = "ownerid eq-userid and statecode eq 0"
    conflict  = "merge"
    sync_mode = "full"
  }
  entity "contact" {
    download_only_related = true
  }
}

role "service" {
  entity "account" {
    order = 2
  }
  entity "opportunity" {
    filter {
      condition {
        field = "statecode"
        op    = "in"
        values = [1, 2]
      }
    }
  }
  entity "contact" {
    download_only_related = true
  }
  entity "task" {
    online_only = true
  }
}
`

func parseRoles(t *testing.T, roles string) *Config {
	t.Helper()
	stubHostname(t, "h", nil)
	cfg, err := Parse([]byte(strings.Replace(rolesSrc, "%s", roles, 1)), "/etc/fieldsync/fieldsync.hcl")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

func entityNamed(cfg *Config, name string) *Entity {
	for i := range cfg.Entities {
		if cfg.Entities[i].Name == name {
			return &cfg.Entities[i]
		}
	}
	return nil
}

// TestRoleUnion: a user with two roles gets the union of what they select.
func TestRoleUnion(t *testing.T) {
	one := parseRoles(t, `["sales"]`)
	if names := entityNames(one); names != "account,contact,opportunity" {
		t.Errorf("sales alone: entities %s", names)
	}
	acc := entityNamed(one, "account")
	if got := sdk.FormatFilter(acc.Filter); got != "active eq true or city eq 'Oslo'" {
		t.Errorf("sales account filter: %s", got)
	}
	if strings.Join(acc.Fields, ",") != "name,city,revenue" {
		t.Errorf("sales account fields: %v", acc.Fields)
	}

	both := parseRoles(t, `["sales", "service"]`)
	if names := entityNames(both); names != "account,contact,opportunity,task" {
		t.Errorf("both roles: entities %s", names)
	}
	acc = entityNamed(both, "account")
	if acc.Filter != nil {
		t.Errorf("service selects every account, so the union has no filter; got %s", sdk.FormatFilter(acc.Filter))
	}
	if acc.Fields != nil {
		t.Errorf("service selects every field; got %v", acc.Fields)
	}
	if acc.Order != 2 {
		t.Errorf("order is the lowest a role sets: %d", acc.Order)
	}
	opp := entityNamed(both, "opportunity")
	if got := sdk.FormatFilter(opp.Filter); got != "(ownerid eq-userid and statecode eq 0) or statecode in (1, 2)" {
		t.Errorf("opportunity union filter: %s", got)
	}
	if opp.SyncMode != SyncFull || opp.Conflict != "merge" {
		t.Errorf("opportunity: mode %s, conflict %s", opp.SyncMode, opp.Conflict)
	}
	if c := entityNamed(both, "contact"); !c.RelatedOnly {
		t.Error("contact lost download_only_related")
	}
	if task := entityNamed(both, "task"); !task.OnlineOnly {
		t.Error("task should be online only")
	}

	none := parseRoles(t, `[]`)
	if names := entityNames(none); names != "account" {
		t.Errorf("no roles: entities %s", names)
	}
}

func entityNames(cfg *Config) string {
	var names []string
	for _, e := range cfg.Entities {
		names = append(names, e.Name)
	}
	// Order is by the order attribute; compare as a set.
	sortStrings(names)
	return strings.Join(names, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestRoleErrors(t *testing.T) {
	stubHostname(t, "h", nil)
	tests := []struct{ name, src, want string }{
		{"unknown role", `roles = ["nope"]`, `roles: no role block "nope"`},
		{"bad filter text", `roles = ["r"]
role "r" {
  entity "account" { where = "city eq" }
}`, `role "r": entity "account": where`},
		{"both forms", `roles = ["r"]
role "r" {
  entity "account" {
    where = "city eq 'x'"
    filter {
      condition {
        field = "city"
        op    = "eq"
        value = "y"
      }
    }
  }
}`, "both where and a filter block"},
		{"conflicting policies", `roles = ["a", "b"]
role "a" {
  entity "account" { conflict = "merge" }
}
role "b" {
  entity "account" { conflict = "server-wins" }
}`, "roles choose different conflict policies"},
		{"related disagreement", `roles = ["a", "b"]
role "a" {
  entity "contact" { download_only_related = true }
}
role "b" {
  entity "contact" {}
}`, "disagree on download_only_related"},
		{"bad sync mode", `entity "account" { sync_mode = "sometimes" }`, "unknown sync_mode"},
		{"online only with filter", `entity "account" {
  online_only = true
  where = "city eq 'x'"
}`, "an online_only entity is not downloaded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "store = \"d.db\"\nuser = \"u\"\nbackend \"mock\" {}\n" + tc.src
			_, err := Parse([]byte(src), "f.hcl")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want it to contain %q", err, tc.want)
			}
		})
	}
}
