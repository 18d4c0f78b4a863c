package tds

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf16"
)

// Type is the SQL type of a result column.
type Type uint8

const (
	// TypeGUID is uniqueidentifier. Values: string (canonical form, any
	// case), [16]byte or []byte of 16 in the order the text is written.
	TypeGUID Type = iota + 1
	// TypeNVarChar is nvarchar(Size), 1 ≤ Size ≤ 4000 characters
	// (UTF-16 code units), or nvarchar(max) when Size is 0. Values: string.
	TypeNVarChar
	// TypeInt is int. Values: int64, int, int32 … within 32 bits.
	TypeInt
	// TypeBigInt is bigint. Values: int64, int, int32 ….
	TypeBigInt
	// TypeBit is bit. Values: bool, or an integer 0 or 1.
	TypeBit
	// TypeDecimal is decimal(Precision, Scale) (money columns too; Dataverse
	// reports them as decimal(19,4) here). Precision 0 means 38. Values:
	// decimal text ("-12.50"), int64, float64; rounded half away from zero
	// to Scale digits, refused when they overflow Precision.
	TypeDecimal
	// TypeFloat is float (8 bytes). Values: float64, float32, int64.
	TypeFloat
	// TypeDateTime2 is datetime2(Scale); Scale 0 means 7 (100 ns). Values:
	// time.Time (sent in UTC) or int64 Unix microseconds.
	TypeDateTime2
)

