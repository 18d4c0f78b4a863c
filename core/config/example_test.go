package config_test

import (
	"fmt"

	"github.com/fieldsync/fieldsync/core/config"
)

func ExampleParse() {
	src := []byte(`
store  = "device.db"
user   = "alice"
device = "laptop-1"

backend "mock" {
  settings = { path = "server.db" }
}

entity "contact" {
  conflict = "merge"
}

entity "account" {
  order = 0 # parents first
}
`)
	cfg, err := config.Parse(src, "/etc/fieldsync/fieldsync.hcl")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Store, cfg.Backend.Settings["path"], cfg.Sync.PageSize)
	for _, e := range cfg.Entities {
		fmt.Println(e.Order, e.Name, e.Conflict)
	}
	// Output:
	// /etc/fieldsync/device.db /etc/fieldsync/server.db 1000
	// 0 account server-wins
	// 1 contact merge
}

func ExampleParse_error() {
	src := []byte(`store = "device.db"
user  = "alice"
device = "laptop-1"
backend "mock" {}
sync {
  page_size = 50
}
entity "account" {
  conflict = "serverwins"
}
`)
	_, err := config.Parse(src, "fieldsync.hcl")
	fmt.Println(err)
	// Output:
	// fieldsync.hcl:6,3: sync: page_size: 50 is out of range; valid: 100..5000, default 1000
	// fieldsync.hcl:9,3: entity "account": unknown conflict policy "serverwins"; valid: server-wins, device-wins, device-wins-full, merge, last-writer-wins, manual
}
