package wire

import (
	"fmt"
	"google.golang.org/protobuf/proto"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// Page columns are slices on both sides, so a page converts by handing slice
// headers over, not by copying values; only text is packed (see Strings in
// the .proto for why).

// PageToPB converts a page. The message shares the page's slices: encode it
// before the page changes.
// PageMessage is PageToPB for pages that may arrive already encoded (see
// sdk.Page.Encoded): those are decoded, and a bad encoding is an error.
func PageMessage(p *sdk.Page) (*pb.Page, error) {
	if p.Encoded == nil {
		return PageToPB(p), nil
	}
	var m pb.Page
	if err := proto.Unmarshal(p.Encoded, &m); err != nil {
		return nil, fmt.Errorf("an encoded page does not decode: %w", err)
	}
	return &m, nil
}

func PageToPB(p *sdk.Page) *pb.Page {
	out := &pb.Page{
		Fields:   p.Fields,
		Ids:      packStrings(p.IDs),
		Versions: packStrings(p.Versions),
		Deletes:  p.Deletes,
		Cursor:   p.Cursor,
		Token:    p.Token,
		Last:     p.Last,
		Columns:  make([]*pb.Column, len(p.Columns)),
	}
	cols := make([]pb.Column, len(p.Columns))
	for i := range p.Columns {
		c := &p.Columns[i]
		cols[i] = pb.Column{Nulls: c.Nulls, Ints: c.Ints, Floats: c.Floats, Bools: c.Bools, Binaries: c.Binary}
		if len(c.Strings) > 0 {
			cols[i].Strings = packStrings(c.Strings)
		}
		out.Columns[i] = &cols[i]
	}
	return out
}

// PageFromPB converts a page from the other side and checks its shape
// (sdk.Page.Validate without kinds), so a bad plugin yields an error, never
// an index panic further on.
func PageFromPB(p *pb.Page) (*sdk.Page, error) {
	out := &sdk.Page{
		Fields:  p.Fields,
		Deletes: p.Deletes,
		Cursor:  p.Cursor,
		Token:   p.Token,
		Last:    p.Last,
		Columns: make([]sdk.Column, len(p.Columns)),
	}
	var err error
	if out.IDs, err = unpackStrings(p.Ids); err != nil {
		return nil, fmt.Errorf("plugin sent malformed ids: %w", err)
	}
	if out.Versions, err = unpackStrings(p.Versions); err != nil {
		return nil, fmt.Errorf("plugin sent malformed versions: %w", err)
	}
	for i, c := range p.Columns {
		if c == nil {
			continue
		}
		col := sdk.Column{Nulls: c.Nulls, Ints: c.Ints, Floats: c.Floats, Bools: c.Bools, Binary: c.Binaries}
		if col.Strings, err = unpackStrings(c.Strings); err != nil {
			return nil, fmt.Errorf("plugin sent a malformed column %d: %w", i, err)
		}
		out.Columns[i] = col
	}
	if err := out.Validate(nil); err != nil {
		return nil, fmt.Errorf("plugin sent a malformed page: %w", err)
	}
	return out, nil
}

// packStrings concatenates ss into one byte string with their lengths.
func packStrings(ss []string) *pb.Strings {
	if len(ss) == 0 {
		return nil
	}
	total := 0
	lengths := make([]uint32, len(ss))
	for i, s := range ss {
		lengths[i] = uint32(len(s))
		total += len(s)
	}
	data := make([]byte, 0, total)
	for _, s := range ss {
		data = append(data, s...)
	}
	return &pb.Strings{Data: data, Lengths: lengths}
}

// unpackStrings is packStrings' inverse: one string conversion for the whole
// run, then every value is a slice of it (no allocation per value). Lengths
// must add up to the data exactly and every value must be valid UTF-8.
func unpackStrings(p *pb.Strings) ([]string, error) {
	if p == nil || len(p.Lengths) == 0 {
		if p != nil && len(p.Data) != 0 {
			return nil, fmt.Errorf("%d bytes of text with no lengths", len(p.Data))
		}
		return nil, nil
	}
	all := string(p.Data)
	out := make([]string, len(p.Lengths))
	off := 0
	for i, n := range p.Lengths {
		if uint64(n) > uint64(len(all)-off) {
			return nil, fmt.Errorf("text value %d runs past the data (%d bytes)", i, len(all))
		}
		s := all[off : off+int(n)]
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("text value %d is not valid UTF-8", i)
		}
		out[i] = s
		off += int(n)
	}
	if off != len(all) {
		return nil, fmt.Errorf("%d bytes of text left over", len(all)-off)
	}
	return out, nil
}

// FetchToPB converts a fetch request.
func FetchToPB(r sdk.FetchRequest) *pb.FetchRequest {
	return &pb.FetchRequest{
		Entity:   r.Entity,
		Fields:   r.Fields,
		Filter:   FilterToPB(r.Filter),
		Token:    r.Token,
		Cursor:   r.Cursor,
		PageSize: clampInt32(r.PageSize),
		IdsOnly:  r.IDsOnly,
	}
}

// FetchFromPB converts a fetch request; only a too deep filter is refused.
func FetchFromPB(r *pb.FetchRequest) (sdk.FetchRequest, error) {
	f, err := FilterFromPB(r.Filter)
	if err != nil {
		return sdk.FetchRequest{}, err
	}
	return sdk.FetchRequest{
		Entity:   r.Entity,
		Fields:   r.Fields,
		Filter:   f,
		Token:    r.Token,
		Cursor:   r.Cursor,
		PageSize: int(r.PageSize),
		IDsOnly:  r.IdsOnly,
	}, nil
}

// clampInt32 fits a page size into the protocol's int32 (negative means 0).
func clampInt32(n int) int32 { return int32(min(max(n, 0), 1<<30)) }
