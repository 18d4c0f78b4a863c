package emulator

import (
	"net/http"
	"strconv"
	"strings"
)

// prefs are the Prefer header's preferences the Web API honours.
type prefs struct {
	maxPageSize     int // 0: not given
	trackChanges    bool
	returnRepr      bool
	continueOnError bool
	annotations     annotations
}

// parsePrefer reads every Prefer header (comma-separated preferences).
func parsePrefer(h http.Header) prefs {
	var p prefs
	for _, line := range h.Values("Prefer") {
		for _, item := range splitPrefer(line) {
			item = strings.TrimSpace(item)
			name, val, _ := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch name {
			case "odata.maxpagesize", "maxpagesize":
				if n, err := strconv.Atoi(val); err == nil && n > 0 {
					p.maxPageSize = n
				}
			case "odata.track-changes", "track-changes":
				p.trackChanges = true
			case "return":
				p.returnRepr = strings.EqualFold(val, "representation")
			case "odata.continue-on-error", "continue-on-error":
				p.continueOnError = val == "" || strings.EqualFold(val, "true")
			case "odata.include-annotations", "include-annotations":
				p.annotations.raw = val
				for _, t := range strings.Split(val, ",") {
					if t = strings.TrimSpace(t); t != "" {
						p.annotations.patterns = append(p.annotations.patterns, t)
					}
				}
			}
		}
	}
	return p
}

// splitPrefer splits on commas outside double quotes
// (odata.include-annotations="a,b" is one preference).
func splitPrefer(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
