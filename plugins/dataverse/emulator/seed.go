package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// SeedOptions say how much data Seed makes; counts add to what is there.
type SeedOptions struct {
	Accounts                int
	ContactsPerAccount      int
	OpportunitiesPerAccount int
	AnnotationsPerAccount   int // every second one carries a small document
	Users                   int // sales users owning the rows (default 10)
	// Seed makes the data deterministic: the same seed on a new file gives
	// the same rows, ids included.
	Seed int64
}

// Word lists for realistic rows.
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
	noteSubjects = []string{"Call summary", "Visit report", "Contract draft", "Price list", "Meeting notes",
		"Site photo", "Complaint", "Quote", "Follow-up", "Delivery note"}
	domains = []string{"example.com", "example.org", "example.net", "mail.example", "corp.example"}
)

// seedBase is the instant seeded dates are spread before: fixed, so a seed
// gives the same rows on any day.
var seedBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type seeder struct {
	rng   *rand.Rand
	users []string
	bu    string
	ver   int64
	buf   []byte
	into  map[string]string // entity → the table its rows are generated into
}

func (g *seeder) guid() string { return formatGUID(guidBytes(g.rng)) }

// guidBytes draws a version-4 GUID's bytes; in this form (the version and
// variant bits set) their order is the order of the GUIDs' text, as the
// tables compare keys.
func guidBytes(r *rand.Rand) [16]byte {
	var b [16]byte
	lo, hi := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// mix64 is SplitMix64's finalizer: it spreads an account's index into a
// random stream of its own.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (g *seeder) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// times returns a created and a later modified instant (Unix micros,
// whole seconds) within three years before seedBase.
func (g *seeder) times() (int64, int64) {
	created := seedBase.Add(-time.Duration(g.rng.Int64N(3*365*24*3600)) * time.Second)
	modified := created.Add(time.Duration(g.rng.Int64N(int64(seedBase.Sub(created)/time.Second)+1)) * time.Second)
	return created.UnixMicro(), modified.UnixMicro()
}

func (g *seeder) next() int64 { g.ver++; return g.ver }

// Seed generates realistic rows: accounts, and per account contacts,
// opportunities and notes pointing at it, owned by seeded sales users,
// with random GUID keys. Everything is written in one transaction with
// the tables' secondary indexes and triggers dropped and rebuilt after;
// versions are numbered from the clock, account by account (an account,
// then its contacts, opportunities and notes). Random keys inserted one by
// one into a table clustered on its key would each land on a random page,
// so accounts are generated in key order (see seedAccounts) and the rows
// of the other clustered tables go into unindexed staging tables (appends)
// and then move in key order (one sort, then appends to the clustered
// B-tree): the cheap ways to load random keys. A million accounts take
// seconds. Concurrent writers wait for the transaction; do not seed while
// a client's writes must not be delayed.
func (s *Store) Seed(ctx context.Context, o SeedOptions) error {
	if o.Accounts < 0 || o.ContactsPerAccount < 0 || o.OpportunitiesPerAccount < 0 || o.AnnotationsPerAccount < 0 || o.Users < 0 {
		return errors.New("emulator: seed counts must not be negative")
	}
	if o.Users == 0 {
		o.Users = 10
	}
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.pool.put(c)
	g := &seeder{rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))}
	return c.withTx(func() error {
		if g.bu, err = c.meta("businessunitid"); err != nil {
			return err
		}
		if g.ver, _, err = c.queryInt(`SELECT version FROM _clock`); err != nil {
			return err
		}
		tables := []*Entity{model["systemuser"], model["account"], model["contact"], model["opportunity"], model["annotation"]}
		for _, e := range tables {
			for _, n := range append(indexNames(e), triggerNames(e)...) {
				kind := "INDEX"
				if strings.HasSuffix(n, "__insert") || strings.HasSuffix(n, "__update") || strings.HasSuffix(n, "__delete") {
					kind = "TRIGGER"
				}
				if err := c.db.Exec("DROP " + kind + " IF EXISTS " + quoteIdent(n)); err != nil {
					return err
				}
			}
		}
		g.into = map[string]string{}
		for _, e := range tables {
			g.into[e.Name] = quoteIdent(e.Name)
			if !e.clustered() || e.Name == "account" {
				continue // appends: a rowid table, or accounts made in key order
			}
			stage := quoteIdent("_seed_" + e.Name)
			if err := c.db.Exec("DROP TABLE IF EXISTS temp." + stage + "; CREATE TEMP TABLE " + stage +
				" AS SELECT * FROM main." + quoteIdent(e.Name) + " WHERE 0"); err != nil {
				return fmt.Errorf("emulator: stage %s: %w", e.Name, err)
			}
			g.into[e.Name] = "temp." + stage
		}
		if err := g.seedUsers(c, o.Users); err != nil {
			return err
		}
		if err := g.seedAccounts(ctx, c, o); err != nil {
			return err
		}
		for _, e := range tables {
			if !e.clustered() || e.Name == "account" {
				continue
			}
			stage := "temp." + quoteIdent("_seed_"+e.Name)
			if err := c.db.Exec("INSERT INTO main." + quoteIdent(e.Name) + " SELECT * FROM " + stage +
				" ORDER BY " + quoteIdent(e.PrimaryKey) + "; DROP TABLE " + stage); err != nil {
				return fmt.Errorf("emulator: load %s: %w", e.Name, err)
			}
		}
		if err := c.exec(`UPDATE _clock SET version = ?1`, g.ver); err != nil {
			return err
		}
		for _, e := range tables {
			for _, ix := range indexDDL(e) {
				if err := c.db.Exec(ix); err != nil {
					return fmt.Errorf("emulator: index %s: %w", e.Name, err)
				}
			}
			if err := c.db.Exec(triggerDDL(e)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (g *seeder) seedUsers(c *conn, n int) error {
	st, _, err := c.db.Prepare(`INSERT INTO ` + g.into["systemuser"] + ` (systemuserid, firstname, lastname, fullname, domainname,
		internalemailaddress, isdisabled, _businessunitid_value, createdon, modifiedon, versionnumber)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, ?6, ?7, ?8, ?9)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := 0; i < n; i++ {
		id, first, last := g.guid(), g.pick(firstNames), g.pick(lastNames)
		cr, mo := g.times()
		mail := strings.ToLower(first+"."+last) + strconv.Itoa(i) + "@" + g.pick(domains)
		if err := bindAll(st, []any{id, first, last, first + " " + last, mail, g.bu, cr, mo, g.next()}); err != nil {
			return err
		}
		if err := st.Exec(); err != nil {
			return err
		}
		g.users = append(g.users, id)
	}
	return nil
}

type seedStmts struct {
	acc, con, opp, ann *sqlite3.Stmt
}

func (g *seeder) seedAccounts(ctx context.Context, c *conn, o SeedOptions) error {
	prep := func(sql string) (*sqlite3.Stmt, error) {
		st, _, err := c.db.Prepare(sql)
		return st, err
	}
	var ss seedStmts
	var err error
	if ss.acc, err = prep(`INSERT INTO ` + g.into["account"] + ` (accountid, name, accountnumber, telephone1, emailaddress1, address1_city,
		numberofemployees, revenue, creditlimit, donotemail, industrycode, _primarycontactid_value, statecode, createdon, modifiedon,
		_ownerid_value, owneridtype, _owningbusinessunit_value, versionnumber)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 'systemuser', ?17, ?18)`); err != nil {
		return err
	}
	defer ss.acc.Close()
	if ss.con, err = prep(`INSERT INTO ` + g.into["contact"] + ` (contactid, firstname, lastname, fullname, emailaddress1, telephone1, jobtitle,
		birthdate, _parentcustomerid_value, parentcustomeridtype, statecode, createdon, modifiedon,
		_ownerid_value, owneridtype, _owningbusinessunit_value, versionnumber)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'account', ?10, ?11, ?12, ?13, 'systemuser', ?14, ?15)`); err != nil {
		return err
	}
	defer ss.con.Close()
	if ss.opp, err = prep(`INSERT INTO ` + g.into["opportunity"] + ` (opportunityid, name, estimatedvalue, closeprobability, estimatedclosedate,
		_parentaccountid_value, statecode, createdon, modifiedon, _ownerid_value, owneridtype, _owningbusinessunit_value, versionnumber)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'systemuser', ?11, ?12)`); err != nil {
		return err
	}
	defer ss.opp.Close()
	if ss.ann, err = prep(`INSERT INTO ` + g.into["annotation"] + ` (annotationid, subject, notetext, filename, mimetype, documentbody, filesize,
		isdocument, _objectid_value, objecttypecode, createdon, modifiedon, _ownerid_value, owneridtype,
		_owningbusinessunit_value, versionnumber)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'account', ?10, ?11, ?12, 'systemuser', ?13, ?14)`); err != nil {
		return err
	}
	defer ss.ann.Close()

	base, _, err := c.queryInt(`SELECT count(*) FROM account`)
	if err != nil {
		return err
	}
	doc := make([]byte, 4096)
	// Accounts go into their clustered table in key order, so each insert
	// appends to the B-tree instead of landing on a random page, with no
	// staging and no sort of whole rows: first every account's key is
	// drawn (from a stream of its own) and the keys sorted, then each
	// account is generated, in key order, from a random stream of its own
	// (so its data does not depend on the order). Its versions are the
	// block its index gives it: versions follow the accounts' index, not
	// their keys, as on a real table where keys are random.
	type accountKey struct {
		id [16]byte
		i  int
	}
	keys := make([]accountKey, o.Accounts)
	kr := rand.New(rand.NewPCG(uint64(o.Seed), 0xacc0))
	for i := range keys {
		keys[i] = accountKey{guidBytes(kr), i}
	}
	slices.SortFunc(keys, func(a, b accountKey) int { return bytes.Compare(a.id[:], b.id[:]) })
	perAccount := int64(1 + o.ContactsPerAccount + o.OpportunitiesPerAccount + o.AnnotationsPerAccount)
	ver0 := g.ver
	pcg := rand.NewPCG(0, 0)
	g.rng = rand.New(pcg)
	for n, k := range keys {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		i := k.i
		pcg.Seed(uint64(o.Seed), mix64(uint64(i)))
		g.ver = ver0 + int64(i)*perAccount
		accID := formatGUID(k.id)
		owner := g.pick(g.users)
		var contactIDs []string
		for j := 0; j < o.ContactsPerAccount; j++ {
			contactIDs = append(contactIDs, g.guid())
		}
		var primary any
		if len(contactIDs) > 0 {
			primary = contactIDs[0]
		}
		name := g.pick(companyWords) + " " + g.pick(companyNouns) + " " + g.pick(companySuffixes)
		cr, mo := g.times()
		state := int64(0)
		if g.rng.IntN(10) == 0 {
			state = 1
		}
		var revenue, credit any
		if g.rng.IntN(5) > 0 {
			revenue = g.rng.Int64N(50_000_000) * 10000
			credit = g.rng.Int64N(1_000_000) * 100
		}
		slug := strings.ToLower(strings.Fields(name)[0])
		if err := bindAll(ss.acc, []any{accID, name, "ACC-" + strconv.FormatInt(base+int64(i)+1, 10),
			"+1 555 " + strconv.Itoa(1000000+g.rng.IntN(9000000)), "info@" + slug + strconv.Itoa(i) + "." + g.pick(domains),
			g.pick(cities), int64(1 + g.rng.IntN(5000)), revenue, credit, g.rng.IntN(4) == 0, int64(1 + g.rng.IntN(33)),
			primary, state, cr, mo, owner, g.bu, g.next()}); err != nil {
			return err
		}
		if err := ss.acc.Exec(); err != nil {
			return err
		}
		for _, cid := range contactIDs {
			first, last := g.pick(firstNames), g.pick(lastNames)
			ccr, cmo := g.times()
			birth := seedBase.AddDate(-20-g.rng.IntN(45), 0, -g.rng.IntN(365)).Format("2006-01-02")
			if err := bindAll(ss.con, []any{cid, first, last, first + " " + last,
				strings.ToLower(first+"."+last) + "@" + slug + "." + g.pick(domains),
				"+1 555 " + strconv.Itoa(1000000+g.rng.IntN(9000000)), g.pick(jobTitles), birth, accID,
				int64(0), ccr, cmo, owner, g.bu, g.next()}); err != nil {
				return err
			}
			if err := ss.con.Exec(); err != nil {
				return err
			}
		}
		for j := 0; j < o.OpportunitiesPerAccount; j++ {
			ocr, omo := g.times()
			closeDate := seedBase.AddDate(0, 0, g.rng.IntN(365)-120).Format("2006-01-02")
			if err := bindAll(ss.opp, []any{g.guid(), g.pick(products) + " for " + name, g.rng.Int64N(500_000) * 10000,
				int64(g.rng.IntN(101)), closeDate, accID, int64(g.rng.IntN(3)), ocr, omo, owner, g.bu, g.next()}); err != nil {
				return err
			}
			if err := ss.opp.Exec(); err != nil {
				return err
			}
		}
		for j := 0; j < o.AnnotationsPerAccount; j++ {
			acr, amo := g.times()
			subject := g.pick(noteSubjects)
			var body, fname, mime any
			size := int64(0)
			isDoc := j%2 == 1
			if isDoc {
				n := 256 + g.rng.IntN(len(doc)-256)
				for k := 0; k < n; k++ {
					doc[k] = byte('a' + g.rng.IntN(26))
				}
				body, size = doc[:n], int64(n)
				fname, mime = strings.ToLower(strings.ReplaceAll(subject, " ", "-"))+".txt", "text/plain"
			}
			if err := bindAll(ss.ann, []any{g.guid(), subject, subject + " for " + name + ".", fname, mime, body, size,
				isDoc, accID, acr, amo, owner, g.bu, g.next()}); err != nil {
				return err
			}
			if err := ss.ann.Exec(); err != nil {
				return err
			}
		}
	}
	g.ver = ver0 + int64(o.Accounts)*perAccount
	return nil
}

// Seed fills the server's store (see Store.Seed).
func (s *Server) Seed(ctx context.Context, o SeedOptions) error { return s.store.Seed(ctx, o) }
