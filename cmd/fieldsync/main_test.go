package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for fieldsync as a subprocess
// plugin: the demo starts its own executable with "plugin serve mock", and
// under go test that executable is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		os.Exit(execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// result is one run of the command tree.
type result struct {
	stdout, stderr string
	code           int
}

// run executes a command line in-process, as main would.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut)
	return result{out.String(), errOut.String(), code}
}

// ok runs a command line that must succeed and returns its stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("fieldsync %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// fails runs a command line that must fail with one line on stderr
// containing want, and returns that line.
func fails(t *testing.T, want string, args ...string) string {
	t.Helper()
	r := run(t, args...)
	if r.code != 1 {
		t.Fatalf("fieldsync %s: exit %d, want 1\nstdout: %s", strings.Join(args, " "), r.code, r.stdout)
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "fieldsync: ") {
		t.Errorf("fieldsync %s: stderr is not one \"fieldsync: \" line:\n%s", strings.Join(args, " "), r.stderr)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("fieldsync %s: stderr %q does not mention %q", strings.Join(args, " "), msg, want)
	}
	return msg
}

func TestUsageErrorsAreOneSentence(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"sync", "--frob"}, "unknown flag: --frob"},
		{"bad log level", []string{"--log-level", "loud", "plugin", "list"}, `unknown --log-level "loud"`},
		{"missing config", []string{"--config", "/nonexistent/fieldsync.hcl", "status"}, "no config file at /nonexistent/fieldsync.hcl"},
		{"too many args", []string{"conflicts", "show", "1", "2"}, "accepts 1 arg"},
		{"plugin serve by hand", []string{"plugin", "serve", "mock"}, "started by a fieldsync host"},
		{"unknown plugin", []string{"plugin", "serve", "nope"}, `no built-in connector is called "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, tt.want, tt.args...)
		})
	}
}

func TestPluginList(t *testing.T) {
	out := ok(t, "plugin", "list")
	if !strings.Contains(out, "  mock\n") {
		t.Errorf("plugin list does not list mock:\n%s", out)
	}
}

func TestFlagsResetBetweenRuns(t *testing.T) {
	dir := t.TempDir()
	ok(t, "init", dir, "--records", "10", "--name", "a.hcl", "--user", "zed")
	// A second run without --name must write the default name again, not a.hcl.
	out := ok(t, "init", dir, "--records", "10")
	if !strings.Contains(out, DefaultConfig) || strings.Contains(out, "zed") {
		t.Errorf("flags leaked from the previous run:\n%s", out)
	}
}
