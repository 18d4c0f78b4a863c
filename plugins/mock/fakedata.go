package mock

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/ncruces/go-sqlite3"
)

// Word lists for realistic seed data. Realistic matters: the benchmarks
// measure text of real-world lengths, and demos should read like a CRM.
var (
	firstNames = []string{"Anna", "James", "Maria", "Robert", "Linda", "Michael", "Elena", "David", "Sofia", "Thomas",
		"Emma", "Daniel", "Olivia", "Martin", "Julia", "Peter", "Laura", "Jan", "Eva", "Lukas", "Nora", "Adam",
		"Clara", "Samuel", "Ines", "Viktor", "Hana", "Oscar", "Mila", "Felix", "Zoe", "Marek"}
	lastNames = []string{"Smith", "Johnson", "Novak", "Garcia", "Müller", "Brown", "Kowalski", "Rossi", "Dubois",
		"Horvath", "Svoboda", "Jones", "Miller", "Davis", "Lopez", "Wilson", "Anderson", "Taylor", "Moore",
		"Martin", "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams"}
	companyWords = []string{"Blue", "River", "Summit", "North", "Silver", "Oak", "Granite", "Bright", "Cedar",
		"Harbor", "Pioneer", "Atlas", "Vertex", "Golden", "Prime", "Crystal", "Falcon", "Maple", "Iron", "Coastal"}
	companyNouns = []string{"Logistics", "Foods", "Systems", "Energy", "Partners", "Construction", "Dynamics",
		"Textiles", "Analytics", "Motors", "Pharma", "Retail", "Media", "Farms", "Robotics", "Consulting"}
	companySuffixes = []string{"Ltd", "Inc", "GmbH", "s.r.o.", "LLC", "AG", "Group", "Co"}
	cities          = []string{"Bratislava", "Vienna", "Prague", "Berlin", "Munich", "London", "Paris", "Madrid",
		"Rome", "Warsaw", "Budapest", "Amsterdam", "Stockholm", "Oslo", "Helsinki", "Dublin", "Lisbon",
		"Zurich", "Seattle", "Chicago", "Boston", "Denver", "Austin", "Toronto", "Sydney", "Tokyo", "Košice"}
	jobTitles = []string{"Purchasing Manager", "CEO", "CFO", "Sales Director", "Office Manager", "Engineer",
		"Consultant", "Head of IT", "Field Technician", "Account Executive", "Operations Lead", "Buyer"}
	products = []string{"Service contract", "Fleet upgrade", "Licences", "Maintenance plan", "Pilot project",
		"Hardware refresh", "Training package", "Consulting days", "Support renewal", "Expansion"}
	domains = []string{"example.com", "example.org", "example.net", "mail.example", "corp.example"}
)

// rowGen makes one entity's seed rows. Field generators are chosen once
// from each field's name and type, then bind straight into the insert
// statement from a reused buffer: no per-row allocations.
type rowGen struct {
	rng    *rand.Rand
	fields []fieldGen
	buf    []byte
	// per-row state, so an email can follow the name made before it
	first, last, company string
	row                  int
}

type fieldGen func(g *rowGen, s *sqlite3.Stmt, param int) error

// parentFunc returns the parent id of a lookup for a row, or "" for none.
type parentFunc func(row int) string

func newRowGen(e *entity, seed uint64, parents map[string]parentFunc) *rowGen {
	g := &rowGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, f := range e.Fields {
		g.fields = append(g.fields, pickGen(e, f, parents[f.Name]))
	}
	return g
}

// bind binds one row's fields from the first parameter on.
func (g *rowGen) bind(s *sqlite3.Stmt, first int) error {
	g.first, g.last, g.company = "", "", ""
	for i, f := range g.fields {
		if err := f(g, s, first+i); err != nil {
			return err
		}
	}
	g.row++
	return nil
}

func (g *rowGen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *rowGen) text(s *sqlite3.Stmt, param int, b []byte) error {
	g.buf = b
	return s.BindRawText(param, b)
}

func nullable(f sdk.Field, gen fieldGen) fieldGen {
	if f.Required || f.Type == sdk.TypeLookup {
		return gen
	}
	return func(g *rowGen, s *sqlite3.Stmt, p int) error {
		if g.rng.IntN(16) == 0 { // about one value in sixteen is null
			return s.BindNull(p)
		}
		return gen(g, s, p)
	}
}

