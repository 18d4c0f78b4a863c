package wasmguest

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
)

// Logger returns the logger whose lines reach the host's log: the one the
// factory receives, for code that has none at hand (a conflict policy).
func Logger() hclog.Logger { return newLogger(theHost) }

// guestLogger is an hclog.Logger that sends each line to the host as a
// LogRecord, where the host logs it through its own logger (named after the
// plugin) with the level and fields intact. Lines below the host's level are
// dropped here, before they cost an encoding and a host call.
type guestLogger struct {
	h       host
	name    string
	level   *atomic.Int32 // shared with derived loggers, as hclog's are
	implied []any
}

var _ hclog.Logger = (*guestLogger)(nil)

// newLogger starts at the level the host passed in the environment.
func newLogger(h host) *guestLogger {
	level := hclog.LevelFromString(os.Getenv(wasmabi.EnvLogLevel))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	l := &guestLogger{h: h, level: new(atomic.Int32)}
	l.level.Store(int32(level))
	return l
}

func (l *guestLogger) enabled(level hclog.Level) bool {
	return level != hclog.Off && level >= hclog.Level(l.level.Load())
}

func (l *guestLogger) Log(level hclog.Level, msg string, args ...any) {
	if !l.enabled(level) {
		return
	}
	if level == hclog.NoLevel || level == hclog.Off {
		level = hclog.Info
	}
	rec := &pb.LogRecord{Level: level.String(), Message: msg, Fields: map[string]string{}}
	addFields(rec.Fields, l.implied)
	addFields(rec.Fields, args)
	if l.name != "" {
		rec.Fields[wasmabi.LogModuleField] = l.name
	}
	if b, err := proto.Marshal(rec); err == nil {
		l.h.log(b)
	} else {
		// Invalid UTF-8 somewhere: quote it rather than lose the line.
		rec.Message = fmt.Sprintf("%q", msg)
		for k, v := range rec.Fields {
			delete(rec.Fields, k)
			rec.Fields[fmt.Sprintf("%q", k)] = fmt.Sprintf("%q", v)
		}
		if b, err := proto.Marshal(rec); err == nil {
			l.h.log(b)
		}
	}
}

// addFields turns hclog's key/value arguments into fields, the way hclog
// prints them: a key that is not a string is formatted, a value without a
// key goes under EXTRA_VALUE_AT_END.
func addFields(into map[string]string, args []any) {
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			into["EXTRA_VALUE_AT_END"] = fmt.Sprint(args[i])
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		switch v := args[i+1].(type) {
		case hclog.Format:
			into[key] = fmt.Sprintf(v[0].(string), v[1:]...)
		default:
			into[key] = fmt.Sprint(v)
		}
	}
}

func (l *guestLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *guestLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *guestLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *guestLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *guestLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *guestLogger) IsTrace() bool { return l.enabled(hclog.Trace) }
func (l *guestLogger) IsDebug() bool { return l.enabled(hclog.Debug) }
func (l *guestLogger) IsInfo() bool  { return l.enabled(hclog.Info) }
func (l *guestLogger) IsWarn() bool  { return l.enabled(hclog.Warn) }
func (l *guestLogger) IsError() bool { return l.enabled(hclog.Error) }

func (l *guestLogger) ImpliedArgs() []any { return l.implied }

func (l *guestLogger) With(args ...any) hclog.Logger {
	c := *l
	c.implied = append(append([]any(nil), l.implied...), args...)
	return &c
}

func (l *guestLogger) Name() string { return l.name }

func (l *guestLogger) Named(name string) hclog.Logger {
	if l.name != "" {
		name = l.name + "." + name
	}
	return l.ResetNamed(name)
}

func (l *guestLogger) ResetNamed(name string) hclog.Logger {
	c := *l
	c.name = name
	return &c
}

func (l *guestLogger) SetLevel(level hclog.Level) { l.level.Store(int32(level)) }
func (l *guestLogger) GetLevel() hclog.Level      { return hclog.Level(l.level.Load()) }

func (l *guestLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter logs each write as one line, at opts.ForceLevel or info.
func (l *guestLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return stdWriter{l, level}
}

type stdWriter struct {
	l     *guestLogger
	level hclog.Level
}

func (w stdWriter) Write(p []byte) (int, error) {
	w.l.Log(w.level, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