var typeNames = map[Type]string{
	TypeGUID: "uniqueidentifier", TypeNVarChar: "nvarchar", TypeInt: "int", TypeBigInt: "bigint",
	TypeBit: "bit", TypeDecimal: "decimal", TypeFloat: "float", TypeDateTime2: "datetime2",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Column describes a result column.
type Column struct {
	Name      string
	Type      Type
	Size      int   // TypeNVarChar: maximum characters, 0 for max
	Precision uint8 // TypeDecimal
	Scale     uint8 // TypeDecimal, TypeDateTime2
	Nullable  bool
}

// Result streams the rows of one query. Next advances to the next row
// (false at the end or on an error, see Err); Values returns the current
// row, one value per column, nil for NULL. Close is called once, whatever
// happened.
type Result interface {
	Columns() []Column
	Next() bool
	Values() []any
	Err() error
	Close() error
}

// SliceResult is a Result over rows held in memory.
type SliceResult struct {
	Cols []Column
	Rows [][]any
	i    int
}

// NewSliceResult returns a Result over rows.
func NewSliceResult(cols []Column, rows [][]any) *SliceResult {
	return &SliceResult{Cols: cols, Rows: rows}
}

func (r *SliceResult) Columns() []Column { return r.Cols }
func (r *SliceResult) Next() bool {
	if r.i >= len(r.Rows) {
		return false
	}
	r.i++
	return true
}
func (r *SliceResult) Values() []any { return r.Rows[r.i-1] }
func (r *SliceResult) Err() error    { return nil }
func (r *SliceResult) Close() error  { return nil }

// Error is an error reported to the client as an ERROR token. A Query
// function may return one to choose the number and message; any other
// error is reported with number 40000.
type Error struct {
	Number  int32
	State   uint8
	Class   uint8 // severity; 0 means 16
	Message string
}

func (e *Error) Error() string { return e.Message }

// collation is SQL_Latin1_General_CP1_CI_AS (LCID 0x0409, ignore case,
// kana and width; sort id 52), the usual Azure SQL default. Dataverse's
// own is case-insensitive too; the client decodes nvarchar as UTF-16
// whatever the collation says.
var collation = [5]byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// TDS type ids (MS-TDS 2.2.5.4).
const (
	tyNull      = 0x1F
	tyInt1      = 0x30
	tyBit       = 0x32
	tyInt2      = 0x34
	tyInt4      = 0x38
	tyDateTim4  = 0x3A
	tyFlt4      = 0x3B
	tyMoney     = 0x3C
	tyDateTime  = 0x3D
	tyFlt8      = 0x3E
	tyMoney4    = 0x7A
	tyInt8      = 0x7F
	tyGUID      = 0x24
	tyIntN      = 0x26
	tyBitN      = 0x68
	tyDecimalN  = 0x6A
	tyNumericN  = 0x6C
	tyFltN      = 0x6D
	tyMoneyN    = 0x6E
	tyDateTimeN = 0x6F
	tyDateN     = 0x28
	tyTimeN     = 0x29
	tyDateTime2 = 0x2A
	tyDTOffset  = 0x2B
	tyBigVarBin = 0xA5
	tyBigVarChr = 0xA7
	tyBigBinary = 0xAD
	tyBigChar   = 0xAF
	tyNVarChar  = 0xE7
	tyNChar     = 0xEF
)

// check validates a column description.
func (c *Column) check() error {
	if len(utf16.Encode([]rune(c.Name))) > 128 {
		return fmt.Errorf("column name %.40q… is longer than 128 characters", c.Name)
	}
	switch c.Type {
	case TypeNVarChar:
		if c.Size < 0 || c.Size > 4000 {
			return fmt.Errorf("column %s: nvarchar size %d is not 0 (max) or 1 to 4000", c.Name, c.Size)
		}
	case TypeDecimal:
		p := c.prec()
		if p < 1 || p > 38 || c.Scale > p {
			return fmt.Errorf("column %s: decimal(%d,%d) is out of range", c.Name, p, c.Scale)
		}
	case TypeDateTime2:
		if c.Scale > 7 {
			return fmt.Errorf("column %s: datetime2 scale %d is over 7", c.Name, c.Scale)
		}
	case TypeGUID, TypeInt, TypeBigInt, TypeBit, TypeFloat:
	default:
		return fmt.Errorf("column %s: unknown type %s", c.Name, c.Type)
	}
	return nil
}

func (c *Column) prec() uint8 {
	if c.Precision == 0 {
		return 38
	}
	return c.Precision
}

func (c *Column) dtScale() uint8 {
	if c.Scale == 0 {
		return 7
	}
	return c.Scale
}

// decimalSize is the value length of a decimal of precision p.
func decimalSize(p uint8) int {
	switch {
	case p <= 9:
		return 5
	case p <= 19:
		return 9
	case p <= 28:
		return 13
	}
	return 17
}

// timeSize is the length of the time part of a scale.
func timeSize(scale uint8) int {
	switch {
	case scale <= 2:
		return 3
	case scale <= 4:
		return 4
	}
	return 5
}

// appendTypeInfo appends the column's TYPE_INFO (MS-TDS 2.2.5.6).
func (c *Column) appendTypeInfo(b []byte) []byte {
	switch c.Type {
	case TypeGUID:
		return append(b, tyGUID, 16)
	case TypeNVarChar:
		size := uint16(0xFFFF)
		if c.Size > 0 {
			size = uint16(2 * c.Size)
		}
		b = append(b, tyNVarChar)
		b = binary.LittleEndian.AppendUint16(b, size)
		return append(b, collation[:]...)
	case TypeInt:
		return append(b, tyIntN, 4)
	case TypeBigInt:
		return append(b, tyIntN, 8)
	case TypeBit:
		return append(b, tyBitN, 1)
	case TypeDecimal:
		p := c.prec()
		return append(b, tyDecimalN, byte(decimalSize(p)), p, c.Scale)
	case TypeFloat:
		return append(b, tyFltN, 8)
	case TypeDateTime2:
		return append(b, tyDateTime2, c.dtScale())
	}
	return b
}

// appendValue appends v as the column's value in a ROW or NBCROW; nil is
// written as the type's null (NBCROW callers mark nulls in the bitmap
// instead and never pass nil).
func (c *Column) appendValue(b []byte, v any) ([]byte, error) {
	if v == nil {
		return c.appendNull(b), nil
	}
	bad := func() ([]byte, error) {
		return nil, fmt.Errorf("column %s: cannot send %T as %s", c.Name, v, c.Type)
	}
	switch c.Type {
	case TypeGUID:
		g, err := guidBytes(v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		b = append(b, 16)
		// uniqueidentifier travels with its first three groups little-endian.
		b = append(b, g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6])
		return append(b, g[8:]...), nil
	case TypeNVarChar:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		// UTF-16 straight from the string, as utf16.Encode([]rune(s))
		// would give (invalid UTF-8 becomes U+FFFD), without the two
		// copies per value: every text cell of every row passes here.
		n := 0
		for _, r := range s {
			if r >= 0x10000 {
				n += 2
			} else {
				n++
			}
		}
		if c.Size > 0 {
			if n > c.Size {
				return nil, fmt.Errorf("column %s: a value of %d characters exceeds nvarchar(%d)", c.Name, n, c.Size)
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(2*n))
		} else {
			b = binary.LittleEndian.AppendUint64(b, uint64(2*n))
			if n > 0 {
				b = binary.LittleEndian.AppendUint32(b, uint32(2*n))
			}
		}
		for _, r := range s {
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				b = binary.LittleEndian.AppendUint16(b, uint16(r1))
				b = binary.LittleEndian.AppendUint16(b, uint16(r2))
				continue
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(r))
		}
		if c.Size == 0 {
			b = binary.LittleEndian.AppendUint32(b, 0) // PLP terminator
		}
		return b, nil
	case TypeInt, TypeBigInt:
		i, ok := toInt(v)
		if !ok {
			return bad()
		}
		if c.Type == TypeInt {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, fmt.Errorf("column %s: %d overflows int", c.Name, i)
			}
			b = append(b, 4)
			return binary.LittleEndian.AppendUint32(b, uint32(int32(i))), nil
		}
		b = append(b, 8)
		return binary.LittleEndian.AppendUint64(b, uint64(i)), nil
	case TypeBit:
		var bit byte
		switch x := v.(type) {
		case bool:
			if x {
				bit = 1
			}
		default:
			i, ok := toInt(v)
			if !ok || (i != 0 && i != 1) {
				return bad()
			}
			bit = byte(i)
		}
		return append(b, 1, bit), nil
	case TypeDecimal:
		return c.appendDecimal(b, v)
	case TypeFloat:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			i, ok := toInt(v)
			if !ok {
				return bad()
			}
			f = float64(i)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("column %s: %v is not a float SQL Server can hold", c.Name, f)
		}
		b = append(b, 8)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
	case TypeDateTime2:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x.UTC()
		case int64:
			t = time.UnixMicro(x).UTC()
		default:
			return bad()
		}
		return appendDateTime2(b, t, c.dtScale())
	}
	return bad()
}

