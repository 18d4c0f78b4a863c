package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Packet types (MS-TDS 2.2.3.1.1).
const (
	pktSQLBatch   = 1
	pktRPC        = 3
	pktReply      = 4
	pktAttention  = 6
	pktBulkLoad   = 7
	pktFedAuth    = 8
	pktTransMgr   = 14
	pktLogin7     = 16
	pktSSPI       = 17
	pktPrelogin   = 18
	headerLen     = 8
	statusEOM     = 0x01
	statusIgnore  = 0x02
	statusReset   = 0x08
	statusResetNT = 0x10 // RESETCONNECTIONSKIPTRAN
)

const (
	// defaultPacketSize is used until LOGIN7 asks for another size.
	defaultPacketSize = 4096
	minPacketSize     = 512
	maxPacketSize     = 32767
	// MaxRequestBytes bounds one request message (a batch's text, an RPC
	// with its parameters); a larger one closes the connection.
	MaxRequestBytes = 16 << 20
)

// errProtocol marks input that breaks the protocol: the connection is
// closed.
var errProtocol = errors.New("tds: protocol error")

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// message is one client message: the payload of its packets.
type message struct {
	typ    byte
	status byte // the first packet's status (reset flags)
	data   []byte
}

// readMessage reads packets up to the one marked end-of-message. A
// message the client marked to be ignored is dropped and the next read.
func readMessage(r io.Reader, limit int) (*message, error) {
	var hdr [headerLen]byte
	for {
		var m *message
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				if m != nil && errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			typ, status := hdr[0], hdr[1]
			n := int(binary.BigEndian.Uint16(hdr[2:4]))
			if n < headerLen {
				return nil, protocolErrorf("packet length %d is shorter than its header", n)
			}
			if m == nil {
				m = &message{typ: typ, status: status}
			} else if typ != m.typ {
				return nil, protocolErrorf("packet of type %d inside a message of type %d", typ, m.typ)
			}
			if len(m.data)+n-headerLen > limit {
				return nil, protocolErrorf("message longer than %d bytes", limit)
			}
			start := len(m.data)
			m.data = append(m.data, make([]byte, n-headerLen)...)
			if _, err := io.ReadFull(r, m.data[start:]); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			if status&statusEOM != 0 {
				if status&statusIgnore != 0 {
					break // the client abandoned this message
				}
				return m, nil
			}
		}
	}
}

// packetWriter frames a reply into packets of the negotiated size,
// sending each as it fills.
type packetWriter struct {
	w    io.Writer
	size int
	spid uint16
	buf  []byte // header space + payload of the current packet
	seq  byte
	typ  byte
	open bool
	err  error
}

func newPacketWriter(w io.Writer, spid uint16) *packetWriter {
	return &packetWriter{w: w, size: defaultPacketSize, spid: spid}
}

// begin starts a message.
func (pw *packetWriter) begin(typ byte) {
	pw.typ = typ
	pw.seq = 1
	pw.buf = append(pw.buf[:0], make([]byte, headerLen)...)
	pw.open = true
}

// write appends payload, sending full packets.
func (pw *packetWriter) write(p []byte) error {
	if pw.err != nil {
		return pw.err
	}
	if !pw.open {
		pw.begin(pktReply)
	}
	for len(p) > 0 {
		room := pw.size - len(pw.buf)
		if room == 0 {
			if err := pw.flush(0); err != nil {
				return err
			}
			continue
		}
		n := min(room, len(p))
		pw.buf = append(pw.buf, p[:n]...)
		p = p[n:]
	}
	return nil
}

// finish sends the last packet of the message.
func (pw *packetWriter) finish() error {
	if pw.err != nil {
		return pw.err
	}
	if !pw.open {
		pw.begin(pktReply)
	}
	err := pw.flush(statusEOM)
	pw.open = false
	return err
}

func (pw *packetWriter) flush(status byte) error {
	b := pw.buf
	b[0] = pw.typ
	b[1] = status
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:6], pw.spid)
	b[6] = pw.seq
	b[7] = 0
	if _, err := pw.w.Write(b); err != nil {
		pw.err = err
		return err
	}
	pw.seq++
	pw.buf = pw.buf[:headerLen]
	return nil
}
