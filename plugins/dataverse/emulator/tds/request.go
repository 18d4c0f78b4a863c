package tds

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

// skipAllHeaders skips the ALL_HEADERS that open SQLBatch and RPC
// requests in TDS 7.2 and later.
func skipAllHeaders(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, protocolErrorf("request shorter than its ALL_HEADERS")
	}
	n := binary.LittleEndian.Uint32(b)
	if n < 4 || uint64(n) > uint64(len(b)) {
		return nil, protocolErrorf("ALL_HEADERS length %d does not fit the request of %d bytes", n, len(b))
	}
	// Each header is a DWORD length (itself included), a type and data.
	h := b[4:n]
	for len(h) > 0 {
		if len(h) < 6 {
			return nil, protocolErrorf("ALL_HEADERS entry is cut short")
		}
		hl := binary.LittleEndian.Uint32(h)
		if hl < 6 || uint64(hl) > uint64(len(h)) {
			return nil, protocolErrorf("ALL_HEADERS entry length %d does not fit", hl)
		}
		h = h[hl:]
	}
	return b[n:], nil
}

// parseBatch returns a SQLBatch's text.
func parseBatch(data []byte) (string, error) {
	b, err := skipAllHeaders(data)
	if err != nil {
		return "", err
	}
	if len(b)%2 != 0 {
		return "", protocolErrorf("SQLBatch text has an odd number of bytes")
	}
	return decodeUTF16(b), nil
}

// rpcParam is one parameter of an RPC request.
type rpcParam struct {
	name  string
	value any
}

// rpcRequest is a parsed RPC request.
type rpcRequest struct {
	procID   uint16 // when the procedure was named by id
	procName string // when it was named by name
	params   []rpcParam
	// unsupported is set when the request is well formed but uses what
	// the emulator cannot run (another procedure, a parameter type); the
	// reply is that error and the connection stays open.
	unsupported error
}

const procExecuteSQL = 10

// parseRPC reads an RPC request. Malformed input returns a protocol
// error; a well-formed request the emulator cannot serve sets unsupported.
func parseRPC(data []byte) (*rpcRequest, error) {
	b, err := skipAllHeaders(data)
	if err != nil {
		return nil, err
	}
	r := &reader{b: b}
	req := &rpcRequest{}
	n := r.u16()
	if n == 0xFFFF {
		req.procID = r.u16()
	} else {
		req.procName = decodeUTF16(r.bytes(2 * int(n)))
	}
	r.u16() // option flags
	if r.err != nil {
		return nil, r.err
	}
	for len(r.b) > 0 {
		if c := r.b[0]; c == 0x80 || c == 0xFF || c == 0xFE {
			if req.unsupported == nil {
				req.unsupported = &Error{Number: tsql.ErrNotSupported, Message: "The request could not be processed: batched RPC requests are not supported."}
			}
			return req, nil
		}
		name := decodeUTF16(r.bytes(2 * int(r.u8())))
		status := r.u8()
		if r.err != nil {
			return nil, r.err
		}
		if status&0x08 != 0 {
			return nil, protocolErrorf("encrypted parameters are not supported")
		}
		v, unsup := r.typedValue()
		if r.err != nil {
			return nil, r.err
		}
		if unsup != nil {
			// The value's length is unknown, so nothing after it can be read.
			req.unsupported = unsup
			return req, nil
		}
		req.params = append(req.params, rpcParam{name: name, value: v})
	}
	return req, nil
}

// reader reads little-endian values, remembering the first shortfall.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = protocolErrorf("request cut short (%d bytes wanted, %d left)", n, len(r.b))
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func unsupportedType(ty byte) error {
	return &Error{Number: tsql.ErrNotSupported, Message: fmt.Sprintf("The request could not be processed: parameters of TDS type 0x%02X are not supported by the fieldsync emulator.", ty)}
}

