package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/core/config"
)

// cliError is a failure said the way a user needs to hear it: one sentence
// (msg) saying what could not be done and why, with the full cause kept for
// --log-level debug.
type cliError struct {
	msg   string
	cause error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.cause }

// fail says what could not be done, followed by the gist of the cause:
// fail(err, "cannot open the store %s", path) reads
// "cannot open the store device.db: database is locked".
func fail(cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		msg += ": " + gist(cause)
	}
	return &cliError{msg: msg, cause: cause}
}

// failQuiet is a sentence that already says everything a user needs; the
// cause is shown only at --log-level debug.
func failQuiet(cause error, format string, args ...any) error {
	return &cliError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// sentence is the one line execute prints for err.
func sentence(err error) string {
	var ce *cliError
	if errors.As(err, &ce) {
		return oneLine(ce.msg)
	}
	return gist(err)
}

// gist reduces an error to one line: a config error to its first problem
// (which names the file, line and column), a cancellation to what it means,
// anything else to its first line.
func gist(err error) string {
	var cfgErr *config.Error
	switch {
	case errors.As(err, &cfgErr) && len(cfgErr.Diagnostics) > 0:
		lines := strings.Split(cfgErr.Error(), "\n")
		s := lines[0]
		if n := len(lines) - 1; n > 0 {
			s += fmt.Sprintf(" (and %d more %s; --log-level debug lists them)", n, plural(n, "problem", "problems"))
		}
		return s
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return oneLine(err.Error())
}

// detail is what --log-level debug shows of an error: every line of it and
// of each error it wraps that says more.
func detail(err error) []string {
	var out []string
	seen := map[string]bool{}
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, line := range strings.Split(e.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" && !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
	}
	return out
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
