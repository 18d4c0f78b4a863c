package emulator

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator/tds"
	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

// The TDS endpoint reads the same tables as the Web API, through the same
// store connections and one prepared SELECT per query, so a benchmark of
// the two paths measures the protocols and the clients, not the emulator.
//
// Columns are served as Dataverse's TDS endpoint serves them: a lookup as
// its id under the attribute's name (parentcustomerid), choices and
// integers as int, money as decimal(19,4), date-times as datetime2, text as
// nvarchar. Files (a note's documentbody) are not served, as Dataverse
// serves no binary columns; neither are the "name" companions of lookups
// and choices, which the emulator does not keep.

// ServeTDS answers TDS clients on l until Close: the same tokens as the Web
// API log in, and every query reads the store.
func (s *Server) ServeTDS(l net.Listener) error {
	s.mu.Lock()
	if s.tds == nil {
		s.tds = tds.NewServer(tds.Options{
			ValidToken: s.ValidToken,
			Query:      s.tdsQuery,
			Logger:     s.log.Named("tds"),
		})
	}
	srv := s.tds
	s.mu.Unlock()
	return srv.Serve(l)
}

// tdsCol is how one TDS column maps onto the store.
type tdsCol struct {
	tds  tds.Column
	col  tsql.Col
	load func(any) any // stored value → the value TDS sends (nil: as stored)
}

// tdsCatalog maps entity names to tables and TDS columns to stored ones.
type tdsCatalog struct {
	tables  map[string]string
	columns map[string]map[string]*tdsCol // entity → lower-case column → mapping
	order   map[string][]string
}

var catalog = newTDSCatalog()

func newTDSCatalog() *tdsCatalog {
	c := &tdsCatalog{tables: map[string]string{}, columns: map[string]map[string]*tdsCol{}, order: map[string][]string{}}
	for _, t := range EntityTables() {
		c.tables[t.Entity] = t.Table
		cols := map[string]*tdsCol{}
		for _, col := range t.Columns {
			m := tdsColumn(col)
			if m == nil {
				continue
			}
			cols[strings.ToLower(m.tds.Name)] = m
			c.order[t.Entity] = append(c.order[t.Entity], m.tds.Name)
		}
		c.columns[t.Entity] = cols
	}
	return c
}

func tdsColumn(col Column) *tdsCol {
	m := &tdsCol{tds: tds.Column{Name: col.Attribute, Nullable: true}, col: tsql.Col{Name: col.Name}}
	switch col.Type {
	case KindGUID, KindLookup:
		m.tds.Type = tds.TypeGUID
		m.col.Convert = lowerText
		if col.Type == KindGUID && col.Name == col.Attribute {
			m.tds.Nullable = false
		}
	case KindString, KindMemo, KindEntityName:
		m.tds.Type = tds.TypeNVarChar
		if col.MaxLength > 0 && col.MaxLength <= 4000 {
			m.tds.Size = col.MaxLength
		}
		m.col.NoCase = true
	case KindDate:
		// Date-only columns are datetime on Dataverse's TDS endpoint:
		// the day at midnight.
		m.tds.Type = tds.TypeDateTime2
		m.col.Convert = dateText
		m.load = func(v any) any {
			s, _ := v.(string)
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return nil
			}
			return t
		}
	case KindInt, KindChoice:
		m.tds.Type = tds.TypeInt
	case KindBigInt:
		m.tds.Type = tds.TypeBigInt
	case KindDouble:
		m.tds.Type = tds.TypeFloat
	case KindBool:
		m.tds.Type = tds.TypeBit
		m.load = func(v any) any { i, _ := v.(int64); return i != 0 }
	case KindMoney:
		m.tds.Type, m.tds.Precision, m.tds.Scale = tds.TypeDecimal, 19, 4
		m.col.Convert = moneyUnits
		m.load = func(v any) any { i, _ := v.(int64); return formatMoney(i) }
	case KindDateTime:
		m.tds.Type = tds.TypeDateTime2
		m.col.Convert = micros
		m.load = func(v any) any { i, _ := v.(int64); return time.UnixMicro(i).UTC() }
	default:
		return nil // files: not served
	}
	return m
}

func (c *tdsCatalog) Table(entity string) (string, bool) {
	t, ok := c.tables[strings.ToLower(entity)]
	return t, ok
}

func (c *tdsCatalog) Column(entity, column string) (tsql.Col, bool) {
	m, ok := c.columns[strings.ToLower(entity)][strings.ToLower(column)]
	if !ok {
		return tsql.Col{}, false
	}
	return m.col, true
}

func (c *tdsCatalog) Columns(entity string) []string { return c.order[strings.ToLower(entity)] }

// tdsQuery runs one parsed SELECT against the store.
func (s *Server) tdsQuery(ctx context.Context, _ string, q *tsql.Select, args []any) (tds.Result, error) {
	sq, err := q.SQLite(catalog, args)
	if err != nil {
		return nil, err
	}
	entity := strings.ToLower(q.From)
	res := &tdsRows{}
	for i, name := range sq.Columns {
		m := catalog.columns[entity][strings.ToLower(name)]
		if m == nil {
			return nil, fmt.Errorf("emulator: column %s of %s is not served over TDS", name, entity)
		}
		col := m.tds
		col.Name = sq.Names[i]
		res.cols = append(res.cols, col)
		res.load = append(res.load, m.load)
	}
	rows, err := s.store.Query(ctx, sq.SQL, sq.Args...)
	if err != nil {
		return nil, err
	}
	res.rows = rows
	res.vals = make([]any, len(res.cols))
	return res, nil
}

// tdsRows streams a store query as a TDS result.
type tdsRows struct {
	rows *Rows
	cols []tds.Column
	load []func(any) any
	vals []any
}

func (r *tdsRows) Columns() []tds.Column { return r.cols }

func (r *tdsRows) Next() bool {
	if !r.rows.Next() {
		return false
	}
	for i := range r.vals {
		v := r.rows.Value(i)
		if v != nil && r.load[i] != nil {
			v = r.load[i](v)
		}
		r.vals[i] = v
	}
	return true
}

func (r *tdsRows) Values() []any { return r.vals }
func (r *tdsRows) Err() error    { return r.rows.Err() }
func (r *tdsRows) Close() error  { return r.rows.Close() }

func lowerText(v any) (any, error) {
	if s, ok := v.(string); ok {
		return strings.ToLower(s), nil
	}
	return v, nil
}

func micros(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UnixMicro(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date-time", x)
		}
		return t.UnixMicro(), nil
	}
	return v, nil
}

// dateText converts a compared value to the stored YYYY-MM-DD text.
func dateText(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.DateOnly), nil
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format(time.DateOnly), nil
		}
		if _, err := time.Parse(time.DateOnly, x); err == nil {
			return x, nil
		}
		return nil, fmt.Errorf("%q is not a date", x)
	}
	return v, nil
}

// moneyUnits converts a compared value to ten-thousandths, as money is
// stored (exactly, as the Web API's filters do).
func moneyUnits(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return x * 10000, nil
	case float64:
		return moneyBound(strconv.FormatFloat(x, 'f', -1, 64))
	case string:
		return moneyBound(x)
	}
	return v, nil
}