func (c *Column) appendNull(b []byte) []byte {
	switch c.Type {
	case TypeNVarChar:
		if c.Size > 0 {
			return append(b, 0xFF, 0xFF)
		}
		return binary.LittleEndian.AppendUint64(b, math.MaxUint64) // PLP_NULL
	}
	return append(b, 0) // byte-length types: length 0
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	}
	return 0, false
}

// guidBytes returns a GUID's 16 bytes in the order its text is written.
func guidBytes(v any) ([16]byte, error) {
	var g [16]byte
	switch x := v.(type) {
	case [16]byte:
		return x, nil
	case []byte:
		if len(x) != 16 {
			return g, fmt.Errorf("a GUID has 16 bytes, not %d", len(x))
		}
		copy(g[:], x)
		return g, nil
	case string:
		s := strings.TrimSuffix(strings.TrimPrefix(x, "{"), "}")
		if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return g, fmt.Errorf("%q is not a GUID", x)
		}
		// Decoded in place (no concatenated copy): every key of every
		// row passes here.
		j := 0
		for i := 0; i < 36; i += 2 {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				i-- // skip the dash; the loop's += 2 lands past it
				continue
			}
			hi, ok1 := unhex(s[i])
			lo, ok2 := unhex(s[i+1])
			if !ok1 || !ok2 {
				return g, fmt.Errorf("%q is not a GUID", x)
			}
			g[j] = hi<<4 | lo
			j++
		}
		return g, nil
	}
	return g, fmt.Errorf("cannot send %T as a GUID", v)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// formatGUID writes 16 bytes in text order as a lower-case GUID.
func formatGUID(g []byte) string {
	h := hex.EncodeToString(g)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func appendDateTime2(b []byte, t time.Time, scale uint8) ([]byte, error) {
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("date-time %s is outside datetime2's years 1 to 9999", t.Format(time.RFC3339))
	}
	days := civilDays(t)
	ns := int64(t.Hour())*3600e9 + int64(t.Minute())*60e9 + int64(t.Second())*1e9 + int64(t.Nanosecond())
	unit := int64(math.Pow10(9 - int(scale)))
	ticks := ns / unit
	ts := timeSize(scale)
	b = append(b, byte(ts+3))
	for i := 0; i < ts; i++ {
		b = append(b, byte(ticks>>(8*i)))
	}
	return append(b, byte(days), byte(days>>8), byte(days>>16)), nil
}

