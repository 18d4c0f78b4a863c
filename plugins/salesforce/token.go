package salesforce

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Change tokens and cursors are opaque to the core. Their bytes:
//
//	"sf" format-byte kind-byte JSON
//
// with format 1 and kind 't' (token) or 'c' (cursor).
//
// A token holds the high-water mark (the server's clock, from the Date
// header of the fetch's first answer, in Unix ms) and the rows already
// sent whose SystemModstamp falls inside the overlap window below it. The
// next incremental fetch reads SystemModstamp >= hwm - overlap (a
// transaction stamps rows when it starts but shows them when it commits,
// so a row can appear with a stamp older than the last read) and skips the
// rows whose (id, stamp, deleted) it already sent: nothing unchanged goes
// out twice, as the contract asks.
//
// The seen list is bounded by maxSeen entries (about 30 bytes each, so a
// token stays under ~300 KB). Beyond it the entries with the oldest stamps
// are dropped: those rows are sent once more by the next fetch (a harmless
// repeat of an unchanged row), never missed; the window itself never
// shrinks. That takes more than maxSeen changes of one object within one
// overlap window.
const (
	tokenFormat = 1
	kindToken   = 't'
	kindCursor  = 'c'
	maxSeen     = 10000
)

type changeToken struct {
	Entity string   `json:"e"`
	Sig    string   `json:"s"`
	HWM    int64    `json:"h"`
	Seen   []string `json:"n,omitempty"` // seenEntry.String()
}

// Cursor modes: which phase of a fetch a cursor resumes.
const (
	modeFull        = "full"    // keyset over Id
	modeIncremental = "inc"     // keyset over (SystemModstamp, Id) of queryAll
	modeDeleted     = "deleted" // ids of the deleted/ windows
)

type fetchCursor struct {
	Sig       string   `json:"s"`
	Mode      string   `json:"m"`
	HWM       int64    `json:"h"`           // the fetch's new high-water mark
	LastID    string   `json:"i,omitempty"` // last row sent (full, inc)
	LastStamp int64    `json:"t,omitempty"` // its stamp (inc)
	Seen      []string `json:"n,omitempty"` // rows sent so far inside the new window
	DelStart  int64    `json:"ds,omitempty"`
	DelSkip   int      `json:"dk,omitempty"` // ids of the window at DelStart already handled
}

// seenEntry is a row sent inside an overlap window: "id/stamp" or
// "id/stamp/d" for a delete.
type seenEntry struct {
	id      string
	stamp   int64
	deleted bool
}

func (s seenEntry) String() string {
	out := s.id + "/" + strconv.FormatInt(s.stamp, 10)
	if s.deleted {
		out += "/d"
	}
	return out
}

func parseSeen(s string) (seenEntry, bool) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || !validID(parts[0]) {
		return seenEntry{}, false
	}
	st, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || st < 0 {
		return seenEntry{}, false
	}
	e := seenEntry{id: parts[0], stamp: st}
	if len(parts) == 3 {
		if parts[2] != "d" {
			return seenEntry{}, false
		}
		e.deleted = true
	}
	return e, true
}

// seenSet is the rows sent inside a window, by id.
type seenSet map[string]seenEntry

func decodeSeen(list []string) (seenSet, bool) {
	s := make(seenSet, len(list))
	for _, v := range list {
		e, ok := parseSeen(v)
		if !ok {
			return nil, false
		}
		s[e.id] = e
	}
	return s, true
}

// add records e when its stamp is inside the window starting at floor.
func (s seenSet) add(e seenEntry, floor int64) {
	if e.stamp >= floor {
		s[e.id] = e
	}
}

// list encodes the set, newest first, keeping at most maxSeen entries (see
// above for what happens to the rest).
func (s seenSet) list() []string {
	entries := make([]seenEntry, 0, len(s))
	for _, e := range s {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b seenEntry) int {
		if a.stamp != b.stamp {
			if a.stamp > b.stamp {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	if len(entries) > maxSeen {
		entries = entries[:maxSeen]
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.String()
	}
	return out
}

func encode(kind byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("salesforce: encoding a %c: %v", kind, err)) // only plain structs of strings and ints
	}
	return append([]byte{'s', 'f', tokenFormat, kind}, b...)
}

func decode(kind byte, raw []byte, v any) bool {
	if len(raw) < 5 || raw[0] != 's' || raw[1] != 'f' || raw[2] != tokenFormat || raw[3] != kind {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(raw[4:]))
	d.DisallowUnknownFields()
	return d.Decode(v) == nil
}

// decodeToken reads a change token of entity with signature sig. A token
// that is not ours is Permanent; one of another entity, field selection or
// filter cannot serve this fetch: TokenExpired, so the engine reads the
// entity in full.
func decodeToken(raw []byte, entity, sig string) (*changeToken, seenSet, error) {
	var t changeToken
	if !decode(kindToken, raw, &t) {
		return nil, nil, sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the change token is malformed", entity)
	}
	seen, ok := decodeSeen(t.Seen)
	if !ok || t.HWM <= 0 {
		return nil, nil, sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the change token is malformed", entity)
	}
	if t.Entity != entity || t.Sig != sig {
		return nil, nil, sdk.Errorf(sdk.TokenExpired, "salesforce: fetch %s: the change token was made for another entity, field selection or filter", entity)
	}
	return &t, seen, nil
}

func decodeCursor(raw []byte, entity, sig string) (*fetchCursor, seenSet, error) {
	var c fetchCursor
	bad := sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the cursor is malformed", entity)
	if !decode(kindCursor, raw, &c) {
		return nil, nil, bad
	}
	seen, ok := decodeSeen(c.Seen)
	if !ok || c.HWM <= 0 || (c.LastID != "" && !validID(c.LastID)) {
		return nil, nil, bad
	}
	switch c.Mode {
	case modeFull, modeIncremental, modeDeleted:
	default:
		return nil, nil, bad
	}
	if c.Sig != sig {
		return nil, nil, sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the cursor belongs to another request (entity, fields, filter or token)", entity)
	}
	return &c, seen, nil
}

// signature binds tokens and cursors to what they were made for.
func signature(entity string, fields []string, filter string, idsOnly bool, token []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00", entity, strings.Join(fields, ","), filter, idsOnly)
	h.Write(token)
	return hex.EncodeToString(h.Sum(nil)[:12])
}
