package remote

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldsync/fieldsync/sdk"
)

// Field numbers of pluginv1.Page that a forwarded page's reader needs: the
// cursor to continue from, the token and whether it is the last page.
const (
	pageCursor = 6
	pageToken  = 7
	pageLast   = 8
)

// encodedPage wraps an encoded Page for forwarding, reading only its cursor,
// token and last flag with a scan of the top-level fields: the rows are
// skipped, not decoded. The bytes are copied (the frame buffer is reused)
// and checked to be well-formed protobuf at the top level; the host decodes
// and validates the whole page.
func encodedPage(b []byte) (*sdk.Page, error) {
	p := &sdk.Page{Encoded: append([]byte(nil), b...)}
	for rest := p.Encoded; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		rest = rest[n:]
		switch {
		case (num == pageCursor || num == pageToken) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			if num == pageCursor {
				p.Cursor = v
			} else {
				p.Token = v
			}
			rest = rest[n:]
		case num == pageLast && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(rest)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			p.Last = v != 0
			rest = rest[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, rest)
			if n < 0 {
				return nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			rest = rest[n:]
		}
	}
	return p, nil
}
