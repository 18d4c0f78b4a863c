package tds

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

// rawClient speaks TDS by hand, for what go-mssqldb never sends.
type rawClient struct {
	t    *testing.T
	conn net.Conn
}

// dialRaw logs in with the recorded go-mssqldb PRELOGIN and LOGIN7
// (packet size 512).
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	ms := messages(seedSession(t))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn}
	for _, m := range ms[:2] {
		c.send(m.typ, 0, m.data)
		reply := c.reply()
		if m.typ == pktLogin7 {
			if got := tokens(t, reply); !strings.Contains(got, "LOGINACK") {
				t.Fatalf("login reply %s", got)
			}
		}
	}
	return c
}

func (c *rawClient) send(typ, status byte, data []byte) {
	c.t.Helper()
	var b bytes.Buffer
	pw := newPacketWriter(&b, 0)
	pw.size = 512
	pw.begin(typ)
	pw.write(data)
	pw.finish()
	if status != 0 {
		b.Bytes()[1] |= status
	}
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) reply() []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := readMessage(c.conn, 1<<20)
	if err != nil {
		c.t.Fatalf("reading the reply: %v", err)
	}
	if m.typ != pktReply {
		c.t.Fatalf("reply of type %d", m.typ)
	}
	return m.data
}

// closed reports whether the server closed the connection.
func (c *rawClient) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

// tokens describes a reply that holds no rows: "ERROR(40000) DONE(0x2)".
func tokens(t *testing.T, b []byte) string {
	t.Helper()
	var out []string
	le := binary.LittleEndian
	for len(b) > 0 {
		tok := b[0]
		switch tok {
		case tokDone, tokDoneProc, tokDoneInProc:
			name := map[byte]string{tokDone: "DONE", tokDoneProc: "DONEPROC", tokDoneInProc: "DONEINPROC"}[tok]
			out = append(out, fmt.Sprintf("%s(%#x)", name, le.Uint16(b[1:])))
			b = b[13:]
		case tokReturnStatus:
			out = append(out, "RETURNSTATUS")
			b = b[5:]
		case tokError, tokEnvChange, tokLoginAck:
			n := int(le.Uint16(b[1:]))
			switch tok {
			case tokError:
				out = append(out, fmt.Sprintf("ERROR(%d)", le.Uint32(b[3:])))
			case tokEnvChange:
				out = append(out, fmt.Sprintf("ENVCHANGE(%d)", b[3]))
			default:
				out = append(out, "LOGINACK")
			}
			b = b[3+n:]
		case tokFeatureExtAck:
			out = append(out, "FEATUREEXTACK")
			b = b[1:]
			for b[0] != featTerminator {
				b = b[5+le.Uint32(b[1:]):]
			}
			b = b[1:]
		case tokColMetadata:
			out = append(out, "COLMETADATA…")
			b = nil
		default:
			t.Fatalf("unexpected token %#x in %s", tok, strings.Join(out, " "))
		}
	}
	return strings.Join(out, " ")
}

func allHeaders() []byte {
	// One transaction descriptor header, as go-mssqldb sends.
	b := binary.LittleEndian.AppendUint32(nil, 22)
	b = binary.LittleEndian.AppendUint32(b, 18)
	b = binary.LittleEndian.AppendUint16(b, 2)
	return append(b, make([]byte, 12)...)
}

func batch(sql string) []byte { return appendUTF16(allHeaders(), sql) }

// rpc builds an sp_executesql request; params are raw TYPE_INFO + value
// bytes after a name and status.
func rpc(sql string, params ...[]byte) []byte {
	b := allHeaders()
	b = append(b, 0xFF, 0xFF, procExecuteSQL, 0, 0, 0)
	str := func(name, s string) []byte {
		p := appendBVarChar(nil, name)
		p = append(p, 0, tyNVarChar, 0x40, 0x1F) // nvarchar(4000)
		p = append(p, collation[:]...)
		u := appendUTF16(nil, s)
		p = binary.LittleEndian.AppendUint16(p, uint16(len(u)))
		return append(p, u...)
	}
	b = append(b, str("", sql)...)
	var decl []string
	for i := range params {
		decl = append(decl, fmt.Sprintf("@p%d sql_variant", i+1))
	}
	b = append(b, str("", strings.Join(decl, ","))...)
	for i, p := range params {
		b = appendBVarChar(b, fmt.Sprintf("@p%d", i+1))
		b = append(b, 0)
		b = append(b, p...)
	}
	return b
}

