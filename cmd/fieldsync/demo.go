package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/plugins/mock"
)

var demoFlags struct {
	dir     string
	records int
	keep    bool
}

var demoCmd = &cobra.Command{
	Use:   "demo",
	Short: "Devices and one mock server: sync, edit everywhere, a conflict, convergence, roles",
	Long: `Runs a self-contained tour that needs no setup: it seeds a mock server with
accounts, contacts and opportunities, gives two devices (alice and bob) a
store and a config each, syncs both (alice through a subprocess plugin that
is this very binary, bob in-process), edits on both devices with plain SQL as
a host app would, edits the server as an admin would, including one edit
that overlaps with alice's, syncs again, shows how the conflict was settled
and checks that everyone converged. Then two more users with different roles
(carol: sales, dave: service) sync from the same server, and each device is
checked to hold exactly the rows its role's filters select.

The files stay in the demo directory to inspect (sqlite3 alice.db …) or to
sync again (fieldsync --config DIR/alice.hcl sync).`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runDemo(cmd.Context(), cmd.OutOrStdout())
	},
}

func init() {
	f := demoCmd.Flags()
	f.StringVar(&demoFlags.dir, "dir", "", "the demo directory (default: a new ./fieldsync-demo-<time>)")
	f.IntVar(&demoFlags.records, "records", 2000, "accounts to seed (plus 2 contacts and 1 opportunity each)")
	f.BoolVar(&demoFlags.keep, "keep", true, "keep the demo directory afterwards (--keep=false removes it)")
	root.AddCommand(demoCmd)
}

// demoDevice is one of the demo's devices.
type demoDevice struct {
	name string // alice or bob: also the store's and the config's base name
	how  string // how its connector is loaded, for the output
	cfg  string // config path
	db   string // store path
}

// demo is one run of the tour.
type demo struct {
	ctx     context.Context
	w       io.Writer
	dir     string
	started time.Time
	alice   demoDevice
	bob     demoDevice
	server  string // server file
	plugin  string // the command alice's config starts as its plugin
	failed  int    // convergence checks that failed
	t       targets
}

// minDemoRecords leaves the demo enough rows to pick distinct ones to edit.
const minDemoRecords = 10

func runDemo(ctx context.Context, w io.Writer) error {
	if demoFlags.records < minDemoRecords {
		return failQuiet(nil, "--records must be at least %d, not %d", minDemoRecords, demoFlags.records)
	}
	dir, err := demoDir(demoFlags.dir)
	if err != nil {
		return err
	}
	d := &demo{ctx: ctx, w: w, dir: dir, started: time.Now(), server: filepath.Join(dir, serverFile)}
	err = d.run()
	if !demoFlags.keep {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fail(rerr, "cannot remove the demo directory %s", dir)
		}
	}
	return err
}

// demoDir makes the demo's directory: the one named, which must not hold
// an earlier demo, or a new one named after the time.
func demoDir(dir string) (string, error) {
	if dir == "" {
		base := "fieldsync-demo-" + time.Now().Format("20060102-150405")
		dir = base
		for i := 2; ; i++ {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				break
			}
			dir = fmt.Sprintf("%s-%d", base, i)
		}
	}
	for _, f := range []string{serverFile, "alice.db", "bob.db", "carol.db", "dave.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return "", failQuiet(nil, "%s already holds a demo (%s); pick another --dir or remove it", dir, f)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fail(err, "cannot create the demo directory %s", dir)
	}
	return dir, nil
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.w, format+"\n", args...) }

