package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/core/engine"
)

// events is a small sync as the engine reports it.
var events = []engine.Event{
	{Phase: "prepare"},
	{Phase: "prepare", Done: true},
	{Phase: "upload"},
	{Phase: "upload", Total: 4},
	{Phase: "upload", Records: 2, Total: 4},
	{Phase: "upload", Records: 4, Total: 4},
	{Phase: "upload", Done: true},
	{Phase: "download"},
	{Phase: "download", Entity: "account", Records: 1000, Pages: 1},
	{Phase: "download", Entity: "contact", Records: 500, Pages: 1},
	{Phase: "download", Entity: "account", Records: 1500, Pages: 2, Done: true},
	{Phase: "download", Entity: "contact", Records: 500, Pages: 1, Done: true, Err: errors.New("boom")},
	{Phase: "download", Done: true},
	{Phase: "cleanup"},
	{Phase: "cleanup", Done: true},
}

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b) // a buffer is not a terminal
	for _, ev := range events {
		p.event(ev)
	}
	p.finish()
	got := b.String()
	for _, want := range []string{
		"prepare: done in",
		"upload: sending 4 changes …\n",
		"upload: 4 of 4 changes sent, ",
		"download account: 1,500 records in 2 pages, ",
		"download contact: 500 records in 1 page, failed after ",
		"cleanup: done in",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plain progress lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b[") {
		t.Errorf("plain progress has terminal escapes:\n%q", got)
	}
}

func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.tty = true
	for _, ev := range events {
		p.event(ev)
	}
	p.finish()
	got := b.String()
	// The last redraw is the final block: go back over five lines, then
	// one line per phase and entity.
	last := got[strings.LastIndex(got, "\x1b[5A"):]
	for _, want := range []string{
		"prepare   ✓",
		"upload    [████████████████████████] 4/4 changes ✓",
		"account   1,500 records · 2 pages ✓",
		"contact   500 records · 1 page ✗",
		"cleanup   ✓",
	} {
		if !strings.Contains(last, want) {
			t.Errorf("final progress block lacks %q:\n%s", want, last)
		}
	}
}