func TestRawProtocol(t *testing.T) {
	_, addr := startServer(t, Options{Query: fuzzQuery})

	t.Run("attention between requests", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(pktAttention, 0, nil)
		if got := tokens(t, c.reply()); got != "DONE(0x20)" {
			t.Fatalf("attention reply %s", got)
		}
		c.send(pktSQLBatch, 0, batch("SET NOCOUNT ON"))
		if got := tokens(t, c.reply()); got != "DONE(0x0)" {
			t.Fatalf("SET reply %s", got)
		}
	})
	t.Run("reset flag and ignored message", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(pktSQLBatch, statusIgnore, batch("DELETE FROM account"))
		c.send(pktSQLBatch, statusReset, batch("SET NOCOUNT ON; SET XACT_ABORT ON"))
		if got := tokens(t, c.reply()); got != "ENVCHANGE(18) DONE(0x1) DONE(0x0)" {
			t.Fatalf("reply %s", got)
		}
	})
	t.Run("refusals keep the connection", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(pktSQLBatch, 0, batch("DROP TABLE account"))
		if got := tokens(t, c.reply()); got != "ERROR(40000) DONE(0x2)" {
			t.Fatalf("reply %s", got)
		}
		c.send(pktRPC, 0, rpc("SELECT @p1", []byte{0x62, 0, 0, 0, 0})) // sql_variant
		if got := tokens(t, c.reply()); got != "ERROR(40000) DONEPROC(0x2)" {
			t.Fatalf("reply %s", got)
		}
		proc := append(allHeaders(), 0xFF, 0xFF, 13, 0, 0, 0) // sp_prepexec
		c.send(pktRPC, 0, proc)
		if got := tokens(t, c.reply()); got != "ERROR(40000) DONEPROC(0x2)" {
			t.Fatalf("reply %s", got)
		}
		c.send(pktRPC, 0, append(rpc("SET NOCOUNT ON"), 0x80)) // a second, batched RPC
		if got := tokens(t, c.reply()); got != "ERROR(40000) DONEPROC(0x2)" {
			t.Fatalf("reply %s", got)
		}
		c.send(pktRPC, 0, rpc("SET NOCOUNT ON"))
		if got := tokens(t, c.reply()); got != "DONEINPROC(0x1) RETURNSTATUS DONEPROC(0x0)" {
			t.Fatalf("reply %s", got)
		}
		c.send(pktTransMgr, 0, allHeaders())
		if got := tokens(t, c.reply()); got != "ERROR(40000) DONE(0x2)" {
			t.Fatalf("reply %s", got)
		}
	})
	t.Run("malformed RPC closes", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(pktRPC, 0, rpc("SELECT @p1", []byte{tyIntN, 4, 8, 1, 2, 3})) // value longer than its type
		if got := tokens(t, c.reply()); got != "ERROR(4002) DONE(0x2)" {
			t.Fatalf("reply %s", got)
		}
		if !c.closed() {
			t.Fatal("the connection stayed open")
		}
	})
	t.Run("unknown packet type closes", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(pktBulkLoad, 0, []byte{1, 2, 3})
		if !c.closed() {
			t.Fatal("the connection stayed open")
		}
	})
	t.Run("login must come first", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := &rawClient{t: t, conn: conn}
		c.send(pktSQLBatch, 0, batch("SELECT 1"))
		if !c.closed() {
			t.Fatal("the connection stayed open")
		}
	})
	t.Run("reply packets respect the packet size", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(pktSQLBatch, 0, batch("SELECT * FROM account"))
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(c.conn, hdr[:]); err != nil {
				t.Fatal(err)
			}
			n := int(binary.BigEndian.Uint16(hdr[2:]))
			if n > 512 {
				t.Fatalf("a packet of %d bytes", n)
			}
			if _, err := io.ReadFull(c.conn, make([]byte, n-8)); err != nil {
				t.Fatal(err)
			}
			if hdr[1]&statusEOM != 0 {
				break
			}
		}
	})
}

