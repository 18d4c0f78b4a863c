// Package guestconn is the connector and conflict policy the wasmhost tests
// run as a WASM guest (testdata/guest) and, for comparison, in-process. It
// generates rows of every value kind and misbehaves on purpose for some
// entity names: it checks nothing about the contract's semantics (the
// contract suite does); it lets the tests see what crosses the sandbox's
// boundary and how the host copes with a guest that loops, hoards memory,
// panics or logs.
package guestconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/wasmguest/wasmhttp"
)

// Schema is the one entity, ten fields over every storage kind.
var Schema = &sdk.Schema{Entities: []sdk.Entity{{
	Name: "thing", PrimaryKey: "thingid",
	Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "count", Type: sdk.TypeInt},
		{Name: "ratio", Type: sdk.TypeFloat},
		{Name: "ok", Type: sdk.TypeBool},
		{Name: "blob", Type: sdk.TypeBinary},
		{Name: "when", Type: sdk.TypeDateTime},
		{Name: "price", Type: sdk.TypeDecimal},
		{Name: "ref", Type: sdk.TypeGUID},
		{Name: "status", Type: sdk.TypeChoice, Choices: []sdk.Choice{{Value: 1, Label: "open"}, {Value: 2, Label: "done"}}},
		{Name: "note", Type: sdk.TypeString, ReadOnly: true},
	},
	Capabilities: sdk.EntityCapabilities{Incremental: true, Push: true, Documents: true},
}}}

// Kinds are the storage kinds of Schema's fields, in order.
func Kinds() []sdk.Kind {
	var k []sdk.Kind
	for _, f := range Schema.Entities[0].Fields {
		k = append(k, f.Type.Kind())
	}
	return k
}

// Row is row i's values; one value in seven is null, in rotation.
func Row(i int) []sdk.Value {
	n := strconv.Itoa(i)
	vals := []sdk.Value{
		sdk.String("name-" + n),
		sdk.Int(int64(i) * 3),
		sdk.Float(float64(i) / 7),
		sdk.Bool(i%2 == 0),
		sdk.Bytes([]byte{byte(i), byte(i >> 8), byte(i >> 16)}),
		sdk.Int(1_700_000_000_000_000 + int64(i)),
		sdk.String(n + ".25"),
		sdk.String("00000000-0000-0000-0000-" + fmt.Sprintf("%012d", i%1000)),
		sdk.Int(int64(1 + i%2)),
		sdk.String("ü-" + n),
	}
	vals[i%7] = sdk.Null()
	return vals
}

// ID is row i's id.
func ID(i int) string { return "t-" + strconv.Itoa(i) }

// Factory opens the connector. Settings: rows (how many rows "thing" has,
// default 10), fail (refuse with that message), url (what entity "http"
// fetches).
func Factory(_ context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	if settings["fail"] != "" {
		return nil, sdk.Errorf(sdk.Permanent, "bad settings: %s", settings["fail"])
	}
	rows := 10
	if s := settings["rows"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, sdk.Errorf(sdk.Permanent, "setting rows: %v", err)
		}
		rows = n
	}
	logger.Info("guest connector configured", "rows", rows)
	return &Conn{logger: logger, rows: rows, url: settings["url"]}, nil
}

// Conn is the connector.
type Conn struct {
	logger hclog.Logger
	rows   int
	url    string
}

func (c *Conn) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "guestconn", Version: "1.0", Capabilities: []sdk.Capability{sdk.CapDocuments}}, nil
}

func (c *Conn) Schema(context.Context) (*sdk.Schema, error) { return Schema, nil }

// spin is what the "loop" entity counts up forever; a package variable, so
// the loop cannot be optimised away.
var spin int

// hoard keeps what the "bomb" entity allocates.
var hoard [][]byte

func (c *Conn) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	switch req.Entity {
	case "thing":
		return c.things(ctx, req, fn)
	case "expired":
		return sdk.Errorf(sdk.TokenExpired, "token %q expired", req.Token)
	case "busy":
		return &sdk.Error{Kind: sdk.Retryable, Message: "server busy", RetryAfter: 7 * time.Second}
	case "unsupported":
		return sdk.Errorf(sdk.Unsupported, "no such thing here")
	case "plain":
		return errors.New("an error of no kind")
	case "endless":
		for i := 0; ; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(&sdk.Page{Cursor: []byte(strconv.Itoa(i))}); err != nil {
				return err
			}
		}
	case "loop":
		for {
			spin++
		}
	case "sleep":
		time.Sleep(time.Hour)
		return nil
	case "bomb":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
			hoard[len(hoard)-1][0] = 1
		}
	case "panic":
		panic("guest bug: " + req.Entity)
	case "stderr":
		fmt.Fprintln(os.Stderr, "a line on stderr")
		fmt.Fprintln(os.Stdout, "a line on stdout")
		return fn(&sdk.Page{Last: true})
	case "log":
		c.logger.Trace("a trace line")
		c.logger.Debug("a debug line", "n", 1)
		c.logger.Info("an info line", "entity", req.Entity, "n", 2)
		c.logger.Named("sub").With("implied", "yes").Warn("a warning", "n", 3)
		c.logger.Error("an error line", "err", errors.New("boom"))
		return fn(&sdk.Page{Last: true})
	case "http":
		return c.httpGet(fn)
	case "http2":
		return c.httpInterleaved(fn)
	case "httpleak":
		return c.httpLeak(fn)
	case "badpage":
		return fn(&sdk.Page{Fields: []string{"a"}, IDs: []string{"x", "y"}, Columns: []sdk.Column{{Strings: []string{"only one"}}}})
	case "nolast":
		return fn(&sdk.Page{})
	}
	return sdk.Errorf(sdk.Permanent, "unknown entity %q", req.Entity)
}

