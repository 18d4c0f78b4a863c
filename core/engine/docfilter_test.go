package engine

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

const docMB = 1 << 20

func testDoc(entity, name string, size int64) sdk.Document {
	return sdk.Document{ID: "d", Entity: entity, RecordID: "r", Name: name, Size: size}
}

func TestDocumentFilterDecide(t *testing.T) {
	f := DocumentFilter{
		MaxSize: 10 * docMB,
		Suffix:  map[string]int64{".pdf": 50 * docMB, ".mp4": 0, ".gz": 1 * docMB, ".tar.gz": Unlimited},
		Quota:   100 * docMB,
		Exclude: []string{"task"},
		Entities: map[string]DocumentRule{
			"contact": {MaxSize: Limit(2 * docMB)},
			"lead":    {MaxSize: Limit(0), Suffix: map[string]int64{".JPG": 512 << 10}},
			"case":    {Suffix: map[string]int64{".pdf": 5 * docMB}},
		},
	}
	tests := []struct {
		name   string
		doc    sdk.Document
		used   int64
		ok     bool
		reason string // a part of it
	}{
		{"under max size", testDoc("account", "a.txt", 10*docMB), 0, true, ""},
		{"over max size", testDoc("account", "a.txt", 10*docMB+1), 0, false, "larger than 10 MB"},
		{"suffix raises the limit", testDoc("account", "offer.pdf", 40*docMB), 0, true, ""},
		{"suffix ignores case", testDoc("account", "OFFER.PDF", 40*docMB), 0, true, ""},
		{"over the suffix limit", testDoc("account", "offer.pdf", 51*docMB), 0, false, "larger than 50 MB (the limit for documents named *.pdf)"},
		{"suffix 0 blocks", testDoc("account", "clip.mp4", 1), 0, false, "documents named *.mp4 are not downloaded"},
		{"longest suffix wins", testDoc("account", "x.tar.gz", 90*docMB), 0, true, ""},
		{"shorter suffix", testDoc("account", "x.gz", 2*docMB), 0, false, "larger than 1 MB"},
		{"entity rule", testDoc("contact", "a.txt", 3*docMB), 0, false, "larger than 2 MB (the limit for documents of contact)"},
		{"entity rule beats a global suffix", testDoc("contact", "offer.pdf", 3*docMB), 0, false, "of contact"},
		{"entity rule allows", testDoc("contact", "a.txt", 2*docMB), 0, true, ""},
		{"entity max 0", testDoc("lead", "a.txt", 1), 0, false, "documents of lead are not downloaded"},
		{"entity suffix beats entity max", testDoc("lead", "face.jpg", 100<<10), 0, true, ""},
		{"entity suffix limit", testDoc("lead", "face.jpg", 600<<10), 0, false, "larger than 512 KB (the limit for documents of lead named *.JPG)"},
		{"entity suffix only", testDoc("case", "a.pdf", 6*docMB), 0, false, "larger than 5 MB"},
		{"entity without max keeps the global one", testDoc("case", "a.txt", 11*docMB), 0, false, "larger than 10 MB"},
		{"excluded entity", testDoc("task", "a.txt", 1), 0, false, "documents of task are excluded"},
		{"within the quota", testDoc("account", "a.txt", 5*docMB), 95 * docMB, true, ""},
		{"over the quota", testDoc("account", "a.txt", 5*docMB+1), 95 * docMB, false, "over the quota of 100 MB (95 MB in use)"},
		{"empty document", testDoc("account", "a.txt", 0), 0, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := f.Decide(tt.doc, tt.used)
			if ok != tt.ok || !strings.Contains(reason, tt.reason) || (ok && reason != "") {
				t.Errorf("Decide(%s %q, %d bytes, used %d) = %v %q, want %v %q", tt.doc.Entity, tt.doc.Name, tt.doc.Size, tt.used, ok, reason, tt.ok, tt.reason)
			}
		})
	}
}

func TestDocumentFilterLimits(t *testing.T) {
	var zero DocumentFilter
	if ok, reason := zero.Decide(testDoc("account", "a.txt", 1), 0); ok || reason != "documents are not downloaded (max size 0)" {
		t.Errorf("zero filter: %v %q", ok, reason)
	}
	if ok, _ := zero.Decide(testDoc("account", "a.txt", 0), 0); ok {
		t.Error("zero filter allowed an empty document")
	}
	unlimited := DocumentFilter{MaxSize: Unlimited}
	if ok, reason := unlimited.Decide(testDoc("account", "huge.iso", 1<<40), 1<<40); !ok {
		t.Errorf("unlimited filter: %q", reason)
	}
	noQuota := DocumentFilter{MaxSize: Unlimited, Quota: 0}
	if ok, _ := noQuota.Decide(testDoc("account", "a", 10), 1<<50); !ok {
		t.Error("a quota of 0 limited the total")
	}
}

func TestDocumentFilterIncludeExclude(t *testing.T) {
	f := DocumentFilter{MaxSize: Unlimited, Include: []string{"account", "contact"}, Exclude: []string{"contact"}}
	for entity, want := range map[string]bool{"account": true, "contact": false, "lead": false} {
		if got := f.Lists(entity); got != want {
			t.Errorf("Lists(%s) = %v, want %v", entity, got, want)
		}
		ok, reason := f.Decide(testDoc(entity, "a", 1), 0)
		if ok != want {
			t.Errorf("Decide(%s) = %v %q", entity, ok, reason)
		}
	}
	if _, reason := f.Decide(testDoc("lead", "a", 1), 0); reason != "documents of lead are not included" {
		t.Errorf("reason %q", reason)
	}
	all := DocumentFilter{MaxSize: Unlimited}
	if !all.Lists("anything") {
		t.Error("an empty include list must include every entity")
	}
}

func TestDocumentFilterValidate(t *testing.T) {
	good := DocumentFilter{MaxSize: -1, Suffix: map[string]int64{".pdf": 0}, Entities: map[string]DocumentRule{"a": {MaxSize: Limit(-1)}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]DocumentFilter{
		"max size":       {MaxSize: -2},
		"suffix":         {Suffix: map[string]int64{".pdf": -5}},
		"empty suffix":   {Suffix: map[string]int64{" ": 1}},
		"case twins":     {Suffix: map[string]int64{".pdf": 1, ".PDF": 2}},
		"entity max":     {Entities: map[string]DocumentRule{"a": {MaxSize: Limit(-3)}}},
		"entity suffix":  {Entities: map[string]DocumentRule{"a": {Suffix: map[string]int64{".x": -2}}}},
		"entity suffix2": {Entities: map[string]DocumentRule{"a": {Suffix: map[string]int64{"": 1}}}},
	} {
		if err := f.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KB", 1536: "1.5 KB", 10 * docMB: "10 MB", 5*docMB + docMB/2: "5.5 MB", 3 << 30: "3 GB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