// typedValue reads a TYPE_INFO and the value after it (MS-TDS 2.2.5.4–6)
// and returns the value as nil, string, int64, float64, bool, time.Time or
// []byte:
//
//   - integers → int64; bit → bool; float → float64;
//   - decimal, numeric and money → their decimal text ("-12.50");
//   - uniqueidentifier → lower-case canonical text;
//   - datetime, datetime2, date → time.Time read as UTC; datetimeoffset →
//     the instant in UTC; time → time.Time on 0001-01-01 UTC;
//   - nvarchar, nchar → string; varchar, char → string read as Latin-1;
//     varbinary, binary → []byte.
func (r *reader) typedValue() (any, error) {
	ty := r.u8()
	if r.err != nil {
		return nil, nil
	}
	switch ty {
	case tyNull:
		return nil, nil
	case tyInt1, tyBit, tyInt2, tyInt4, tyInt8, tyFlt4, tyFlt8, tyMoney4, tyMoney, tyDateTim4, tyDateTime:
		size := map[byte]int{tyInt1: 1, tyBit: 1, tyInt2: 2, tyInt4: 4, tyInt8: 8, tyFlt4: 4, tyFlt8: 8,
			tyMoney4: 4, tyMoney: 8, tyDateTim4: 4, tyDateTime: 8}[ty]
		b := r.bytes(size)
		if b == nil {
			return nil, nil
		}
		return r.fixed(ty, b), nil
	case tyGUID, tyIntN, tyBitN, tyFltN, tyMoneyN, tyDateTimeN:
		max := int(r.u8())
		n := int(r.u8())
		if r.err != nil {
			return nil, nil
		}
		if n == 0 {
			return nil, nil
		}
		if n > max {
			r.err = protocolErrorf("parameter value of %d bytes exceeds its type's %d", n, max)
			return nil, nil
		}
		b := r.bytes(n)
		if b == nil {
			return nil, nil
		}
		switch ty {
		case tyGUID:
			if n != 16 {
				break
			}
			g := []byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]}
			return formatGUID(g), nil
		case tyIntN:
			switch n {
			case 1:
				return r.fixed(tyInt1, b), nil
			case 2:
				return r.fixed(tyInt2, b), nil
			case 4:
				return r.fixed(tyInt4, b), nil
			case 8:
				return r.fixed(tyInt8, b), nil
			}
		case tyBitN:
			if n == 1 {
				return b[0] != 0, nil
			}
		case tyFltN:
			switch n {
			case 4:
				return r.fixed(tyFlt4, b), nil
			case 8:
				return r.fixed(tyFlt8, b), nil
			}
		case tyMoneyN:
			switch n {
			case 4:
				return r.fixed(tyMoney4, b), nil
			case 8:
				return r.fixed(tyMoney, b), nil
			}
		case tyDateTimeN:
			switch n {
			case 4:
				return r.fixed(tyDateTim4, b), nil
			case 8:
				return r.fixed(tyDateTime, b), nil
			}
		}
		r.err = protocolErrorf("parameter of type 0x%02X has %d bytes", ty, n)
		return nil, nil
	case tyDecimalN, tyNumericN:
		max := int(r.u8())
		prec, scale := r.u8(), r.u8()
		n := int(r.u8())
		if r.err != nil || n == 0 {
			return nil, nil
		}
		if n > max || n < 2 || prec < 1 || prec > 38 || scale > prec {
			r.err = protocolErrorf("malformed decimal parameter")
			return nil, nil
		}
		b := r.bytes(n)
		if b == nil {
			return nil, nil
		}
		mag := make([]byte, n-1)
		for i := range mag {
			mag[i] = b[n-1-i]
		}
		return decimalText(b[0] == 0, new(big.Int).SetBytes(mag), int(scale)), nil
	case tyDateN:
		n := int(r.u8())
		if r.err != nil || n == 0 {
			return nil, nil
		}
		b := r.bytes(n)
		if b == nil {
			return nil, nil
		}
		if n != 3 {
			r.err = protocolErrorf("date parameter of %d bytes", n)
			return nil, nil
		}
		days := int64(b[0]) | int64(b[1])<<8 | int64(b[2])<<16
		return fromCivil(days, 0, time.UTC), nil
	case tyTimeN, tyDateTime2, tyDTOffset:
		scale := r.u8()
		n := int(r.u8())
		if r.err != nil || n == 0 {
			return nil, nil
		}
		if scale > 7 {
			r.err = protocolErrorf("time scale %d", scale)
			return nil, nil
		}
		b := r.bytes(n)
		if b == nil {
			return nil, nil
		}
		ts := timeSize(scale)
		want := ts + map[byte]int{tyTimeN: 0, tyDateTime2: 3, tyDTOffset: 5}[ty]
		if n != want {
			r.err = protocolErrorf("time parameter of %d bytes, want %d", n, want)
			return nil, nil
		}
		var ticks int64
		for i := ts - 1; i >= 0; i-- {
			ticks = ticks<<8 | int64(b[i])
		}
		ns := ticks * int64(math.Pow10(9-int(scale)))
		if ns >= 24*3600*1e9 {
			r.err = protocolErrorf("time of day out of range")
			return nil, nil
		}
		if ty == tyTimeN {
			return fromCivil(0, ns, time.UTC), nil
		}
		d := b[ts:]
		days := int64(d[0]) | int64(d[1])<<8 | int64(d[2])<<16
		if days > 3652058 {
			r.err = protocolErrorf("date out of range")
			return nil, nil
		}
		// datetimeoffset stores the UTC date and time; the offset only
		// says how to show it.
		return fromCivil(days, ns, time.UTC), nil
	case tyNVarChar, tyNChar, tyBigVarChr, tyBigChar, tyBigVarBin, tyBigBinary:
		max := r.u16()
		if ty != tyBigVarBin && ty != tyBigBinary {
			r.bytes(5) // collation
		}
		if r.err != nil {
			return nil, nil
		}
		var b []byte
		if max == 0xFFFF {
			var null bool
			b, null = r.plp()
			if null || r.err != nil {
				return nil, nil
			}
		} else {
			n := r.u16()
			if r.err != nil || n == 0xFFFF {
				return nil, nil
			}
			b = r.bytes(int(n))
			if b == nil && n > 0 {
				return nil, nil
			}
		}
		switch ty {
		case tyNVarChar, tyNChar:
			if len(b)%2 != 0 {
				r.err = protocolErrorf("UTF-16 text of odd length")
				return nil, nil
			}
			return decodeUTF16(b), nil
		case tyBigVarChr, tyBigChar:
			rs := make([]rune, len(b))
			for i, c := range b {
				rs[i] = rune(c)
			}
			return string(rs), nil
		}
		return append([]byte(nil), b...), nil
	}
	return nil, unsupportedType(ty)
}