// civilDays counts days from 0001-01-01 to t's date in the proleptic
// Gregorian calendar, without time.Duration (which spans 292 years only).
func civilDays(t time.Time) int64 {
	y := int64(t.Year()) - 1
	return y*365 + y/4 - y/100 + y/400 + int64(t.YearDay()) - 1
}

// fromCivil is the inverse of civilDays plus a time of day in ns.
func fromCivil(days int64, ns int64, loc *time.Location) time.Time {
	return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Add(time.Duration(ns)).In(loc)
}

// appendDecimal writes a DECIMALN value of the column's precision and scale.
func (c *Column) appendDecimal(b []byte, v any) ([]byte, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("column %s: %v is not a decimal", c.Name, x)
		}
		text = big.NewFloat(x).Text('f', -1)
	default:
		i, ok := toInt(v)
		if !ok {
			return nil, fmt.Errorf("column %s: cannot send %T as decimal", c.Name, v)
		}
		text = fmt.Sprint(i)
	}
	p := c.prec()
	size := decimalSize(p)
	if neg, mag, ok := scaleSmallDecimal(text, int(c.Scale)); ok && (p >= 19 || mag < pow10(p)) {
		// The common case (money, every row) without math/big: the same
		// bytes, the magnitude little-endian.
		b = append(b, byte(size))
		if neg && mag != 0 {
			b = append(b, 0)
		} else {
			b = append(b, 1)
		}
		for i := 0; i < size-1; i++ {
			if i < 8 {
				b = append(b, byte(mag>>(8*i)))
			} else {
				b = append(b, 0)
			}
		}
		return b, nil
	}
	neg, mag, err := scaleDecimal(text, int(c.Scale))
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", c.Name, err)
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
	if mag.Cmp(limit) >= 0 {
		return nil, fmt.Errorf("column %s: %s overflows decimal(%d,%d)", c.Name, text, p, c.Scale)
	}
	b = append(b, byte(size))
	if neg && mag.Sign() != 0 {
		b = append(b, 0)
	} else {
		b = append(b, 1)
	}
	words := mag.FillBytes(make([]byte, size-1)) // big-endian
	for i := len(words) - 1; i >= 0; i-- {
		b = append(b, words[i])
	}
	return b, nil
}

// scaleSmallDecimal is scaleDecimal for text whose scaled magnitude has at
// most 18 digits (it fits a uint64 with room for the rounding); ok is
// false for anything else, which scaleDecimal then handles (or rejects).
func scaleSmallDecimal(s string, scale int) (neg bool, mag uint64, ok bool) {
	t := s
	if strings.HasPrefix(t, "-") {
		neg, t = true, t[1:]
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) || len(intPart)+scale > 18 || len(t) > 80 {
		return false, 0, false
	}
	round := false
	if len(frac) > scale {
		round = frac[scale] >= '5'
		frac = frac[:scale]
	}
	for i := 0; i < len(intPart); i++ {
		mag = mag*10 + uint64(intPart[i]-'0')
	}
	for i := 0; i < scale; i++ {
		d := uint64(0)
		if i < len(frac) {
			d = uint64(frac[i] - '0')
		}
		mag = mag*10 + d
	}
	if round {
		mag++
	}
	return neg, mag, true
}

// pow10 is 10^p for p <= 19.
func pow10(p uint8) uint64 {
	n := uint64(1)
	for range p {
		n *= 10
	}
	return n
}

// scaleDecimal parses decimal text into sign and magnitude × 10^scale,
// rounding half away from zero.
func scaleDecimal(s string, scale int) (neg bool, mag *big.Int, err error) {
	t := s
	if strings.HasPrefix(t, "-") {
		neg, t = true, t[1:]
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) || len(t) > 80 {
		return false, nil, fmt.Errorf("%q is not a decimal number", s)
	}
	round := false
	if len(frac) > scale {
		round = frac[scale] >= '5'
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	mag, ok := new(big.Int).SetString("0"+intPart+frac, 10)
	if !ok {
		return false, nil, fmt.Errorf("%q is not a decimal number", s)
	}
	if round {
		mag.Add(mag, big.NewInt(1))
	}
	return neg, mag, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
