package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/core/engine"
)

// isTerminal reports whether w is a terminal (a character device), where a
// redrawn progress block makes sense; files and pipes get plain lines. (The
// module graph has no golang.org/x/term; a character device is what it
// would find too, short of asking the terminal itself. TERM=dumb opts out.)
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress shows a sync as it runs. On a terminal it redraws a block with
// one line per phase and per entity (a bar where the total is known, a
// spinner and a rate where it is not: a download learns its size only at
// its last page). Elsewhere it writes a plain line when something starts
// or ends, and one every few seconds for a long download.
//
// The engine calls event from several goroutines; it is quick and safe.
type progress struct {
	w   io.Writer
	tty bool

	mu       sync.Mutex
	lines    []*progLine
	byName   map[string]*progLine
	drawn    int       // lines drawn in the last redraw (tty)
	lastDraw time.Time // tty throttle
	spin     int
}

type progLine struct {
	name        string
	what        string // "records" or "changes"
	records     int
	total       int
	pages       int
	started     time.Time
	done        bool
	err         error
	elapsed     time.Duration
	lastPrinted time.Time // plain mode
}

// Redraws at most this often on a terminal; plain lines for one download
// at most this often.
const (
	redrawEvery = 100 * time.Millisecond
	plainEvery  = 5 * time.Second
)

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), byName: map[string]*progLine{}}
}

func (p *progress) line(name, what string) *progLine {
	l, ok := p.byName[name]
	if !ok {
		l = &progLine{name: name, what: what, started: time.Now()}
		p.byName[name] = l
		p.lines = append(p.lines, l)
	}
	return l
}

// event is the engine's OnEvent.
func (p *progress) event(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var l *progLine
	switch {
	case ev.Phase == "download" && ev.Entity != "":
		l = p.line(ev.Entity, "records")
	case ev.Phase == "download":
		return // the entities' lines say it all
	case ev.Phase == "upload":
		l = p.line("upload", "changes")
	default:
		l = p.line(ev.Phase, "")
	}
	if ev.Records > l.records {
		l.records = ev.Records
	}
	if ev.Total > 0 {
		l.total = ev.Total
	}
	l.pages = max(l.pages, ev.Pages)
	if ev.Done {
		l.done, l.err, l.elapsed = true, ev.Err, time.Since(l.started)
		if ev.Phase == "upload" && l.total == 0 {
			l.total = l.records
		}
	}
	if p.tty {
		if ev.Done || time.Since(p.lastDraw) >= redrawEvery {
			p.redraw()
		}
		return
	}
	switch {
	case ev.Done:
		fmt.Fprintln(p.w, p.plain(l))
	case l.what == "changes" && ev.Records == 0 && ev.Total > 0:
		fmt.Fprintf(p.w, "upload: sending %s …\n", counted(ev.Total, "change", "changes"))
	case l.what == "records" && time.Since(l.lastPrinted) >= plainEvery && time.Since(l.started) >= plainEvery:
		l.lastPrinted = time.Now()
		fmt.Fprintf(p.w, "download %s: %s so far …\n", l.name, counted(l.records, "record", "records"))
	}
}

// plain is a finished line in plain mode.
func (p *progress) plain(l *progLine) string {
	var b strings.Builder
	switch {
	case l.what == "records":
		fmt.Fprintf(&b, "download %s: %s in %s", l.name, counted(l.records, "record", "records"), counted(l.pages, "page", "pages"))
	case l.what == "changes" && l.total == 0 && l.err == nil:
		return "upload: nothing to send"
	case l.what == "changes":
		fmt.Fprintf(&b, "upload: %s of %s sent", count(l.records), counted(l.total, "change", "changes"))
	default:
		b.WriteString(l.name + ":")
	}
	sep := ","
	if l.what == "" {
		sep = "" // after "name:"
	}
	switch {
	case l.err != nil:
		fmt.Fprintf(&b, "%s failed after %s", sep, dur(l.elapsed))
	case l.what == "":
		fmt.Fprintf(&b, " done in %s", dur(l.elapsed))
	default:
		fmt.Fprintf(&b, ", %s", dur(l.elapsed))
	}
	return b.String()
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const barWidth = 24

// redraw rewrites the block on a terminal: the cursor goes back up over the
// lines drawn last time, and each line is cleared before it is written.
func (p *progress) redraw() {
	p.lastDraw = time.Now()
	p.spin = (p.spin + 1) % len(spinner)
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	width := 8
	for _, l := range p.lines {
		width = max(width, len(l.name))
	}
	for _, l := range p.lines {
		b.WriteString("\r\x1b[2K  ")
		b.WriteString(l.name + strings.Repeat(" ", width-len(l.name)) + "  ")
		mark := spinner[p.spin]
		switch {
		case l.err != nil:
			mark = "✗"
		case l.done:
			mark = "✓"
		}
		switch {
		case l.what == "changes" && l.done && l.total == 0 && l.err == nil:
			b.WriteString("nothing to send")
		case l.total > 0:
			filled := min(barWidth, barWidth*l.records/l.total)
			fmt.Fprintf(&b, "[%s%s] %s/%s %s", strings.Repeat("█", filled), strings.Repeat("░", barWidth-filled),
				count(l.records), count(l.total), l.what)
		case l.what != "":
			fmt.Fprintf(&b, "%s %s", count(l.records), l.what)
			if l.pages > 0 {
				fmt.Fprintf(&b, " · %s", counted(l.pages, "page", "pages"))
			}
			if el := time.Since(l.started); !l.done && el > time.Second && l.records > 0 {
				fmt.Fprintf(&b, " · %s/s", count(int(float64(l.records)/el.Seconds())))
			}
		}
		if l.what != "" {
			b.WriteString(" ")
		}
		b.WriteString(mark)
		if l.done {
			b.WriteString(" " + dur(l.elapsed))
		}
		b.WriteString("\n")
	}
	p.drawn = len(p.lines)
	io.WriteString(p.w, b.String())
}

// finish draws the final state of the block (a terminal's last throttled
// redraw may have missed some events).
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && len(p.lines) > 0 {
		p.redraw()
	}
}