// plp reads a PARTLENTYPE value: a total length (or unknown), chunks and a
// zero terminator.
func (r *reader) plp() (b []byte, null bool) {
	total := r.u64()
	if r.err != nil {
		return nil, false
	}
	if total == math.MaxUint64 {
		return nil, true
	}
	if total != math.MaxUint64-1 && total > uint64(len(r.b)) {
		r.err = protocolErrorf("PLP length %d exceeds the request", total)
		return nil, false
	}
	out := []byte{}
	for {
		n := r.u32()
		if r.err != nil {
			return nil, false
		}
		if n == 0 {
			break
		}
		c := r.bytes(int(min(uint64(n), uint64(len(r.b))+1)))
		if r.err != nil {
			return nil, false
		}
		out = append(out, c...)
	}
	if total != math.MaxUint64-1 && uint64(len(out)) != total {
		r.err = protocolErrorf("PLP chunks hold %d bytes, the header said %d", len(out), total)
		return nil, false
	}
	return out, false
}

// fixed decodes a fixed-length value.
func (r *reader) fixed(ty byte, b []byte) any {
	le := binary.LittleEndian
	switch ty {
	case tyInt1:
		return int64(b[0])
	case tyBit:
		return b[0] != 0
	case tyInt2:
		return int64(int16(le.Uint16(b)))
	case tyInt4:
		return int64(int32(le.Uint32(b)))
	case tyInt8:
		return int64(le.Uint64(b))
	case tyFlt4:
		return float64(math.Float32frombits(le.Uint32(b)))
	case tyFlt8:
		return math.Float64frombits(le.Uint64(b))
	case tyMoney4:
		v := int64(int32(le.Uint32(b)))
		return decimalText(v < 0, new(big.Int).Abs(big.NewInt(v)), 4)
	case tyMoney:
		v := int64(uint64(le.Uint32(b))<<32 | uint64(le.Uint32(b[4:])))
		mag := new(big.Int).SetInt64(v)
		return decimalText(v < 0, mag.Abs(mag), 4)
	case tyDateTim4:
		days, mins := int64(le.Uint16(b)), int64(le.Uint16(b[2:]))
		return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Add(time.Duration(mins) * time.Minute)
	case tyDateTime:
		days := int64(int32(le.Uint32(b)))
		ticks := int64(le.Uint32(b[4:])) // 1/300 s
		return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Add(time.Duration(ticks) * time.Second / 300)
	}
	return nil
}

// decimalText formats sign, magnitude and scale as decimal text.
func decimalText(neg bool, mag *big.Int, scale int) string {
	s := mag.String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg && mag.Sign() != 0 {
		s = "-" + s
	}
	return s
}
