package tds

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf16"
)

// The per-row fast paths (decimal without math/big, nvarchar and GUID
// without intermediate copies) send exactly what the general code sends.

func TestSmallDecimalMatchesBig(t *testing.T) {
	for _, s := range []string{"0", "-0", "+1", "1234.5678", "-1234.56785", "0.00005", "0.00004", ".5", "5.",
		"99999999999999.9999", "99999999999999.99995", "-5000000000000", "123456789012345678", "1.2.3", "", "-", "1e5", "12a"} {
		for _, scale := range []int{0, 2, 4} {
			neg, mag, ok := scaleSmallDecimal(s, scale)
			bneg, bmag, err := scaleDecimal(s, scale)
			if !ok {
				continue // the general path decides
			}
			if err != nil {
				t.Errorf("%q scale %d: fast path took what the general one rejects (%v)", s, scale, err)
				continue
			}
			if neg != bneg || !bmag.IsUint64() || mag != bmag.Uint64() {
				t.Errorf("%q scale %d: fast %v %d, general %v %s", s, scale, neg, mag, bneg, bmag)
			}
		}
	}
}

func TestDecimalOverflowFastPath(t *testing.T) {
	c := &Column{Name: "m", Type: TypeDecimal, Precision: 5, Scale: 2}
	if _, err := c.appendValue(nil, "1000"); err == nil {
		t.Error("1000 fits decimal(5,2)?")
	}
	got, err := c.appendValue(nil, "999.99")
	if err != nil || !bytes.Equal(got, []byte{5, 1, 0x9f, 0x86, 0x01, 0}) {
		t.Errorf("999.99 as decimal(5,2): % x, %v", got, err)
	}
}

func TestNVarCharEncoding(t *testing.T) {
	for _, s := range []string{"", "plain", "Ünïcode 'quoted'", "emoji 😀 and 𝄞", "bad \xff utf-8", strings.Repeat("x", 300)} {
		c := &Column{Name: "n", Type: TypeNVarChar}
		got, err := c.appendValue(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		u := utf16.Encode([]rune(s))
		want := binary.LittleEndian.AppendUint64(nil, uint64(2*len(u)))
		if len(u) > 0 {
			want = binary.LittleEndian.AppendUint32(want, uint32(2*len(u)))
		}
		for _, x := range u {
			want = binary.LittleEndian.AppendUint16(want, x)
		}
		want = binary.LittleEndian.AppendUint32(want, 0)
		if !bytes.Equal(got, want) {
			t.Errorf("%q: % x, want % x", s, got, want)
		}
	}
}

func TestGUIDText(t *testing.T) {
	s := "{0A1B2C3D-4e5f-6789-abcd-EF0123456789}"
	g, err := guidBytes(s)
	want, _ := hex.DecodeString("0a1b2c3d4e5f6789abcdef0123456789")
	if err != nil || !bytes.Equal(g[:], want) {
		t.Errorf("%s: % x, %v", s, g, err)
	}
	for _, bad := range []string{"0a1b2c3d-4e5f-6789-abcd-ef012345678g", "0a1b2c3d-4e5f-6789-abcd-ef01234567", "0a1b2c3d04e5f-6789-abcd-ef0123456789"} {
		if _, err := guidBytes(bad); err == nil {
			t.Errorf("%s taken as a GUID", bad)
		}
	}
}
