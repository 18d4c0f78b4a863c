package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// count writes n with thousands separators: 1234567 → "1,234,567".
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// counted writes "1 change" or "3 changes".
func counted(n int, one, many string) string {
	return count(n) + " " + plural(n, one, many)
}

// dur writes a duration the way a person reads it: 850ms, 1.2s, 3m05s.
func dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Minute).String()
}

func ms(n int64) string { return dur(time.Duration(n) * time.Millisecond) }

// when writes a local timestamp with how long ago it was.
func when(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05") + " (" + ago(now.Sub(t)) + ")"
}

func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// table writes aligned columns. A column whose header starts with '>' (the
// '>' is dropped) is aligned on the right, for numbers.
type table struct {
	w     io.Writer
	right []bool
	rows  [][]string
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{w: w, right: make([]bool, len(headers))}
	hs := make([]string, len(headers))
	for i, h := range headers {
		if strings.HasPrefix(h, ">") {
			t.right[i] = true
			h = h[1:]
		}
		hs[i] = h
	}
	t.rows = append(t.rows, hs)
	return t
}

func (t *table) row(cells ...any) {
	r := make([]string, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case int:
			r[i] = count(v)
		case int64:
			r[i] = count(int(v))
		default:
			r[i] = fmt.Sprint(v)
		}
	}
	t.rows = append(t.rows, r)
}

// flush writes the table indented by two spaces.
func (t *table) flush() {
	widths := make([]int, len(t.right))
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) && len([]rune(c)) > widths[i] {
				widths[i] = len([]rune(c))
			}
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", max(0, widths[i]-len([]rune(c))))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.right[i] {
				b.WriteString(pad + c)
			} else if i < len(r)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
	}
}

// short cuts a long id or text for a table cell.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
