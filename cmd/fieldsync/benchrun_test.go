package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestBenchMeasuresAllThree runs the bench on a small scale in-process: it
// must produce all three figures, and its download must really have loaded
// the rows (runBench checks the count and fails otherwise).
func TestBenchMeasuresAllThree(t *testing.T) {
	var out bytes.Buffer
	n := 3000
	if v := os.Getenv("FIELDSYNC_BENCH_RECORDS"); v != "" { // for a quick look at larger scales
		n, _ = strconv.Atoi(v)
	}
	res, err := runBench(context.Background(), benchOptions{Records: n, Changes: 100, Dir: t.TempDir(), Plugin: "builtin"}, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.RawRowsPerSec <= 0 || res.DownloadRowsPerSec <= 0 || res.PeakHostBytes == 0 {
		t.Fatalf("missing figures: %+v", res)
	}
	if res.IncrementalReceived != 100 {
		t.Fatalf("incremental sync received %d changes, want 100", res.IncrementalReceived)
	}
	for _, want := range []string{"(a) raw ceiling", "(b) initial download", "(b)/(a)", "peak memory", "(c) incremental sync"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
