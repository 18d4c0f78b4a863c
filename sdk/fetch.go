package sdk

// FetchRequest asks for one entity's rows.
//
// With no Token it is a full read; with a Token (from the last page of an
// earlier fetch) it returns what changed since: upserts and deletes. Cursor,
// taken from any page, resumes that same fetch after that page. The connector
// evaluates Filter on its server, so rows outside it never leave the server.
//
// What the contract suite holds every connector to:
//   - incremental fetches are exact: a row unchanged since the token is not
//     sent, and a token may be used more than once (a connector that tracks
//     changes by timestamp keeps the ids at the boundary in its token);
//   - PageSize bounds a page's rows plus deletes, so a backend whose
//     smallest batch is larger splits its batches;
//   - a filtered incremental fetch sends a changed row that no longer matches
//     as a delete, so the device drops what left its data set.
type FetchRequest struct {
	Entity   string
	Fields   []string // selected fields; nil means all of the entity's fields
	Filter   *Filter  // nil means every row
	Token    []byte   // change token for an incremental fetch
	Cursor   []byte   // resume after the page that carried this cursor
	PageSize int      // rows per page; 0 lets the connector choose
	// IDsOnly asks for the ids (and versions) of the matching rows and no
	// field values: the engine checks which of its rows still match a
	// filter whose matches can change without the rows changing (see
	// Filter.Volatile). Pages then have no fields and no columns.
	IDsOnly bool
}

// DefaultPageSize is used when a FetchRequest does not set one.
const DefaultPageSize = 1000

// MaxPageSize bounds a page so memory stays flat on both sides of a transport.
const MaxPageSize = 5000

// FetchFunc receives the pages of a fetch in order. Returning an error stops
// the fetch; the connector returns that error.
type FetchFunc func(*Page) error
