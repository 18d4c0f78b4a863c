package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits that keep hostile or broken files from hurting the process. A real
// config is a few kilobytes, nests three or four levels deep and holds
// hardly an operator; each limit is far beyond that.
const (
	// maxFileSize bounds the file: parsing is linear but not cheap.
	maxFileSize = 1 << 20
	// maxNesting bounds how deep blocks, brackets, parentheses and strings
	// nest. hclsyntax parses by recursion, and a file of a million "[" or
	// "-" overflows the goroutine stack: a fatal error no recover catches
	// (hashicorp/hcl#809, open as of v2.25.0).
	maxNesting = 64
	// maxOperators bounds "-", "!" and "?", which nest without brackets.
	maxOperators = 256
	// maxReported bounds the problems Error lists; Diagnostics keeps all.
	maxReported = 50
)

// checkLimits lexes src (cheap, and not recursive) and refuses a file
// hclsyntax could not parse safely.
func checkLimits(src []byte, filename string) hcl.Diagnostics {
	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	if len(src) > maxFileSize {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("the file is larger than %d bytes", maxFileSize),
			Detail:   "a config is a few kilobytes; is it the right file?",
			Subject:  &start,
		}}
	}
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	depth, ops := 0, 0
	for _, tok := range tokens {
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			depth = max(depth-1, 0)
		case hclsyntax.TokenMinus, hclsyntax.TokenBang, hclsyntax.TokenQuestion:
			ops++
		}
		if depth > maxNesting {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "nesting too deep",
				Detail:   fmt.Sprintf("blocks, brackets and strings nest more than %d levels here", maxNesting),
				Subject:  tok.Range.Ptr(),
			}}
		}
		if ops > maxOperators {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "too many operators",
				Detail:   fmt.Sprintf(`a config holds literal values; this file has more than %d "-", "!" and "?"`, maxOperators),
				Subject:  tok.Range.Ptr(),
			}}
		}
	}
	return nil
}
