package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// DocumentFilter decides which documents a device downloads in the
// documents phase. A document it refuses stays listed on the device as
// blocked, with the reason, and can still be fetched on demand
// (Engine.FetchDocument).
//
// Size limits are bytes: 0 means no documents, -1 means no limit. The
// limit of a document is found from the most specific setting:
//
//  1. the entity's rule (Entities), its longest matching Suffix;
//  2. the entity's rule, its MaxSize (when set);
//  3. the filter's longest matching Suffix;
//  4. the filter's MaxSize.
//
// Suffixes match the end of the document's name, case-insensitively
// (".pdf" matches "Offer.PDF"; ".tar.gz" beats ".gz").
//
// The zero DocumentFilter downloads nothing (MaxSize 0): every document is
// listed as blocked.
type DocumentFilter struct {
	MaxSize int64
	Suffix  map[string]int64
	// Quota bounds the total size of the documents kept on the device
	// (downloaded ones and ones made on the device); 0 or less means no
	// quota. A document that would go over it is blocked.
	Quota int64
	// Include, when not empty, names the only entities whose documents are
	// listed; Exclude names entities whose documents are not. An entity
	// outside them is not asked for documents at all (documents already
	// listed are blocked).
	Include, Exclude []string
	// Entities holds per-entity rules, more specific than the filter's own
	// MaxSize and Suffix.
	Entities map[string]DocumentRule
}

// DocumentRule overrides the filter's limits for one entity's documents.
type DocumentRule struct {
	// MaxSize, when not nil, replaces the filter's MaxSize and Suffix
	// limits for the entity (its own Suffix still applies).
	MaxSize *int64
	Suffix  map[string]int64
}

// Limit returns a pointer to n, for DocumentRule.MaxSize.
func Limit(n int64) *int64 { return &n }

// Unlimited is the size limit meaning "any size".
const Unlimited int64 = -1

// Validate reports limits below -1 and empty or duplicate suffixes.
func (f *DocumentFilter) Validate() error {
	check := func(where string, n int64) error {
		if n < Unlimited {
			return fmt.Errorf("document filter: %s: %d bytes; use 0 for none, -1 for no limit", where, n)
		}
		return nil
	}
	suffixes := func(where string, m map[string]int64) error {
		seen := map[string]string{}
		for k, n := range m {
			if strings.TrimSpace(k) == "" {
				return fmt.Errorf("document filter: %san empty suffix", where)
			}
			if other, dup := seen[strings.ToLower(k)]; dup {
				return fmt.Errorf("document filter: %ssuffixes %q and %q differ only in case", where, other, k)
			}
			seen[strings.ToLower(k)] = k
			if err := check(where+"suffix "+k, n); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check("max size", f.MaxSize); err != nil {
		return err
	}
	if err := suffixes("", f.Suffix); err != nil {
		return err
	}
	for name, r := range f.Entities {
		if r.MaxSize != nil {
			if err := check("entity "+name+": max size", *r.MaxSize); err != nil {
				return err
			}
		}
		if err := suffixes("entity "+name+": ", r.Suffix); err != nil {
			return err
		}
	}
	return nil
}

// Lists reports whether documents of entity are asked for at all
// (Include and Exclude).
func (f *DocumentFilter) Lists(entity string) bool {
	_, ok := f.entityAllowed(entity)
	return ok
}

func (f *DocumentFilter) entityAllowed(entity string) (string, bool) {
	if slices.Contains(f.Exclude, entity) {
		return fmt.Sprintf("documents of %s are excluded", entity), false
	}
	if len(f.Include) > 0 && !slices.Contains(f.Include, entity) {
		return fmt.Sprintf("documents of %s are not included", entity), false
	}
	return "", true
}

// Decide says whether doc may be downloaded when the documents on the
// device already take used bytes, and if not, why (a reason a person
// reads, e.g. "larger than 10 MB").
func (f *DocumentFilter) Decide(doc sdk.Document, used int64) (ok bool, reason string) {
	if why, ok := f.entityAllowed(doc.Entity); !ok {
		return false, why
	}
	limit, source := f.limit(doc)
	switch {
	case limit == 0 && source == "":
		return false, "documents are not downloaded (max size 0)"
	case limit == 0:
		return false, fmt.Sprintf("documents %s are not downloaded", source)
	case limit > 0 && doc.Size > limit && source == "":
		return false, "larger than " + FormatBytes(limit)
	case limit > 0 && doc.Size > limit:
		return false, fmt.Sprintf("larger than %s (the limit for documents %s)", FormatBytes(limit), source)
	}
	if f.Quota > 0 && used+doc.Size > f.Quota {
		return false, fmt.Sprintf("over the quota of %s (%s in use)", FormatBytes(f.Quota), FormatBytes(used))
	}
	return true, ""
}

// limit finds doc's size limit and names where it came from ("" for the
// filter's MaxSize).
func (f *DocumentFilter) limit(doc sdk.Document) (int64, string) {
	if r, ok := f.Entities[doc.Entity]; ok {
		if k, n, ok := matchSuffix(r.Suffix, doc.Name); ok {
			return n, fmt.Sprintf("of %s named *%s", doc.Entity, k)
		}
		if r.MaxSize != nil {
			return *r.MaxSize, "of " + doc.Entity
		}
	}
	if k, n, ok := matchSuffix(f.Suffix, doc.Name); ok {
		return n, "named *" + k
	}
	return f.MaxSize, ""
}

// matchSuffix finds the longest suffix of m that ends name, ignoring case.
func matchSuffix(m map[string]int64, name string) (string, int64, bool) {
	lower := strings.ToLower(name)
	best, found := "", false
	for k := range m {
		if k != "" && strings.HasSuffix(lower, strings.ToLower(k)) && (!found || len(k) > len(best) || len(k) == len(best) && k < best) {
			best, found = k, true
		}
	}
	if !found {
		return "", 0, false
	}
	return best, m[best], true
}

// FormatBytes writes a size for a person: 512 bytes, 1.5 KB, 10 MB, 2.3 GB
// (binary multiples, as the config's _mb settings count).
func FormatBytes(n int64) string {
	const k = 1 << 10
	units := []string{"KB", "MB", "GB", "TB"}
	if n < k {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/k, 0
	for v >= k && u < len(units)-1 {
		v /= k
		u++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}
