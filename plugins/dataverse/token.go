package dataverse

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Change tokens and cursors are opaque to the core. Their bytes:
//
//	"dv" format-byte kind-byte JSON
//
// with format 1 and kind 't' (token) or 'c' (cursor). JSON keeps them
// readable in a debugger; they are small (a delta link and a few names).
// Links are kept relative to the API root and resolved against the url
// setting, so a token never sends the bearer token anywhere else.
const (
	tokenFormat = 1
	kindToken   = 't'
	kindCursor  = 'c'
)

// Token modes: how an incremental fetch from the token reads.
const (
	// modePlain: the delta link selects the fetch's fields; its rows are
	// the upserts.
	modePlain = "plain"
	// modeKeyed: the delta link selects the key only (it was taken by a
	// bootstrap read before a filtered or TDS full read); the changed ids
	// are read again through the filter (see keyed.go).
	modeKeyed = "keyed"
	// modeNone: the read took no delta link (IDsOnly, or a table without
	// change tracking); an incremental fetch from it answers TokenExpired,
	// so the engine reads the entity in full.
	modeNone = "none"
)

type changeToken struct {
	Entity string `json:"e"`
	Sig    string `json:"s"`
	Mode   string `json:"m"`
	Link   string `json:"l,omitempty"` // delta link, relative to the API root
}

// Cursor phases.
const (
	phaseFull     = "full"     // track-changes read of the fields, unfiltered
	phaseFiltered = "filtered" // plain read with $filter (no track-changes)
	phaseTDS      = "tds"      // key-range pages over TDS
	phaseDelta    = "delta"    // following a delta link
)

// cursor resumes a fetch after a page: GET URL again and skip the first
// Skip rows of it (non-zero only when a server page held more rows than the
// fetch's page size and was split), or for TDS go on after the key After.
// Delta is the delta link a filtered or TDS read took first; Mode the mode
// of the token the fetch ends with.
type cursor struct {
	Entity string `json:"e"`
	Sig    string `json:"s"`
	Phase  string `json:"p"`
	URL    string `json:"u,omitempty"`
	Skip   int    `json:"k,omitempty"`
	Delta  string `json:"d,omitempty"`
	Mode   string `json:"m,omitempty"`
	After  string `json:"a,omitempty"`
}

func encodeOpaque(kind byte, v any) []byte {
	b, _ := json.Marshal(v) // plain structs of strings: cannot fail
	return append([]byte{'d', 'v', tokenFormat, kind}, b...)
}

func decodeOpaque(kind byte, b []byte, v any) bool {
	if len(b) < 5 || b[0] != 'd' || b[1] != 'v' || b[2] != tokenFormat || b[3] != kind {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b[4:]))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil && !dec.More()
}

func (t changeToken) encode() []byte { return encodeOpaque(kindToken, t) }
func (c cursor) encode() []byte      { return encodeOpaque(kindCursor, c) }

// decodeToken reads a change token for entity and signature sig. A token
// it cannot read, or one made for another entity, field selection or
// filter, is answered TokenExpired: it cannot serve this fetch, and a full
// read (what the engine does on TokenExpired) is the way out.
func decodeToken(b []byte, entity, sig string) (changeToken, error) {
	var t changeToken
	if !decodeOpaque(kindToken, b, &t) {
		return t, sdk.Errorf(sdk.TokenExpired, "dataverse: fetch %s: the change token is not one of this connector's (or is damaged); the entity must be read in full", entity)
	}
	switch {
	case t.Entity != entity:
		return t, sdk.Errorf(sdk.TokenExpired, "dataverse: fetch %s: the change token belongs to entity %q", entity, t.Entity)
	case t.Sig != sig:
		return t, sdk.Errorf(sdk.TokenExpired, "dataverse: fetch %s: the change token was made for another field selection or filter; the entity must be read in full", entity)
	case t.Mode == modeNone:
		return t, sdk.Errorf(sdk.TokenExpired, "dataverse: fetch %s: the read that made this token took no delta link (ids-only read, or no change tracking); the entity must be read in full", entity)
	case t.Mode != modePlain && t.Mode != modeKeyed || t.Link == "":
		return t, sdk.Errorf(sdk.TokenExpired, "dataverse: fetch %s: the change token is damaged", entity)
	}
	return t, nil
}

// decodeCursor reads a cursor for entity and signature sig; anything else
// is a Permanent error (the same cursor fails again).
func decodeCursor(b []byte, entity, sig string) (cursor, error) {
	var c cursor
	if !decodeOpaque(kindCursor, b, &c) {
		return c, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: the cursor is not one of this connector's (or is damaged)", entity)
	}
	if c.Entity != entity || c.Sig != sig {
		return c, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: the cursor belongs to another fetch (entity, fields, filter or token differ)", entity)
	}
	switch c.Phase {
	case phaseFull, phaseFiltered, phaseDelta:
		if c.URL == "" || c.Skip < 0 {
			return c, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: the cursor is damaged", entity)
		}
	case phaseTDS:
	default:
		return c, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: the cursor is damaged", entity)
	}
	return c, nil
}

// signature identifies what a token or cursor may serve: the entity, the
// set of fields (order does not change what a delta link selects), the
// $filter and whether the read is ids-only. For cursors the token the
// fetch started from is part of it.
func signature(entity string, fields []string, filter string, idsOnly bool, token []byte) string {
	h := sha256.New()
	sorted := slices.Sorted(slices.Values(fields))
	h.Write([]byte(entity + "\x00" + strings.Join(sorted, ",") + "\x00" + filter + "\x00" + strconv.FormatBool(idsOnly) + "\x00"))
	h.Write(token)
	return hex.EncodeToString(h.Sum(nil)[:12])
}