func (d *demo) run() error {
	keep := "kept afterwards to inspect"
	if !demoFlags.keep {
		keep = "removed afterwards"
	}
	d.say("fieldsync demo · files in %s (%s)", d.dir, keep)
	d.say("")
	if err := d.seed(); err != nil {
		return err
	}
	if err := d.devices(); err != nil {
		return err
	}
	d.say("")
	d.say("2. First sync of both devices")
	for _, dev := range []demoDevice{d.alice, d.bob} {
		lg, err := d.sync(dev)
		if err != nil {
			return err
		}
		received, _, _ := lg.Counts()
		d.say("   %-5s  %s in %s  (%s)", dev.name, counted(received, "record", "records"), dur(logDuration(lg)), dev.how)
	}
	d.say("")
	d.say("3. Edits while the devices are offline (plain SQL, no fieldsync code involved)")
	if err := d.edit(); err != nil {
		return err
	}
	d.say("")
	d.say("4. Sync again: both devices, twice (the second round brings alice what bob sent after her)")
	for round := 1; round <= 2; round++ {
		for _, dev := range []demoDevice{d.alice, d.bob} {
			lg, err := d.sync(dev)
			if err != nil {
				return err
			}
			d.say("   %-5s  %s", dev.name, moved(lg))
		}
	}
	d.say("")
	if err := d.report(); err != nil {
		return err
	}
	d.say("")
	if err := d.roles(); err != nil {
		return err
	}
	d.say("")
	if d.failed > 0 {
		return failQuiet(nil, "%d of the convergence checks failed; the files in %s show where", d.failed, d.dir)
	}
	d.say("Done in %s.", dur(time.Since(d.started)))
	if demoFlags.keep {
		p := commandPrefix()
		if !filepath.IsAbs(d.plugin) {
			p = filepath.Join(d.dir, d.plugin) // the copy runs from anywhere
		}
		d.say("Look around:")
		d.say("  %s --config %s status", p, d.alice.cfg)
		d.say("  %s --config %s log show", p, d.alice.cfg)
		d.say("  sqlite3 %s \"SELECT name, city FROM account WHERE accountid = '%s'\"", d.bob.db, d.t.conflict.id)
	}
	return nil
}

// seed creates the mock server and fills it.
func (d *demo) seed() error {
	start := time.Now()
	srv, err := mock.Create(d.ctx, d.server)
	if err != nil {
		return fail(err, "cannot create the mock server %s", d.server)
	}
	defer srv.Close()
	n := demoFlags.records
	if err := srv.Seed(d.ctx, mock.SeedOptions{Accounts: n, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Seed: 7}); err != nil {
		return fail(err, "cannot seed the mock server")
	}
	d.say("1. A mock server (%s): %s, %s, %s  (%s)", serverFile, counted(n, "account", "accounts"),
		counted(2*n, "contact", "contacts"), counted(n, "opportunity", "opportunities"), dur(time.Since(start)))
	return nil
}

// devices writes the two devices' configs. alice's connector is this
// binary serving the mock as a subprocess plugin; bob's runs in-process.
func (d *demo) devices() error {
	cmd, err := demoPluginCommand(d.dir)
	if err != nil {
		return err
	}
	d.plugin = cmd
	d.alice = demoDevice{name: "alice", how: "subprocess plugin: fieldsync plugin serve mock"}
	d.bob = demoDevice{name: "bob", how: "in-process connector"}
	for _, dev := range []*demoDevice{&d.alice, &d.bob} {
		dev.cfg = filepath.Join(d.dir, dev.name+".hcl")
		dev.db = filepath.Join(d.dir, dev.name+".db")
		src := demoConfig(dev.name, cmd, dev == &d.alice)
		if err := os.WriteFile(dev.cfg, []byte(src), 0o644); err != nil {
			return fail(err, "cannot write %s", dev.cfg)
		}
	}
	d.say("   Devices: alice (alice.hcl, alice.db) and bob (bob.hcl, bob.db)")
	if !filepath.IsAbs(cmd) {
		d.say("   alice's plugin: %s, a copy of this program that outlives `go run`", filepath.Join(d.dir, cmd))
	}
	return nil
}

