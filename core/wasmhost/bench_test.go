package wasmhost

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost/testdata/guestconn"
	"github.com/fieldsync/fieldsync/sdk"
)

// BenchmarkStream streams the guest's ten-field rows, pages of 1,000, out
// of the same connector code in-process and as a WASM guest, in the same
// run, so the records/s figures compare as a ratio on one machine at one
// time. The consumer checks every page and reads every value, as the
// engine's store writer would.
//
//	go test -run '^$' -bench Stream -benchtime 3x ./core/wasmhost
//
// WASMHOST_BENCH_N sets the rows per fetch (default 1,000,000).
func BenchmarkStream(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("WASMHOST_BENCH_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("WASMHOST_BENCH_N: %v", err)
		}
	}
	settings := map[string]string{"rows": strconv.Itoa(n)}
	ctx := context.Background()
	transports := []struct {
		name string
		open func(b *testing.B) sdk.Connector
	}{
		{"inprocess", func(b *testing.B) sdk.Connector {
			c, err := guestconn.Factory(ctx, settings, hclog.NewNullLogger())
			if err != nil {
				b.Fatal(err)
			}
			return c
		}},
		{"wasm", func(b *testing.B) sdk.Connector {
			c, _ := openGuest(b, settings, func(c *Config) { c.Logger = hclog.NewNullLogger() })
			return c
		}},
		{"wasm-no-time-limit", func(b *testing.B) sdk.Connector {
			c, _ := openGuest(b, settings, func(c *Config) { c.Logger, c.NoTimeLimit = hclog.NewNullLogger(), true })
			return c
		}},
	}
	kinds := guestconn.Kinds()
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			c := tr.open(b)
			b.ReportAllocs()
			b.ResetTimer()
			records := 0
			for b.Loop() {
				got, sum := 0, 0
				err := c.Fetch(ctx, sdk.FetchRequest{Entity: "thing", PageSize: sdk.DefaultPageSize}, func(p *sdk.Page) error {
					if err := p.Validate(kinds); err != nil {
						return err
					}
					got += p.Len()
					sum += touch(p)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if got != n || sum == 0 {
					b.Fatalf("fetched %d rows, want %d", got, n)
				}
				records += got
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// touch reads every value of a page and returns something depending on all
// of them, so nothing is optimised away.
func touch(p *sdk.Page) int {
	s := 0
	for i := range p.IDs {
		s += len(p.IDs[i]) + len(p.Versions[i])
	}
	for j := range p.Columns {
		c := &p.Columns[j]
		for i := range c.Strings {
			s += len(c.Strings[i])
		}
		for _, v := range c.Ints {
			s += int(v & 1)
		}
		for _, v := range c.Floats {
			if v > 0 {
				s++
			}
		}
		for _, v := range c.Bools {
			if v {
				s++
			}
		}
		for _, v := range c.Binary {
			s += len(v)
		}
		s += len(c.Nulls)
	}
	return s
}
