package config

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Documents is the documents block: which attachments of the rows on the
// device it downloads, and how. Without the block no documents download.
//
//	documents {
//	  max_size_mb = 10        # 0 = none, -1 = unlimited (the default)
//	  parallel    = 5
//	  quota_mb    = 500       # total kept on the device; 0 = no quota
//	  include     = ["account", "contact"]
//	  exclude     = []
//	  dir         = "documents"   # default: next to the store
//	  suffix ".pdf" { max_size_mb = 50 }
//	  entity "contact" {
//	    max_size_mb = 2
//	    suffix ".jpg" { max_size_mb = 0.5 }
//	  }
//	}
//
// Sizes are megabytes of 2^20 bytes, fractions allowed, held here in bytes.
// A document's limit comes from the most specific setting: its entity
// block's suffix, its entity block's max_size_mb, the block's suffix, the
// block's max_size_mb. Documents over their limit (or over the quota) are
// listed on the device as blocked and can be fetched on demand.
type Documents struct {
	// Dir holds the files (resolved); "" means next to the store.
	Dir string
	// Parallel is how many documents download at once (1..32, default 5).
	Parallel int
	// MaxSize is the default limit in bytes: 0 none, -1 no limit.
	MaxSize int64
	// Quota bounds the bytes of documents kept on the device; 0 none.
	Quota int64
	// Include, when not empty, names the only entities whose documents
	// are listed; Exclude names entities whose documents are not.
	Include, Exclude []string
	// Suffix maps a file name suffix (lower-case, e.g. ".pdf") to its
	// limit in bytes, over MaxSize.
	Suffix map[string]int64
	// Entities are the per-entity rules, by entity name.
	Entities map[string]DocumentRule
}

// DocumentRule is an entity block inside the documents block.
type DocumentRule struct {
	// MaxSize, when set, is the entity's limit in bytes (0 none, -1 no
	// limit), over the block's max_size_mb and suffixes.
	MaxSize *int64
	// Suffix are the entity's own suffix limits, over everything else.
	Suffix map[string]int64
}

// DefaultDocumentParallel is how many documents download at once when the
// block does not say.
const DefaultDocumentParallel = 5

const (
	minDocParallel, maxDocParallel = 1, 32
	maxDocMB                       = 1 << 20 // a terabyte
)

type documentsBlock struct {
	DefRange  hcl.Range         `hcl:",def_range"`
	Dir       *hcl.Attribute    `hcl:"dir,optional"`
	MaxSizeMB *hcl.Attribute    `hcl:"max_size_mb,optional"`
	Parallel  *hcl.Attribute    `hcl:"parallel,optional"`
	QuotaMB   *hcl.Attribute    `hcl:"quota_mb,optional"`
	Include   *hcl.Attribute    `hcl:"include,optional"`
	Exclude   *hcl.Attribute    `hcl:"exclude,optional"`
	Suffixes  []*docSuffixBlock `hcl:"suffix,block"`
	Entities  []*docEntityBlock `hcl:"entity,block"`
}

type docSuffixBlock struct {
	Suffix      string         `hcl:"suffix,label"`
	SuffixRange hcl.Range      `hcl:"suffix,label_range"`
	DefRange    hcl.Range      `hcl:",def_range"`
	MaxSizeMB   *hcl.Attribute `hcl:"max_size_mb,optional"`
}

type docEntityBlock struct {
	Name      string            `hcl:"name,label"`
	NameRange hcl.Range         `hcl:"name,label_range"`
	DefRange  hcl.Range         `hcl:",def_range"`
	MaxSizeMB *hcl.Attribute    `hcl:"max_size_mb,optional"`
	Suffixes  []*docSuffixBlock `hcl:"suffix,block"`
}