// demoConfig is a device's config file. alice settles account conflicts
// by a field-level merge; bob keeps the default, server-wins.
func demoConfig(name, pluginCmd string, subprocess bool) string {
	backend := `  # This device's connector runs inside fieldsync (in-process).
  plugin = "builtin"`
	if subprocess {
		backend = fmt.Sprintf(`  # This device's connector runs as a subprocess plugin: fieldsync
  # itself, serving its built-in mock connector over go-plugin gRPC.
  plugin  = "subprocess"
  command = %s
  args    = ["plugin", "serve", "mock"]`, hclString(pluginCmd))
	}
	policy := `# A record changed both here and on the server keeps the server's version
# (server-wins, the default).
entity "account" {}`
	if subprocess {
		policy = `# A record changed both here and on the server is merged field by field;
# a field both sides changed keeps the server's value (merge's tie rule).
entity "account" {
  conflict = "merge"
}`
	}
	return fmt.Sprintf(`# fieldsync demo: the device %[1]s. Sync it again with
#   fieldsync --config %[1]s.hcl sync
# (relative paths below are relative to this file's directory).

store  = "%[1]s.db"
user   = "%[1]s"
device = "%[1]s-laptop"

backend "mock" {
%[2]s
  settings = {
    path = "server.db"
    user = "%[1]s"
  }
}

%[3]s
entity "contact" {}
entity "opportunity" {}
`, name, backend, policy)
}

// hclString quotes s as an HCL string: backslashes and quotes escaped, and
// "${" and "%%{" kept as text rather than template.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", "$${", "%{", "%%{", "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// executable is this program's path with symlinks resolved ("" if unknown).
func executable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe
}

// demoPluginCommand is the command alice's config starts as its plugin:
// this binary. Under `go run` (or `go test`) the binary lives in the go
// command's build cache and is deleted when it exits, so it is linked (or
// copied) into the demo directory, where alice.hcl keeps working.
func demoPluginCommand(dir string) (string, error) {
	exe := executable()
	if exe == "" {
		return "", failQuiet(nil, "cannot find this program's own executable to serve the plugin from")
	}
	if !strings.Contains(exe, "go-build") {
		return exe, nil
	}
	name := "fieldsync"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	dst := filepath.Join(dir, name)
	if err := os.Link(exe, dst); err != nil {
		if err := copyFile(exe, dst); err != nil {
			return "", fail(err, "cannot copy this program into %s to serve the plugin", dir)
		}
	}
	return "./" + name, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sync runs one cycle of a device through the same path as `fieldsync
// sync`: its config file, the plugin host, the store.
func (d *demo) sync(dev demoDevice) (*engine.Log, error) {
	dv, err := openDevice(d.ctx, dev.cfg)
	if err != nil {
		return nil, err
	}
	defer dv.Close()
	eng, err := dv.engine(nil)
	if err != nil {
		return nil, err
	}
	lg, err := eng.Sync(d.ctx, engine.SyncOptions{})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return lg, failQuiet(err, "the demo was interrupted; its files are in %s", d.dir)
		}
		return lg, fail(err, "%s's sync failed", dev.name)
	}
	return lg, nil
}

// moved sums up what one sync sent and received.
func moved(lg *engine.Log) string {
	u := lg.Upload
	up := "nothing to send"
	if u.Changes > 0 {
		var parts []string
		for _, p := range []struct {
			n    int
			what string
		}{{u.Created, "created"}, {u.Updated, "updated"}, {u.Deleted, "deleted"},
			{u.Conflicts, plural(u.Conflicts, "conflict", "conflicts")}, {u.Failed, "failed"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
			}
		}
		up = strings.Join(parts, ", ")
	}
	var down []string
	for _, e := range lg.Entities {
		if n := e.Upserted + e.Deleted; n > 0 {
			down = append(down, fmt.Sprintf("%s %d", e.Name, n))
		}
	}
	if len(down) == 0 {
		down = []string{"nothing new"}
	}
	return fmt.Sprintf("↑ %-34s ↓ %s  (%s)", up, strings.Join(down, ", "), dur(logDuration(lg)))
}