// TestRPCParameterTypes decodes the parameter types go-mssqldb does not
// send by itself.
func TestRPCParameterTypes(t *testing.T) {
	le := binary.LittleEndian
	money := func(v int64) []byte {
		b := le.AppendUint32(nil, uint32(uint64(v)>>32))
		return le.AppendUint32(b, uint32(v))
	}
	plp := append([]byte{tyNVarChar, 0xFF, 0xFF}, collation[:]...)
	plp = le.AppendUint64(plp, 6)
	plp = append(plp, 2, 0, 0, 0, 'a', 0, 4, 0, 0, 0, 'b', 0, 'c', 0, 0, 0, 0, 0)
	for _, c := range []struct {
		param []byte
		want  any
	}{
		{[]byte{tyDecimalN, 17, 38, 2, 5, 1, 0x39, 0x30, 0, 0}, "123.45"},
		{[]byte{tyNumericN, 17, 10, 4, 5, 0, 5, 0, 0, 0}, "-0.0005"},
		{[]byte{tyDecimalN, 17, 5, 0, 0}, nil},
		{append([]byte{tyMoney}, money(-123456)...), "-12.3456"},
		{append([]byte{tyMoneyN, 8, 8}, money(1)...), "0.0001"},
		{[]byte{tyMoney4, 0x10, 0x27, 0, 0}, "1.0000"},
		{[]byte{tyInt1, 200}, int64(200)},
		{[]byte{tyInt2, 0xFF, 0xFF}, int64(-1)},
		{[]byte{tyInt4, 1, 0, 0, 0}, int64(1)},
		{[]byte{tyInt8, 0, 0, 0, 0, 0, 0, 0, 0x80}, int64(math.MinInt64)},
		{[]byte{tyBit, 1}, true},
		{[]byte{tyFlt4, 0, 0, 0xC0, 0x3F}, 1.5},
		{[]byte{tyFltN, 8, 0}, nil},
		{[]byte{tyDateTim4, 1, 0, 61, 0}, time.Date(1900, 1, 2, 1, 1, 0, 0, time.UTC)},
		{[]byte{tyDateTime, 0, 0, 0, 0, 44, 1, 0, 0}, time.Date(1900, 1, 1, 0, 0, 1, 0, time.UTC)},
		{[]byte{tyDateTimeN, 8, 4, 0, 0, 0, 0}, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{[]byte{tyTimeN, 0, 3, 0x10, 0x0E, 0}, time.Date(1, 1, 1, 1, 0, 0, 0, time.UTC)},
		{[]byte{tyDTOffset, 0, 8, 0, 0, 0, 0, 0, 0, 0x3C, 0}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{[]byte{tyDateN, 0}, nil},
		{append(append([]byte{tyNChar, 4, 0}, collation[:]...), 4, 0, 'h', 0, 'i', 0), "hi"},
		{append(append([]byte{tyBigChar, 2, 0}, collation[:]...), 2, 0, 0xE9, 'x'), "éx"},
		{[]byte{tyBigBinary, 2, 0, 2, 0, 7, 8}, []byte{7, 8}},
		{[]byte{tyBigVarBin, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, nil},
		{plp, "abc"},
		{[]byte{tyGUID, 16, 0}, nil},
		{[]byte{tyNull}, nil},
	} {
		req, err := parseRPC(rpc("SELECT @p1", c.param))
		if err != nil || req.unsupported != nil {
			t.Errorf("% x: %v %v", c.param, err, req.unsupported)
			continue
		}
		if got := req.params[2].value; fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("% x: %#v, want %#v", c.param, got, c.want)
		}
	}
	for _, bad := range [][]byte{
		{tyIntN, 4, 3, 1, 2, 3},
		{tyDecimalN, 17, 39, 0, 5, 1, 0, 0, 0, 0},
		{tyDateN, 2, 1, 2},
		{tyTimeN, 8, 3, 0, 0, 0},
		{tyDateTime2, 7, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
		{tyNVarChar, 10, 0, 0, 0, 0, 0, 0, 3, 0, 'a', 0, 'b'},
		{tyNVarChar, 0xFF, 0xFF, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0},
		{tyInt4, 1, 2},
	} {
		if _, err := parseRPC(rpc("SELECT @p1", bad)); !errors.Is(err, errProtocol) {
			t.Errorf("% x: %v, want a protocol error", bad, err)
		}
	}
	if req, err := parseRPC(rpc("SELECT @p1", []byte{0x62, 0})); err != nil || req.unsupported == nil ||
		toError(req.unsupported).Number != tsql.ErrNotSupported {
		t.Errorf("sql_variant: %v %v", err, req.unsupported)
	}
	// Unnamed parameters take their names from the declaration.
	req := &rpcRequest{procID: procExecuteSQL, params: []rpcParam{{value: "SELECT @b, @a"}, {value: "@a int, @b decimal(5, 2)"}, {value: int64(1)}, {value: "2"}}}
	stmts, a, err := req.executeSQL()
	if err != nil || len(stmts) != 1 || strings.Join(a.names, ",") != "@a,@b" {
		t.Fatalf("declared names: %v %v", a, err)
	}
}
