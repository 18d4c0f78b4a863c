package contracttest_test

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// envVariant selects the memory server variant TestHelperProcess runs the
// suite against; unset, TestHelperProcess does nothing.
const envVariant = "CONTRACTTEST_HELPER_VARIANT"

// TestHelperProcess is not a test: TestSuiteRejectsBrokenConnectors re-runs
// the test binary with only this test and envVariant set (go-plugin's
// helper-process idiom), so a suite run that must fail can fail in a process
// of its own without failing this one.
func TestHelperProcess(t *testing.T) {
	variant, ok := os.LookupEnv(envVariant)
	if !ok {
		t.Skip("runs only as a helper process of TestSuiteRejectsBrokenConnectors")
	}
	contracttest.Run(t, memConfig(variant))
}

// TestSuiteRejectsBrokenConnectors proves the suite can fail: each variant
// of the memory connector breaks one promise of the contract, and the suite
// must fail exactly the subtests that check it. The correct connector and
// the minimal one (no filters, delete tracking, client ids or documents)
// must pass, the first with nothing skipped.
func TestSuiteRejectsBrokenConnectors(t *testing.T) {
	tests := []struct {
		variant string   // see newMemServer
		fails   []string // top-level subtests that must fail, and no others
		skips   []string // top-level subtests that must be skipped, and no others
	}{
		{variant: ""},
		{variant: "minimal", skips: []string{"Documents"}},

		// Schema: a relationship names a field the entity lacks.
		{variant: "bad-schema", fails: []string{"Schema"}},
		// Each page after the first starts with the previous page's last row.
		{variant: "dup-across-pages", fails: []string{"FieldSelection", "Filters", "FullFetch", "IncrementalResume", "Resume"}},
		// A cursor restarts the fetch from the beginning.
		{variant: "ignore-cursor", fails: []string{"IncrementalResume", "Resume"}},
		// Incremental fetches re-send the row written at the token (a ">="
		// timestamp comparison).
		{variant: "resend-unchanged", fails: []string{"Incremental", "IncrementalResume"}},
		// Incremental fetches drop deletes though the entity TracksDeletes.
		{variant: "lost-deletes", fails: []string{"Incremental", "IncrementalResume"}},
		// Fetch returns every field whatever Fields selects.
		{variant: "ignore-fields", fails: []string{"BadInput", "FieldSelection", "Filters"}},
		// Fetch ignores the filter.
		{variant: "widen-filter", fails: []string{"Filters"}},
		// An update keeps the row's version (and sequence number).
		{variant: "static-version", fails: []string{"Conflicts", "Incremental", "IncrementalResume", "Push"}},
		// Stale base versions are applied (last writer wins).
		{variant: "no-conflicts", fails: []string{"Conflicts"}},
		// A conflict reports the client's base version as the server's.
		{variant: "stale-current", fails: []string{"Conflicts"}},
		// Change ids are not remembered: a retried create fails as a
		// duplicate client id ...
		{variant: "ignore-change-ids", fails: []string{"Idempotency"}},
		// ... and, with server-assigned ids, creates a second row.
		{variant: "minimal,ignore-change-ids", fails: []string{"Idempotency"}, skips: []string{"Documents"}},
		// Fetch of an unknown entity panics.
		{variant: "panic-unknown-entity", fails: []string{"BadInput"}},
		// Bad input is reported as retryable.
		{variant: "retryable-bad-input", fails: []string{"BadInput", "Documents"}},
		// One bad change fails the whole Push with an error.
		{variant: "sink-batch", fails: []string{"BadInput"}},
		// Fetch never looks at its context.
		{variant: "ignore-cancel", fails: []string{"Cancellation"}},
		// Fetch hangs once cancelled (takes the suite's grace period).
		{variant: "block-on-cancel", fails: []string{"Cancellation"}},
		// Fetch stops on cancellation but returns an error of its own.
		{variant: "cancel-wrong-error", fails: []string{"Cancellation"}},
		// ReadDocument starts at byte 0 whatever the offset.
		{variant: "ignore-offset", fails: []string{"Documents"}},
		// A second Close panics.
		{variant: "close-panics", fails: []string{"Close"}},
	}
	for _, tt := range tests {
		name := tt.variant
		if name == "" {
			name = "correct"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, exit := runHelper(t, tt.variant)
			fails, skips := outcomes(out, "--- FAIL"), outcomes(out, "--- SKIP")
			if !slices.Equal(fails, slices.Sorted(slices.Values(tt.fails))) || !slices.Equal(skips, slices.Sorted(slices.Values(tt.skips))) {
				t.Errorf("suite on variant %q failed %q and skipped %q; want failed %q, skipped %q\n%s", tt.variant, fails, skips, tt.fails, tt.skips, out)
			}
			if (exit == 0) != (len(tt.fails) == 0) {
				t.Errorf("helper process for variant %q exited %d\n%s", tt.variant, exit, out)
			}
		})
	}
}

// runHelper runs TestHelperProcess in a child process and returns its output
// and exit code.
func runHelper(t *testing.T, variant string) (string, int) {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), envVariant+"="+variant)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("running the helper process: %v\n%s", err, out)
	return "", 0
}

// outcomes lists, sorted, the top-level subtests of TestHelperProcess whose
// result line starts with prefix.
func outcomes(out, prefix string) []string {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(prefix) + `: TestHelperProcess/([^/\s]+) \(`)
	var names []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}
