package mock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// benchN is the number of accounts the fetch benchmark streams:
// MOCK_BENCH_N, or 100,000 (1,000,000 for the real measurement).
func benchN(b *testing.B) int {
	if v := os.Getenv("MOCK_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("MOCK_BENCH_N=%q is not a positive number", v)
		}
		return n
	}
	return 100_000
}

// benchServer returns a server file seeded with n accounts, cached under
// os.TempDir by n (and the file format) so reruns skip the seeding. It is
// seeded under a temporary name and renamed when complete.
func benchServer(b *testing.B, n int) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("fieldsync-mock-bench-f%d-%d.db", formatVersion, n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".seeding"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	ctx := context.Background()
	s, err := Create(ctx, tmp)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := s.Seed(ctx, SeedOptions{Accounts: n, Seed: 1}); err != nil {
		s.Close()
		b.Fatal(err)
	}
	b.Logf("seeded %d accounts in %v", n, time.Since(start))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkFetchAccounts streams every account of a seeded server through
// Fetch in-process (pages of 1,000, all ten fields) and reports records/s.
func BenchmarkFetchAccounts(b *testing.B) {
	n := benchN(b)
	path := benchServer(b, n)
	ctx := context.Background()
	c, err := New(ctx, path, Options{User: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	records := 0
	for b.Loop() {
		got := 0
		err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: sdk.DefaultPageSize}, func(p *sdk.Page) error {
			got += len(p.IDs)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("fetched %d accounts, want %d", got, n)
		}
		records += got
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
