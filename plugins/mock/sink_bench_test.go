package mock

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/sdk"
)

// sqliteSink writes pages the way a device's first download does: plain
// inserts into an empty local table, one transaction per page. It stands in
// for the engine in BenchmarkTransportsIntoSQLite so the transports are
// compared under the host load they will really carry.
type sqliteSink struct {
	db    *sqlite3.Conn
	ins   *sqlite3.Stmt
	kinds []sdk.Kind
}

func newSQLiteSink(b *testing.B, fields []string, kinds []sdk.Kind) *sqliteSink {
	db, err := sqlite3.Open(filepath.Join(b.TempDir(), "device.db"))
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536"); err != nil {
		b.Fatal(err)
	}
	cols := append([]string{"id", "version"}, fields...)
	if err := db.Exec("CREATE TABLE account (" + strings.Join(cols, ", ") + ")"); err != nil {
		b.Fatal(err)
	}
	ins, _, err := db.Prepare(fmt.Sprintf("INSERT INTO account VALUES (%s)", strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",")))
	if err != nil {
		b.Fatal(err)
	}
	return &sqliteSink{db: db, ins: ins, kinds: kinds}
}

func (s *sqliteSink) write(p *sdk.Page) error {
	if err := s.db.Exec("BEGIN"); err != nil {
		return err
	}
	for i := range p.IDs {
		s.ins.BindText(1, p.IDs[i])
		s.ins.BindText(2, p.Versions[i])
		for j := range p.Columns {
			c := &p.Columns[j]
			n := j + 3
			if c.IsNull(i) {
				s.ins.BindNull(n)
				continue
			}
			switch s.kinds[j] {
			case sdk.KindString:
				s.ins.BindText(n, c.Strings[i])
			case sdk.KindInt:
				s.ins.BindInt64(n, c.Ints[i])
			case sdk.KindFloat:
				s.ins.BindFloat(n, c.Floats[i])
			case sdk.KindBool:
				s.ins.BindBool(n, c.Bools[i])
			}
		}
		s.ins.Step()
		if err := s.ins.Reset(); err != nil {
			return err
		}
	}
	return s.db.Exec("COMMIT")
}

func (s *sqliteSink) close() { s.ins.Close(); s.db.Close() }

// BenchmarkTransportsIntoSQLite is BenchmarkTransports with the host writing
// every row into a fresh local SQLite table, as the engine's first download
// does: the comparison that says what a transport costs a real sync.
//
//	MOCK_BENCH_N=1000000 go test -run '^$' -bench TransportsIntoSQLite -benchtime 1x ./plugins/mock
func BenchmarkTransportsIntoSQLite(b *testing.B) {
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
			ent := schema.Entity("account")
			var kinds []sdk.Kind
			for _, f := range ent.Fields {
				kinds = append(kinds, f.Type.Kind())
			}
			records := 0
			for b.Loop() {
				b.StopTimer()
				sink := newSQLiteSink(b, ent.FieldNames(), kinds)
				b.StartTimer()
				got := 0
				err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: sdk.DefaultPageSize}, func(p *sdk.Page) error {
					if err := p.Validate(kinds); err != nil {
						return err
					}
					got += p.Len()
					return sink.write(p)
				})
				b.StopTimer()
				sink.close()
				b.StartTimer()
				if err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("fetched %d accounts, want %d", got, n)
				}
				records += got
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