func (c *Conn) things(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	size := req.PageSize
	if size <= 0 {
		size = sdk.DefaultPageSize
	}
	if len(req.Token) > 0 { // nothing changes here
		return fn(&sdk.Page{Fields: Schema.Entities[0].FieldNames(), Columns: make([]sdk.Column, 10), Last: true, Token: req.Token})
	}
	start := 0
	if len(req.Cursor) > 0 {
		n, err := strconv.Atoi(string(req.Cursor))
		if err != nil {
			return sdk.Errorf(sdk.Permanent, "bad cursor %q", req.Cursor)
		}
		start = n
	}
	ent := Schema.Entities[0]
	types := make([]sdk.FieldType, len(ent.Fields))
	for i, f := range ent.Fields {
		types[i] = f.Type
	}
	b := sdk.NewPageBuilder(ent.FieldNames(), types)
	for i := start; i < c.rows; i++ {
		b.Add(ID(i), strconv.Itoa(i), Row(i)...)
		if b.Len() == size {
			p := b.Page()
			p.Cursor = []byte(strconv.Itoa(i + 1))
			if err := fn(p); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	b.Delete("gone-1")
	p := b.Page()
	p.Last, p.Token = true, []byte("token-1")
	return fn(p)
}

// httpGet fetches the url setting through the host and returns its status
// and body as one row.
func (c *Conn) httpGet(fn sdk.FetchFunc) error {
	resp, err := wasmhttp.Client().Get(c.url)
	if err != nil {
		return sdk.Errorf(sdk.Retryable, "get %s: %v", c.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	b := sdk.NewPageBuilder([]string{"status", "body", "header"}, []sdk.FieldType{sdk.TypeInt, sdk.TypeString, sdk.TypeString})
	b.Add("r", "", sdk.Int(int64(resp.StatusCode)), sdk.String(string(body)), sdk.String(resp.Header.Get("X-Test")))
	p := b.Page()
	p.Last = true
	return fn(p)
}

// httpInterleaved opens a second request while the first body is still
// half read (the host holds one open body per instance), then finishes the
// first: the row's body is "first|second".
func (c *Conn) httpInterleaved(fn sdk.FetchFunc) error {
	client := wasmhttp.Client()
	r1, err := client.Get(c.url + "?n=1")
	if err != nil {
		return sdk.Errorf(sdk.Retryable, "get 1: %v", err)
	}
	defer r1.Body.Close()
	head := make([]byte, 3)
	if _, err := io.ReadFull(r1.Body, head); err != nil {
		return err
	}
	r2, err := client.Get(c.url + "?n=2")
	if err != nil {
		return sdk.Errorf(sdk.Retryable, "get 2: %v", err)
	}
	second, err := io.ReadAll(r2.Body)
	r2.Body.Close()
	if err != nil {
		return err
	}
	rest, err := io.ReadAll(r1.Body)
	if err != nil {
		return err
	}
	b := sdk.NewPageBuilder([]string{"status", "body", "header"}, []sdk.FieldType{sdk.TypeInt, sdk.TypeString, sdk.TypeString})
	b.Add("r", "", sdk.Int(int64(r1.StatusCode)), sdk.String(string(head)+string(rest)+"|"+string(second)), sdk.String(""))
	p := b.Page()
	p.Last = true
	return fn(p)
}

// httpLeak reads one byte of a response and returns without closing it:
// the host closes the body when the call ends.
func (c *Conn) httpLeak(fn sdk.FetchFunc) error {
	resp, err := wasmhttp.Client().Get(c.url)
	if err != nil {
		return sdk.Errorf(sdk.Retryable, "get: %v", err)
	}
	one := make([]byte, 1)
	if _, err := resp.Body.Read(one); err != nil {
		return err
	}
	p := &sdk.Page{Last: true}
	return fn(p)
}

func (c *Conn) Push(_ context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	out := &sdk.PushResponse{Results: make([]sdk.ChangeResult, 0, len(req.Changes))}
	for _, ch := range req.Changes {
		r := sdk.ChangeResult{ChangeID: ch.ChangeID, ID: ch.ID}
		switch name := ch.Values["name"].Str(); {
		case ch.Op == 0:
			r.Status, r.Err = sdk.StatusFailed, sdk.Errorf(sdk.Permanent, "invalid op")
		case name == "conflict":
			r.Status, r.Current = sdk.StatusConflict, &sdk.Record{ID: ch.ID, Version: "9", Values: map[string]sdk.Value{"name": sdk.String("server"), "count": sdk.Null()}}
		case name == "later":
			r.Status, r.Err = sdk.StatusFailed, sdk.Errorf(sdk.Retryable, "try later")
		default:
			r.Status, r.Version = sdk.StatusApplied, "v-"+ch.ChangeID
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

// DocContent is the one document's bytes.
func DocContent() string { return strings.Repeat("0123456789", 30_000) }

func (c *Conn) ListDocuments(_ context.Context, _ sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	return fn(&sdk.DocumentPage{Last: true, Documents: []sdk.Document{{
		ID: "doc-1", Entity: "thing", RecordID: "t-1", Name: "a.bin", MimeType: "application/octet-stream",
		Size: int64(len(DocContent())), Modified: time.UnixMicro(1_700_000_000_000_000).UTC(), Version: "1",
	}}})
}

func (c *Conn) ReadDocument(_ context.Context, id string, offset int64, w io.Writer) error {
	if id != "doc-1" {
		return sdk.Errorf(sdk.Permanent, "no document %q", id)
	}
	_, err := io.Copy(w, io.NewSectionReader(strings.NewReader(DocContent()), offset, 1<<40))
	return err
}

func (c *Conn) Close(context.Context) error {
	c.logger.Info("guest connector closed")
	return nil
}
