package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// root is the fieldsync command tree. Every subcommand adds itself to it
// from an init function in its own file, so a new command is one new file:
//
//	var benchCmd = &cobra.Command{Use: "bench", Short: "…", RunE: runBench}
//
//	func init() { root.AddCommand(benchCmd) }
//
// A command reads its flags into variables of its own file, writes its
// results to cmd.OutOrStdout() (never os.Stdout: tests capture it), logs
// through logger(), and returns an error rather than printing one: execute
// turns it into the one-sentence message and the exit code. Wrap an error
// with fail(cause, "what could not be done") for a clearer sentence than the
// cause alone gives. Flags are reset to their defaults before every run
// (tests run the tree many times in one process), so flag variables need no
// clearing by hand.
var root = &cobra.Command{
	Use:   "fieldsync",
	Short: "Offline-first sync between a local SQLite database and a backend",
	Long: `fieldsync keeps a device's local SQLite database in sync with a backend.

New here? Run "fieldsync demo" for a tour that needs no setup, or
"fieldsync init" to write a configuration of your own for the mock backend.`,
	SilenceErrors:     true, // execute prints errors, one sentence each
	SilenceUsage:      true,
	PersistentPreRunE: setup,
}

// Global flags.
var (
	configPath string
	logLevel   string
)

// DefaultConfig is the config file commands read when --config is not given.
const DefaultConfig = "fieldsync.hcl"

func init() {
	pf := root.PersistentFlags()
	pf.StringVar(&configPath, "config", "./"+DefaultConfig, "the configuration file")
	pf.StringVar(&logLevel, "log-level", "warn", "log detail on stderr: trace, debug, info, warn, error or off")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return failQuiet(err, "%v; see `%s --help`", err, c.CommandPath())
	})
}

// appLogger is the process's logger; setup replaces it once the flags are
// known.
var appLogger = hclog.NewNullLogger()

// logger returns the logger commands log through.
func logger() hclog.Logger { return appLogger }

// setup runs before every command: it checks --log-level and builds the
// structured logger on stderr.
func setup(cmd *cobra.Command, _ []string) error {
	level := hclog.LevelFromString(logLevel)
	if level == hclog.NoLevel {
		return fmt.Errorf("unknown --log-level %q; use trace, debug, info, warn, error or off", logLevel)
	}
	appLogger = hclog.New(&hclog.LoggerOptions{
		Name:   "fieldsync",
		Level:  level,
		Output: cmd.ErrOrStderr(),
	})
	return nil
}

// execute runs the command line args and returns the process exit code: 0
// on success, 1 on any error, which goes to stderr as one sentence (with
// the full detail logged at --log-level debug).
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	resetFlags(root)
	appLogger = hclog.NewNullLogger()
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if appLogger.IsDebug() {
		for _, line := range detail(err) {
			appLogger.Debug("error detail", "error", line)
		}
	}
	msg := sentence(err)
	if strings.HasPrefix(msg, "unknown command") {
		msg += "; see `fieldsync --help`"
	}
	fmt.Fprintln(stderr, "fieldsync: "+msg)
	return 1
}

// resetFlags puts every flag of the tree back to its default, so that one
// process can run several command lines (tests do).
func resetFlags(cmd *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			_ = sv.Replace(nil)
		} else {
			_ = f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	cmd.Flags().VisitAll(reset)
	cmd.PersistentFlags().VisitAll(reset)
	for _, c := range cmd.Commands() {
		resetFlags(c)
	}
}

// commandPrefix is how the printed hints spell this program: "fieldsync",
// or "go run ./cmd/fieldsync" when it was started that way (its binary then
// lives in the go command's build cache and has no stable name).
func commandPrefix() string {
	if exe := executable(); exe != "" && strings.Contains(exe, "go-build") {
		return "go run ./cmd/fieldsync"
	}
	return "fieldsync"
}
