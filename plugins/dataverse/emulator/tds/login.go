package tds

import (
	"encoding/binary"
	"unicode/utf16"
)

// PRELOGIN option tokens (MS-TDS 2.2.6.5).
const (
	preVersion    = 0
	preEncryption = 1
	preInstOpt    = 2
	preThreadID   = 3
	preMARS       = 4
	preTraceID    = 5
	preFedAuthReq = 6
	preNonce      = 7
	preTerminator = 0xFF

	encryptNotSup = 2
)

// serverVersion is what the endpoint reports: SQL Azure 12.0.2000.8.
var serverVersion = [4]byte{12, 0, 0x07, 0xD0} // major, minor, build (big-endian 2000)

// prelogin is what the emulator reads from the client's PRELOGIN.
type prelogin struct {
	encryption byte
	fedAuth    bool // the client sent FEDAUTHREQUIRED
}

// parsePrelogin reads the option table of a PRELOGIN message.
func parsePrelogin(data []byte) (*prelogin, error) {
	p := &prelogin{}
	seen := map[byte]bool{}
	for i := 0; ; i += 5 {
		if i >= len(data) {
			return nil, protocolErrorf("PRELOGIN option table has no terminator")
		}
		tok := data[i]
		if tok == preTerminator {
			break
		}
		if i+5 > len(data) {
			return nil, protocolErrorf("PRELOGIN option %d is cut short", tok)
		}
		off := int(binary.BigEndian.Uint16(data[i+1:]))
		n := int(binary.BigEndian.Uint16(data[i+3:]))
		if off+n > len(data) {
			return nil, protocolErrorf("PRELOGIN option %d points outside the message", tok)
		}
		if seen[tok] {
			return nil, protocolErrorf("PRELOGIN option %d given twice", tok)
		}
		seen[tok] = true
		val := data[off : off+n]
		switch tok {
		case preEncryption:
			if n != 1 {
				return nil, protocolErrorf("PRELOGIN ENCRYPTION has %d bytes", n)
			}
			p.encryption = val[0]
		case preFedAuthReq:
			p.fedAuth = true
		}
	}
	if !seen[preVersion] {
		return nil, protocolErrorf("PRELOGIN has no VERSION")
	}
	return p, nil
}

// preloginReply builds the server's PRELOGIN answer: encryption not
// supported (so the client stays in clear text), no instance, no MARS and,
// when the client asked, FEDAUTHREQUIRED = 1 (Entra ID only).
func preloginReply(p *prelogin) []byte {
	type opt struct {
		tok byte
		val []byte
	}
	opts := []opt{
		{preVersion, []byte{serverVersion[0], serverVersion[1], serverVersion[2], serverVersion[3], 0, 0}},
		{preEncryption, []byte{encryptNotSup}},
		{preInstOpt, []byte{0}},
		{preMARS, []byte{0}},
	}
	if p.fedAuth {
		opts = append(opts, opt{preFedAuthReq, []byte{1}})
	}
	off := len(opts)*5 + 1
	var table, vals []byte
	for _, o := range opts {
		table = append(table, o.tok)
		table = binary.BigEndian.AppendUint16(table, uint16(off+len(vals)))
		table = binary.BigEndian.AppendUint16(table, uint16(len(o.val)))
		vals = append(vals, o.val...)
	}
	table = append(table, preTerminator)
	return append(table, vals...)
}

// LOGIN7 flags and feature ids (MS-TDS 2.2.6.4).
const (
	login7HeaderLen   = 94
	optFlags3Ext      = 0x10
	featFedAuth       = 0x02
	featTerminator    = 0xFF
	fedAuthLibToken   = 0x01 // security token
	fedAuthLibADAL    = 0x02
	fedAuthLibLiveID  = 0x00
	fedAuthOptionEcho = 0x01
)

// login7 is what the emulator reads from LOGIN7.
type login7 struct {
	tdsVersion  uint32
	packetSize  uint32
	hostName    string
	userName    string
	appName     string
	serverName  string
	database    string
	hasSSPI     bool
	fedAuth     bool   // a FEDAUTH feature was sent
	fedAuthLib  byte   // its library
	token       string // the security token (library 1)
	fedAuthEcho bool
}

