package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// SeedOptions size the generated data set.
type SeedOptions struct {
	Accounts                int
	ContactsPerAccount      int
	OpportunitiesPerAccount int
	NotesPerAccount         int // each note carries a small text document
	RowsPerExtraEntity      int // rows in each of fs_entity01..fs_entity16
	Users                   int // extra users (password DefaultPassword), owners of the rows
	Seed                    int64
}

var cities = []string{"Bratislava", "Praha", "Wien", "Budapest", "Krakow", "Brno", "Kosice", "Graz", "Linz", "Zilina"}

// Seed adds generated rows in one transaction. Keys are random GUIDs
// inserted in key order; rows get consecutive versions without running the
// insert triggers, and secondary indexes are rebuilt once at the end.
func (s *Server) Seed(ctx context.Context, o SeedOptions) error {
	if o.Accounts < 0 || o.ContactsPerAccount < 0 || o.OpportunitiesPerAccount < 0 || o.NotesPerAccount < 0 ||
		o.RowsPerExtraEntity < 0 || o.Users < 0 {
		return errors.New("emulator: seed sizes must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return errClosed
	}
	s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(context.Background())
	g := &seeder{s: s, rng: rand.New(rand.NewPCG(uint64(o.Seed), uint64(o.Seed)^0x9e3779b97f4a7c15)), now: s.now().UTC().Truncate(time.Second)}
	return s.withTx(func() error { return g.run(o) })
}

type seeder struct {
	s       *Server
	rng     *rand.Rand
	now     time.Time
	version int64
	owners  []string // user ids
	ownerBU string
}

// keys returns n random GUIDs in ascending order.
func (g *seeder) keys(n int) []string {
	raw := make([][16]byte, n)
	for i := range raw {
		a, b := g.rng.Uint64(), g.rng.Uint64()
		for j := range 8 {
			raw[i][j] = byte(a >> (8 * (7 - j)))
			raw[i][8+j] = byte(b >> (8 * (7 - j)))
		}
		raw[i][6] = raw[i][6]&0x0f | 0x40
		raw[i][8] = raw[i][8]&0x3f | 0x80
	}
	slices.SortFunc(raw, func(x, y [16]byte) int { return bytes.Compare(x[:], y[:]) })
	out := make([]string, n)
	for i, b := range raw {
		out[i] = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	return out
}

func (g *seeder) when() int64 {
	return g.now.Add(-time.Duration(g.rng.IntN(365*24)) * time.Hour).UnixMicro()
}

// inserter prepares an INSERT of the given columns plus the stamped ones.
func (g *seeder) inserter(e *Entity, cols ...string) (func(args ...any) error, func(), error) {
	all := append(slices.Clone(cols), "versionnumber")
	q := make([]string, len(all))
	for i := range q {
		all[i], q[i] = quote(all[i]), "?"
	}
	st, _, err := g.s.db.Prepare(`INSERT INTO ` + quote(e.Name) + ` (` + strings.Join(all, ", ") + `) VALUES (` + strings.Join(q, ", ") + `)`)
	if err != nil {
		return nil, nil, err
	}
	ins := func(args ...any) error {
		g.version++
		if err := bind(st, append(args, g.version)); err != nil {
			return err
		}
		err := st.Exec()
		st.ClearBindings()
		return err
	}
	return ins, func() { st.Close() }, nil
}

// secondaryIndexes drops the non-key indexes of the named tables and
// returns the statements recreating them.
func (g *seeder) dropIndexes(tables []string) ([]string, error) {
	var ddl []string
	for _, t := range tables {
		err := g.s.query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, []any{t}, func(st *sqlite3.Stmt) error {
			ddl = append(ddl, st.ColumnText(1)+";DROP INDEX "+quote(st.ColumnText(0)))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var create []string
	for _, d := range ddl {
		c, drop, _ := strings.Cut(d, ";")
		if err := g.s.db.Exec(drop); err != nil {
			return nil, err
		}
		create = append(create, c)
	}
	return create, nil
}

func (g *seeder) run(o SeedOptions) error {
	v, _, err := g.s.queryInt(`SELECT version FROM _clock`)
	if err != nil {
		return err
	}
	g.version = v
	if g.ownerBU, err = g.s.meta("rootbusinessunit"); err != nil {
		return err
	}
	admin, _, err := g.s.queryText(`SELECT systemuserid FROM systemuser WHERE domainname = ?`, DefaultUsername)
	if err != nil {
		return err
	}
	g.owners = []string{admin}
	tables := []string{"account", "contact", "opportunity", "annotation", "systemuser"}
	for i := 1; i <= 16; i++ {
		tables = append(tables, fmt.Sprintf("fs_entity%02d", i))
	}
	recreate, err := g.dropIndexes(tables)
	if err != nil {
		return err
	}
	if err := g.users(o); err != nil {
		return err
	}
	accounts := g.keys(o.Accounts)
	if err := g.accounts(accounts); err != nil {
		return err
	}
	if err := g.contacts(accounts, o.Accounts*o.ContactsPerAccount); err != nil {
		return err
	}
	if err := g.opportunities(accounts, o.Accounts*o.OpportunitiesPerAccount); err != nil {
		return err
	}
	if err := g.notes(accounts, o.Accounts*o.NotesPerAccount); err != nil {
		return err
	}
	for i := 1; i <= 16; i++ {
		if err := g.extra(entity(fmt.Sprintf("fs_entity%02d", i)), o.RowsPerExtraEntity); err != nil {
			return err
		}
	}
	for _, c := range recreate {
		if err := g.s.db.Exec(c); err != nil {
			return err
		}
	}
	return g.s.exec(`UPDATE _clock SET version = ?`, g.version)
}

func (g *seeder) owner() string { return g.owners[g.rng.IntN(len(g.owners))] }

func (g *seeder) users(o SeedOptions) error {
	if o.Users == 0 {
		return nil
	}
	ins, done, err := g.inserter(entity("systemuser"), "systemuserid", "domainname", "firstname", "lastname", "fullname",
		"internalemailaddress", "businessunitid", "businessunitid__type", "isdisabled", "_passhash", "createdon", "modifiedon")
	if err != nil {
		return err
	}
	defer done()
	hash := hashPassword(DefaultPassword)
	for i, id := range g.keys(o.Users) {
		name := fmt.Sprintf("user%03d@fieldsync.test", i+1)
		last := fmt.Sprintf("User %03d", i+1)
		t := g.when()
		if err := ins(id, name, "Seed", last, "Seed "+last, name, g.ownerBU, "businessunit", false, hash, t, t); err != nil {
			return err
		}
		g.owners = append(g.owners, id)
	}
	return nil
}

func (g *seeder) accounts(keys []string) error {
	ins, done, err := g.inserter(entity("account"), "accountid", "name", "accountnumber", "telephone1", "emailaddress1",
		"address1_city", "numberofemployees", "revenue", "creditlimit", "donotemail", "industrycode",
		"parentaccountid", "parentaccountid__type", "statecode", "ownerid", "ownerid__type", "owningbusinessunit",
		"owningbusinessunit__type", "createdon", "modifiedon")
	if err != nil {
		return err
	}
	defer done()
	for i, id := range keys {
		var parent, parentType any
		if i > 0 && i%10 == 0 {
			parent, parentType = keys[g.rng.IntN(i)], "account"
		}
		t := g.when()
		rev := g.rng.Int64N(100000000)
		err := ins(id, fmt.Sprintf("Account %07d", i+1), fmt.Sprintf("AC-%07d", i+1), fmt.Sprintf("+421 2 %07d", i),
			fmt.Sprintf("info%d@account.test", i+1), cities[g.rng.IntN(len(cities))], int64(g.rng.IntN(5000)),
			fmt.Sprintf("%d.%02d", rev/100, rev%100), fmt.Sprintf("%d.00", g.rng.IntN(100000)), g.rng.IntN(4) == 0,
			int64(1+g.rng.IntN(10)), parent, parentType, int64(0), g.owner(), "systemuser", g.ownerBU, "businessunit", t, t)
		if err != nil {
			return err
		}
	}
	return nil
}

var firstNames = []string{"Jana", "Peter", "Eva", "Martin", "Lucia", "Tomas", "Zuzana", "Michal", "Anna", "Juraj"}
var lastNames = []string{"Novak", "Horvath", "Kovac", "Varga", "Toth", "Nagy", "Balaz", "Szabo", "Molnar", "Simek"}

func (g *seeder) contacts(accounts []string, n int) error {
	if n == 0 {
		return nil
	}
	ins, done, err := g.inserter(entity("contact"), "contactid", "firstname", "lastname", "fullname", "emailaddress1",
		"telephone1", "jobtitle", "birthdate", "parentcustomerid", "parentcustomerid__type", "statecode", "ownerid",
		"ownerid__type", "owningbusinessunit", "owningbusinessunit__type", "createdon", "modifiedon")
	if err != nil {
		return err
	}
	defer done()
	for i, id := range g.keys(n) {
		f, l := firstNames[g.rng.IntN(len(firstNames))], lastNames[g.rng.IntN(len(lastNames))]
		birth := time.Date(1950+g.rng.IntN(50), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC).UnixMicro()
		t := g.when()
		err := ins(id, f, l, f+" "+l, fmt.Sprintf("contact%d@contact.test", i+1), fmt.Sprintf("+421 900 %06d", i%1000000),
			"Buyer", birth, accounts[g.rng.IntN(len(accounts))], "account", int64(0), g.owner(), "systemuser", g.ownerBU, "businessunit", t, t)
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *seeder) opportunities(accounts []string, n int) error {
	if n == 0 {
		return nil
	}
	ins, done, err := g.inserter(entity("opportunity"), "opportunityid", "name", "parentaccountid", "parentaccountid__type",
		"estimatedvalue", "estimatedclosedate", "closeprobability", "stepname", "statecode", "ownerid", "ownerid__type",
		"owningbusinessunit", "owningbusinessunit__type", "createdon", "modifiedon")
	if err != nil {
		return err
	}
	defer done()
	for i, id := range g.keys(n) {
		t := g.when()
		err := ins(id, fmt.Sprintf("Opportunity %07d", i+1), accounts[g.rng.IntN(len(accounts))], "account",
			fmt.Sprintf("%d.00", 1000+g.rng.IntN(1000000)), g.now.Add(time.Duration(g.rng.IntN(180*24))*time.Hour).UnixMicro(),
			int64(g.rng.IntN(101)), "Qualify", int64(0), g.owner(), "systemuser", g.ownerBU, "businessunit", t, t)
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *seeder) notes(accounts []string, n int) error {
	if n == 0 {
		return nil
	}
	ins, done, err := g.inserter(entity("annotation"), "annotationid", "subject", "notetext", "filename", "mimetype",
		"filesize", "documentbody", "objectid", "objectid__type", "objecttypecode", "ownerid", "ownerid__type",
		"owningbusinessunit", "owningbusinessunit__type", "createdon", "modifiedon")
	if err != nil {
		return err
	}
	defer done()
	for i, id := range g.keys(n) {
		body := []byte(fmt.Sprintf("Note %d of the seeded data set.\n", i+1))
		t := g.when()
		err := ins(id, fmt.Sprintf("Note %07d", i+1), "Seeded note", fmt.Sprintf("note-%07d.txt", i+1), "text/plain",
			int64(len(body)), body, accounts[g.rng.IntN(len(accounts))], "account", "account", g.owner(), "systemuser",
			g.ownerBU, "businessunit", t, t)
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *seeder) extra(e *Entity, n int) error {
	if n == 0 {
		return nil
	}
	ins, done, err := g.inserter(e, e.PrimaryKey, "fs_name", "fs_number", "fs_date", "ownerid", "ownerid__type",
		"owningbusinessunit", "owningbusinessunit__type", "createdon", "modifiedon")
	if err != nil {
		return err
	}
	defer done()
	for i, id := range g.keys(n) {
		t := g.when()
		if err := ins(id, fmt.Sprintf("%s %06d", e.Name, i+1), int64(g.rng.IntN(1000)), g.when(), g.owner(), "systemuser",
			g.ownerBU, "businessunit", t, t); err != nil {
			return err
		}
	}
	return nil
}
