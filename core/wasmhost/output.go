package wasmhost

import (
	"bytes"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// tailSize is how much of a guest's latest output is kept to explain a crash.
const tailSize = 4 << 10

// outputLog receives what a guest writes to stdout or stderr: each line
// goes to the log as a warning (a plugin should log through its logger, so
// output means something unusual, typically a panic), and the last few KiB
// are kept to name the cause when the guest traps.
type outputLog struct {
	logger hclog.Logger
	what   string

	mu      sync.Mutex
	partial []byte
	last    []byte
}

func newOutputLog(logger hclog.Logger, what string) *outputLog {
	return &outputLog{logger: logger, what: what}
}

func (o *outputLog) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.last = append(o.last, p...)
	if len(o.last) > tailSize {
		o.last = append(o.last[:0], o.last[len(o.last)-tailSize:]...)
	}
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(o.partial[:i])); line != "" {
			o.logger.Warn(o.what, "output", clip(line))
		}
		o.partial = o.partial[i+1:]
	}
	if len(o.partial) > maxLogLine {
		o.logger.Warn(o.what, "output", clip(string(o.partial)))
		o.partial = o.partial[:0]
	}
	return len(p), nil
}

func (o *outputLog) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.last)
}

// panicMessage picks the cause out of a Go guest's dying words ("panic:
// ..." or "fatal error: ..."), ready to append to an error message.
func (o *outputLog) panicMessage() string {
	tail := o.tail()
	for _, marker := range []string{"panic: ", "fatal error: "} {
		if i := strings.LastIndex(tail, marker); i >= 0 {
			line, _, _ := strings.Cut(tail[i:], "\n")
			return " (" + strings.TrimSpace(line) + ")"
		}
	}
	return ""
}