// parseLogin7 reads a LOGIN7 message, checking every offset.
func parseLogin7(data []byte) (*login7, error) {
	if len(data) < login7HeaderLen {
		return nil, protocolErrorf("LOGIN7 of %d bytes is shorter than its header", len(data))
	}
	le := binary.LittleEndian
	total := int(le.Uint32(data[0:]))
	if total < login7HeaderLen || total > len(data) {
		return nil, protocolErrorf("LOGIN7 length %d does not fit the message of %d bytes", total, len(data))
	}
	data = data[:total]
	l := &login7{
		tdsVersion: le.Uint32(data[4:]),
		packetSize: le.Uint32(data[8:]),
	}
	optFlags3 := data[27]
	str := func(at int, field string) (string, error) {
		off, n := int(le.Uint16(data[at:])), int(le.Uint16(data[at+2:]))
		if n == 0 {
			return "", nil
		}
		if off < login7HeaderLen || off+2*n > len(data) {
			return "", protocolErrorf("LOGIN7 %s points outside the message", field)
		}
		return decodeUTF16(data[off : off+2*n]), nil
	}
	var err error
	if l.hostName, err = str(36, "HostName"); err != nil {
		return nil, err
	}
	if l.userName, err = str(40, "UserName"); err != nil {
		return nil, err
	}
	if l.appName, err = str(48, "AppName"); err != nil {
		return nil, err
	}
	if l.serverName, err = str(52, "ServerName"); err != nil {
		return nil, err
	}
	if l.database, err = str(68, "Database"); err != nil {
		return nil, err
	}
	if n := le.Uint16(data[80:]); n != 0 || le.Uint32(data[90:]) != 0 {
		l.hasSSPI = true
	}
	if optFlags3&optFlags3Ext != 0 {
		off, n := int(le.Uint16(data[56:])), int(le.Uint16(data[58:]))
		if n < 4 || off < login7HeaderLen || off+4 > len(data) {
			return nil, protocolErrorf("LOGIN7 extension points outside the message")
		}
		fe := int(le.Uint32(data[off:]))
		if fe < login7HeaderLen || fe > len(data) {
			return nil, protocolErrorf("LOGIN7 FeatureExt points outside the message")
		}
		if err := l.parseFeatureExt(data[fe:]); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *login7) parseFeatureExt(b []byte) error {
	le := binary.LittleEndian
	for {
		if len(b) == 0 {
			return protocolErrorf("LOGIN7 FeatureExt has no terminator")
		}
		id := b[0]
		if id == featTerminator {
			return nil
		}
		if len(b) < 5 {
			return protocolErrorf("LOGIN7 feature %d is cut short", id)
		}
		n := le.Uint32(b[1:])
		if uint64(n) > uint64(len(b)-5) {
			return protocolErrorf("LOGIN7 feature %d is longer than the message", id)
		}
		d := b[5 : 5+n]
		b = b[5+n:]
		if id != featFedAuth {
			continue
		}
		if l.fedAuth {
			return protocolErrorf("LOGIN7 FEDAUTH given twice")
		}
		if len(d) < 1 {
			return protocolErrorf("LOGIN7 FEDAUTH has no options")
		}
		l.fedAuth = true
		l.fedAuthLib = d[0] >> 1
		l.fedAuthEcho = d[0]&fedAuthOptionEcho != 0
		if l.fedAuthLib == fedAuthLibToken {
			if len(d) < 5 {
				return protocolErrorf("LOGIN7 FEDAUTH token length is cut short")
			}
			tl := le.Uint32(d[1:])
			if uint64(tl) > uint64(len(d)-5) || tl%2 != 0 {
				return protocolErrorf("LOGIN7 FEDAUTH token of %d bytes does not fit", tl)
			}
			l.token = decodeUTF16(d[5 : 5+tl])
		}
	}
}

// decodeUTF16 decodes UTF-16LE; an odd last byte is dropped and unpaired
// surrogates become U+FFFD.
func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// appendUTF16 appends s as UTF-16LE.
func appendUTF16(b []byte, s string) []byte {
	for _, x := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// appendBVarChar appends a B_VARCHAR: a character count byte and UTF-16LE;
// longer text is cut at 255 code units.
func appendBVarChar(b []byte, s string) []byte {
	u := utf16.Encode([]rune(s))
	if len(u) > 255 {
		u = u[:255]
	}
	b = append(b, byte(len(u)))
	for _, x := range u {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// appendUSVarChar appends a US_VARCHAR: a 16-bit character count and
// UTF-16LE; longer text is cut at 65535 code units.
func appendUSVarChar(b []byte, s string) []byte {
	u := utf16.Encode([]rune(s))
	if len(u) > 0xFFFF {
		u = u[:0xFFFF]
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(u)))
	for _, x := range u {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}