// documents checks the documents block, if there is one.
func (c *checker) documents(b *documentsBlock, cfg *Config) {
	if b == nil {
		return
	}
	const where = "documents"
	d := &Documents{Parallel: DefaultDocumentParallel, MaxSize: -1, Suffix: map[string]int64{}, Entities: map[string]DocumentRule{}}
	if s, ok := c.text(where+": dir", b.Dir); ok {
		d.Dir = resolve(cfg.Dir, s)
	}
	if n, ok := c.megabytes(where+": max_size_mb", b.MaxSizeMB, "-1 (no limit)"); ok {
		d.MaxSize = n
	}
	if n, ok := c.integer(where+": parallel", b.Parallel, minDocParallel, maxDocParallel, fmt.Sprint(DefaultDocumentParallel)); ok {
		d.Parallel = n
	}
	if n, ok := c.megabytes(where+": quota_mb", b.QuotaMB, "0 (no quota)"); ok {
		if n < 0 {
			c.attrError(b.QuotaMB, where+": quota_mb is negative", "0 means no quota")
		} else {
			d.Quota = n
		}
	}
	d.Include = c.entityList(where+": include", b.Include)
	d.Exclude = c.entityList(where+": exclude", b.Exclude)
	d.Suffix = c.suffixes(where, b.Suffixes)
	first := map[string]int{}
	for _, e := range b.Entities {
		ew := where + ": entity " + short(e.Name)
		if !c.checkName(e.NameRange, where+": entity", e.Name) {
			continue
		}
		if line, dup := first[e.Name]; dup {
			c.report(e.DefRange, ew+": declared twice", fmt.Sprintf("the first is at line %d; merge the two blocks", line))
			continue
		}
		first[e.Name] = e.DefRange.Start.Line
		r := DocumentRule{Suffix: c.suffixes(ew, e.Suffixes)}
		if n, ok := c.megabytes(ew+": max_size_mb", e.MaxSizeMB, "the documents block's"); ok {
			r.MaxSize = &n
		}
		d.Entities[e.Name] = r
	}
	cfg.Documents = d
}

// suffixes checks suffix blocks: each names a suffix once and sets its
// max_size_mb.
func (c *checker) suffixes(where string, blocks []*docSuffixBlock) map[string]int64 {
	out := map[string]int64{}
	first := map[string]int{}
	for _, s := range blocks {
		sw := where + ": suffix " + short(s.Suffix)
		key := strings.ToLower(s.Suffix)
		if !c.checkName(s.SuffixRange, where+": suffix", s.Suffix) {
			continue
		}
		if line, dup := first[key]; dup {
			c.report(s.DefRange, sw+": declared twice", fmt.Sprintf("the first is at line %d (suffixes ignore case)", line))
			continue
		}
		first[key] = s.DefRange.Start.Line
		if !c.required(s.MaxSizeMB, s.DefRange, sw+": max_size_mb is required",
			`the limit for documents named so, e.g. suffix ".pdf" { max_size_mb = 50 }`) {
			continue
		}
		if n, ok := c.megabytes(sw+": max_size_mb", s.MaxSizeMB, ""); ok {
			out[key] = n
		}
	}
	return out
}

// entityList decodes a list of entity names.
func (c *checker) entityList(what string, a *hcl.Attribute) []string {
	names, ok := c.list(what, a)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !c.checkName(a.Range, what+": entity", n) {
			continue
		}
		if seen[n] {
			c.attrError(a, fmt.Sprintf("%s: %s is listed twice", what, short(n)), "")
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// megabytes decodes a size in megabytes (2^20 bytes; fractions allowed)
// into bytes: -1 means no limit, 0 none.
func (c *checker) megabytes(what string, a *hcl.Attribute, dflt string) (int64, bool) {
	v, ok := c.value(what, a)
	if !ok {
		return 0, false
	}
	valid := fmt.Sprintf("valid: -1 (no limit), 0 (none) or megabytes up to %d, e.g. 10 or 0.5", maxDocMB)
	if dflt != "" {
		valid += "; default " + dflt
	}
	num, err := convert.Convert(v, cty.Number)
	if err != nil || num.IsNull() {
		c.attrError(a, fmt.Sprintf("%s: want a number of megabytes, got %s", what, describe(v)), valid)
		return 0, false
	}
	f := new(big.Float).Copy(num.AsBigFloat())
	if f.Cmp(big.NewFloat(-1)) == 0 {
		return -1, true
	}
	if f.Sign() < 0 || f.Cmp(big.NewFloat(maxDocMB)) > 0 {
		c.attrError(a, fmt.Sprintf("%s: %s is out of range", what, c.source(a.Expr.Range())), valid)
		return 0, false
	}
	f.Mul(f, big.NewFloat(1<<20))
	n, _ := f.Int64()
	if rem := new(big.Float).Sub(f, new(big.Float).SetInt64(n)); rem.Cmp(big.NewFloat(0.5)) >= 0 {
		n++ // round half up
	}
	return n, true
}
