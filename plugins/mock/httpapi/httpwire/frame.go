package httpwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// FrameType says what a frame of a streamed body holds; see the package
// documentation.
type FrameType byte

const (
	FrameMessage FrameType = 1 // one message of the call's stream
	FrameError   FrameType = 2 // an ErrorDetail; final
	FrameEnd     FrameType = 3 // the call is complete; final
	FrameMore    FrameType = 4 // stopped at the request's limit; final
)

func (t FrameType) String() string {
	switch t {
	case FrameMessage:
		return "MESSAGE"
	case FrameError:
		return "ERROR"
	case FrameEnd:
		return "END"
	case FrameMore:
		return "MORE"
	}
	return fmt.Sprintf("FrameType(%d)", byte(t))
}

// Final reports whether nothing may follow a frame of this type.
func (t FrameType) Final() bool { return t != FrameMessage }

// MaxFrame bounds a frame's payload. A page is at most sdk.MaxPageSize rows;
// 64 MiB leaves room for wide rows with binary columns while keeping a
// corrupt length from making a (possibly WASM, memory-capped) client
// allocate gigabytes.
const MaxFrame = 64 << 20

// ErrTruncated is returned when a body ends before its final frame.
var ErrTruncated = errors.New("stream ended before its final frame")

// ErrMalformed is wrapped by the errors of a frame header no writer of this
// protocol produces: an unknown type or a length over MaxFrame.
var ErrMalformed = errors.New("malformed frame")

// AppendFrame appends one frame to b: its header, then msg encoded (nil msg:
// an empty payload). The message is encoded straight into b, once.
func AppendFrame(b []byte, t FrameType, msg proto.Message) ([]byte, error) {
	size := 0
	if msg != nil {
		size = proto.Size(msg)
	}
	if size > MaxFrame {
		return b, fmt.Errorf("%s frame of %d bytes exceeds the %d-byte limit", t, size, MaxFrame)
	}
	start := len(b)
	b = append(b, byte(t))
	b = binary.AppendUvarint(b, uint64(size))
	if msg == nil {
		return b, nil
	}
	// UseCachedSize: proto.Size above measured this very message.
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, msg)
	if err != nil {
		return b[:start], fmt.Errorf("encode %s frame: %w", t, err)
	}
	return out, nil
}

// Reader reads the frames of a streamed body one at a time. It holds one
// frame's payload at most, in a buffer it reuses.
type Reader struct {
	r     *bufio.Reader
	buf   []byte
	final bool
}

// NewReader reads frames from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 32<<10)}
}

// Next returns the next frame. The payload is valid until the next call.
// After a final frame it returns io.EOF. A body that ends before a final
// frame yields ErrTruncated; a malformed header (unknown type, a length
// over MaxFrame) yields an error that says so; an error of the underlying
// reader is returned wrapped.
func (r *Reader) Next() (FrameType, []byte, error) {
	if r.final {
		return 0, nil, io.EOF
	}
	tb, err := r.r.ReadByte()
	if err != nil {
		return 0, nil, cut(err)
	}
	t := FrameType(tb)
	if t < FrameMessage || t > FrameMore {
		return 0, nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, tb)
	}
	// The length is a uvarint, read here rather than by binary.ReadUvarint
	// so that a cut body, a broken connection and a bad length stay apart.
	var n uint64
	for shift := 0; ; shift += 7 {
		b, err := r.r.ReadByte()
		if err != nil {
			return 0, nil, cut(err)
		}
		n |= uint64(b&0x7f) << shift
		if n > MaxFrame || shift > 28 {
			return 0, nil, fmt.Errorf("%w: %s frame longer than the %d-byte limit", ErrMalformed, t, MaxFrame)
		}
		if b < 0x80 {
			break
		}
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return 0, nil, cut(err)
	}
	r.final = t.Final()
	return t, r.buf, nil
}

// cut turns the end of a body into ErrTruncated: a well-formed stream only
// ends right after its final frame, where Next never reads.
func cut(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}
