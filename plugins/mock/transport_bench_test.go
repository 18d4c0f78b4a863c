package mock

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

// BenchmarkTransports streams every account of one seeded server (ten
// fields, pages of 1,000) through each transport in the same run, so the
// records/s figures compare as a ratio on one machine at one time. The host
// side reads every value of every row, as the engine's store writer would,
// so a transport that hands over pages it cannot read cheaply pays for it.
//
//	MOCK_BENCH_N=1000000 go test -run '^$' -bench Transports -benchtime 3x ./plugins/mock
func BenchmarkTransports(b *testing.B) {
	n := benchN(b)
	path := benchServer(b, n)
	ctx := context.Background()
	for _, o := range benchTransports(path) {
		b.Run(o.name, func(b *testing.B) {
			c := o.open(b)
			defer c.Close(ctx)
			schema, err := c.Schema(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var kinds []sdk.Kind
			for _, f := range schema.Entity("account").Fields {
				kinds = append(kinds, f.Type.Kind())
			}
			b.ReportAllocs()
			b.ResetTimer()
			records := 0
			for b.Loop() {
				got, sum := 0, 0
				err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: sdk.DefaultPageSize}, func(p *sdk.Page) error {
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
					b.Fatalf("fetched %d accounts, want %d", got, n)
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
		s += len(c.Nulls)
	}
	return s
}

// benchTransports opens a connector on the server file at path, one way per
// transport, for the benchmarks that compare them.
func benchTransports(path string) []struct {
	name string
	open func(b *testing.B) sdk.Connector
} {
	return []struct {
		name string
		open func(b *testing.B) sdk.Connector
	}{
		{"inprocess", func(b *testing.B) sdk.Connector {
			c, err := New(context.Background(), path, Options{User: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			return c
		}},
		{"subprocess", func(b *testing.B) sdk.Connector {
			return openSubprocess(b, path, hclog.NewNullLogger())
		}},
	}
}