func pickGen(e *entity, f sdk.Field, parent parentFunc) fieldGen {
	name := strings.ToLower(f.Name)
	switch f.Type {
	case sdk.TypeLookup:
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			if parent == nil {
				return s.BindNull(p)
			}
			if id := parent(g.row); id != "" {
				return s.BindText(p, id)
			}
			return s.BindNull(p)
		}
	case sdk.TypeGUID:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			return g.text(s, p, appendGUID(g.buf[:0], randomID(g.rng)))
		})
	case sdk.TypeString:
		return nullable(f, stringGen(e, name, f.MaxLength))
	case sdk.TypeInt:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			switch {
			case strings.Contains(name, "employees"):
				return s.BindInt64(p, int64(1+g.rng.IntN(10)*g.rng.IntN(1000)))
			case strings.Contains(name, "probability"):
				return s.BindInt64(p, int64(g.rng.IntN(11)*10))
			}
			return s.BindInt64(p, int64(g.rng.IntN(1000)))
		})
	case sdk.TypeDecimal:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			units := g.rng.Int64N(1_000_000)
			if strings.Contains(name, "revenue") {
				units *= 100
			}
			b := strconv.AppendInt(g.buf[:0], units, 10)
			b = append(b, '.')
			cents := g.rng.IntN(100)
			b = append(b, byte('0'+cents/10), byte('0'+cents%10))
			return g.text(s, p, b)
		})
	case sdk.TypeFloat:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			if strings.Contains(name, "rating") {
				return s.BindFloat(p, float64(10+g.rng.IntN(41))/10)
			}
			return s.BindFloat(p, g.rng.Float64()*1000)
		})
	case sdk.TypeBool:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			return s.BindBool(p, g.rng.IntN(5) != 0)
		})
	case sdk.TypeDateTime:
		now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
		const year = int64(365 * 24 * time.Hour / time.Microsecond)
		lo, span := now-3*year, 3*year // created in the last three years
		switch {
		case strings.Contains(name, "birth"):
			lo, span = now-75*year, 57*year
		case strings.Contains(name, "close"):
			lo, span = now-year, 2*year
		}
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			return s.BindInt64(p, lo+g.rng.Int64N(span)/1_000_000*1_000_000)
		})
	case sdk.TypeChoice:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			if len(f.Choices) == 0 {
				return s.BindInt64(p, int64(g.rng.IntN(10)))
			}
			return s.BindInt64(p, f.Choices[g.rng.IntN(len(f.Choices))].Value)
		})
	case sdk.TypeBinary:
		return nullable(f, func(g *rowGen, s *sqlite3.Stmt, p int) error {
			b := g.buf[:0]
			for range 16 {
				b = append(b, byte(g.rng.Uint32()))
			}
			g.buf = b
			return s.BindBlob(p, b)
		})
	}
	return func(g *rowGen, s *sqlite3.Stmt, p int) error { return s.BindNull(p) }
}

func stringGen(e *entity, name string, max int) fieldGen {
	clip := func(b []byte) []byte {
		if max > 0 && len(b) > max { // seed text is ASCII or short; bytes bound runes
			b = b[:max]
		}
		return b
	}
	switch {
	case name == "firstname":
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			g.first = g.pick(firstNames)
			return g.text(s, p, clip(append(g.buf[:0], g.first...)))
		}
	case name == "lastname":
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			g.last = g.pick(lastNames)
			return g.text(s, p, clip(append(g.buf[:0], g.last...)))
		}
	case strings.Contains(name, "email"):
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			b := g.buf[:0]
			switch {
			case g.first != "" || g.last != "":
				b = appendSlug(b, g.first)
				b = append(b, '.')
				b = appendSlug(b, g.last)
				b = strconv.AppendInt(b, int64(g.rng.IntN(100)), 10)
				b = append(b, '@')
				b = append(b, g.pick(domains)...)
			case g.company != "":
				b = append(b, "info@"...)
				b = appendSlug(b, g.company)
				b = append(b, '.')
				b = append(b, g.pick(domains)...)
			default:
				b = appendSlug(b, g.pick(firstNames))
				b = strconv.AppendInt(b, int64(g.rng.IntN(10000)), 10)
				b = append(b, '@')
				b = append(b, g.pick(domains)...)
			}
			return g.text(s, p, clip(b))
		}
	case strings.Contains(name, "phone"):
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			b := append(g.buf[:0], "+1 555 "...)
			b = appendDigits(b, g.rng.IntN(10000), 4)
			b = append(b, ' ')
			b = appendDigits(b, g.rng.IntN(10000), 4)
			return g.text(s, p, clip(b))
		}
	case strings.Contains(name, "city"):
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			return g.text(s, p, clip(append(g.buf[:0], g.pick(cities)...)))
		}
	case strings.Contains(name, "number"):
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			b := append(g.buf[:0], "AC-"...)
			b = appendDigits(b, g.rng.IntN(10_000_000), 7)
			return g.text(s, p, clip(b))
		}
	case strings.Contains(name, "title"):
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			return g.text(s, p, clip(append(g.buf[:0], g.pick(jobTitles)...)))
		}
	case name == "name" && e.Name == "opportunity":
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			b := strconv.AppendInt(g.buf[:0], int64(1+g.rng.IntN(500)), 10)
			b = append(b, " × "...)
			b = append(b, g.pick(products)...)
			return g.text(s, p, clip(b))
		}
	case name == "name" || strings.Contains(name, "company"):
		return func(g *rowGen, s *sqlite3.Stmt, p int) error {
			b := append(g.buf[:0], g.pick(companyWords)...)
			b = append(b, ' ')
			b = append(b, g.pick(companyNouns)...)
			g.company = string(b) // one allocation: the email slug needs it after the buffer moves on
			b = append(b, ' ')
			b = append(b, g.pick(companySuffixes)...)
			return g.text(s, p, clip(b))
		}
	}
	return func(g *rowGen, s *sqlite3.Stmt, p int) error {
		b := append(g.buf[:0], g.pick(companyWords)...)
		b = append(b, ' ')
		b = append(b, g.pick(products)...)
		return g.text(s, p, clip(b))
	}
}

// appendSlug appends s lower-cased with spaces and non-ASCII letters
// dropped, for email addresses.
func appendSlug(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		}
	}
	return b
}

func appendDigits(b []byte, n, width int) []byte {
	start := len(b)
	b = strconv.AppendInt(b, int64(n), 10)
	for len(b)-start < width {
		b = append(b[:start+1], b[start:]...)
		b[start] = '0'
	}
	return b
}

// randomID draws 16 random bytes from rng.
func randomID(rng *rand.Rand) [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
	return b
}
