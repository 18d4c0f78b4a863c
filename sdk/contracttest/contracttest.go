package contracttest

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Backend is one fresh server-side store, made for one subtest.
type Backend interface {
	// Connect opens a new connector on this backend. Calling it twice gives
	// two devices sharing one server: what one pushes, the other fetches.
	// The suite closes every connector it opens.
	Connect(t *testing.T) sdk.Connector
}

// DocumentBackend is a Backend that can attach a document to a row behind
// the connector's back. The contract has no call that creates documents, so
// without it the Documents subtest checks only that listing works.
type DocumentBackend interface {
	Backend
	// AddDocument stores content as a document named name, owned by row
	// recordID of entity, on the server.
	AddDocument(t *testing.T, entity, recordID, name string, content []byte)
}

// BackendFunc adapts a function to Backend, for backends with nothing more to
// say than how to open a connector.
type BackendFunc func(t *testing.T) sdk.Connector

// Connect calls f.
func (f BackendFunc) Connect(t *testing.T) sdk.Connector { return f(t) }

// Config says what to test. Only NewBackend and Entity are required.
type Config struct {
	// NewBackend makes a fresh store for one subtest. It may hold rows
	// already; the suite judges only the rows it creates.
	NewBackend func(t *testing.T) Backend

	// Entity is the entity under test. It must offer Push and Incremental;
	// Filter, TracksDeletes, ClientIDs and Documents are tested when its
	// capabilities list them.
	Entity string

	// NewValues returns the values of a row the suite creates; it is also
	// used for updates, so the values must be valid for both. Values for
	// different i must differ (the suite recognises rows by them), and i may
	// be large. Nil generates one value per writable field from its type:
	// lookups and choices without options are left null, so an entity with
	// such a required field needs NewValues. The Filters subtest overwrites
	// the first writable string and int fields with values of its own.
	NewValues func(i int) map[string]sdk.Value

	// Skip maps names of subtests (see Run) that do not apply to the reason
	// why, which the test output shows: skipping is visible, never silent.
	// A name that is not a subtest fails the run.
	Skip map[string]string

	// Rows is how many rows FullFetch and Resume create; default 250. It
	// must exceed twice PageSize, so those fetches have three pages or more.
	Rows int
	// PageSize is the page size of the paging subtests; default 40.
	PageSize int
	// Timeout bounds every connector call; default one minute.
	Timeout time.Duration
}

var subtests = []struct {
	name string
	run  func(t *testing.T, f *fixture)
}{
	{"Schema", testSchema},
	{"FullFetch", testFullFetch},
	{"Resume", testResume},
	{"Incremental", testIncremental},
	{"IncrementalResume", testIncrementalResume},
	{"FieldSelection", testFieldSelection},
	{"Filters", testFilters},
	{"Push", testPush},
	{"Conflicts", testConflicts},
	{"Idempotency", testIdempotency},
	{"BadInput", testBadInput},
	{"Cancellation", testCancellation},
	{"Documents", testDocuments},
	{"Close", testClose},
}

// Run runs the contract suite against the connectors cfg.NewBackend opens:
// one subtest per promise of the contract, in this order, each on a fresh
// backend. The list is a summary; the comment on each subtest's function
// (testSchema, testFullFetch, ...) spells out exactly what it enforces and
// why:
//
//   - Schema: Info names the connector; Schema validates; the entity exists
//     with a primary key, Push and Incremental; capabilities agree with Info.
//   - FullFetch: a full fetch returns every row once, with its values and
//     version, in well-formed pages ending in one Last page with a token.
//   - Resume: the cursor of any page resumes the fetch with exactly the rows
//     after that page.
//   - Incremental: a fetch from a token returns exactly what another device
//     changed since (creates, updates, deletes), nothing unchanged; tokens
//     chain and may be reused.
//   - IncrementalResume: cursors of an incremental fetch resume it.
//   - FieldSelection: Fields selects exactly those columns.
//   - Filters: every operator selects exactly the matching rows; an entity
//     without Filter refuses a filter rather than widen it.
//   - Push: creates, updates and deletes are answered in order, versions
//     move, a fetch reflects them, client-chosen ids are honoured.
//   - Conflicts: a stale base version is answered with the server's row; an
//     update of a row deleted on the server with ServerDeleted.
//   - Idempotency: a repeated change id returns the first outcome and is not
//     applied again.
//   - BadInput: unknown entities and fields, wrong types, malformed cursors,
//     tokens and filters fail as Permanent with a message, never a panic.
//   - Cancellation: cancelling the context stops a fetch promptly with
//     context.Canceled; a callback's error stops it too.
//   - Documents: documents are listed, paged and read from any offset.
//   - Close: Close succeeds and a second Close does not panic.
//
// A panic inside a connector call, or a call that outlives its context, is
// reported as a failure of the subtest that made it.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.NewBackend == nil {
		t.Fatal("contracttest: Config.NewBackend is nil")
	}
	if cfg.Entity == "" {
		t.Fatal("contracttest: Config.Entity is empty")
	}
	for name := range cfg.Skip {
		if !slices.Contains(subtestNames(), name) {
			t.Fatalf("contracttest: Config.Skip names %q, which is not a subtest (%s)", name, strings.Join(subtestNames(), ", "))
		}
	}
	if cfg.Rows <= 0 {
		cfg.Rows = 250
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 40
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Rows <= 2*cfg.PageSize {
		t.Fatalf("contracttest: Config.Rows (%d) must exceed twice Config.PageSize (%d), so that paged fetches have three pages or more", cfg.Rows, cfg.PageSize)
	}
	s := &suite{cfg: cfg, marker: newMarker()}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			if why, ok := cfg.Skip[st.name]; ok {
				t.Skipf("skipped by Config.Skip: %s", why)
			}
			st.run(t, s.setup(t))
		})
	}
}

func subtestNames() []string {
	names := make([]string, len(subtests))
	for i, s := range subtests {
		names[i] = s.name
	}
	return names
}

// suite holds what all subtests of one Run share: the configuration and a
// marker that makes every value and change id of this run unique, so runs
// against a long-lived backend do not see each other's rows.
type suite struct {
	cfg     Config
	marker  string // 8 hex digits
	changes atomic.Int64
	rows    atomic.Int64
}

func newMarker() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
