package subprocess

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// The conversions between sdk values and protobuf messages. Page columns are
// slices on both sides, so a page converts by handing slice headers over, not
// by copying values. Everything that comes from the other side is checked
// (enum ranges, value kinds) and refused with an error, never a panic.

func valueToPB(v sdk.Value) *pb.Value {
	switch v.Kind() {
	case sdk.KindString:
		return &pb.Value{Kind: &pb.Value_S{S: v.Str()}}
	case sdk.KindInt:
		return &pb.Value{Kind: &pb.Value_I{I: v.Int()}}
	case sdk.KindFloat:
		return &pb.Value{Kind: &pb.Value_F{F: v.Float()}}
	case sdk.KindBool:
		return &pb.Value{Kind: &pb.Value_B{B: v.Bool()}}
	case sdk.KindBytes:
		return &pb.Value{Kind: &pb.Value_Bin{Bin: v.Bytes()}}
	}
	return &pb.Value{Kind: &pb.Value_Null{Null: true}}
}

func valueFromPB(v *pb.Value) sdk.Value {
	switch k := v.GetKind().(type) {
	case *pb.Value_S:
		return sdk.String(k.S)
	case *pb.Value_I:
		return sdk.Int(k.I)
	case *pb.Value_F:
		return sdk.Float(k.F)
	case *pb.Value_B:
		return sdk.Bool(k.B)
	case *pb.Value_Bin:
		return sdk.Bytes(k.Bin)
	}
	return sdk.Null()
}

func valuesToPB(m map[string]sdk.Value) map[string]*pb.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]*pb.Value, len(m))
	for k, v := range m {
		out[k] = valueToPB(v)
	}
	return out
}

func valuesFromPB(m map[string]*pb.Value) map[string]sdk.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]sdk.Value, len(m))
	for k, v := range m {
		out[k] = valueFromPB(v)
	}
	return out
}

func filterToPB(f *sdk.Filter) *pb.Filter {
	if f == nil {
		return nil
	}
	out := &pb.Filter{Op: string(f.Op), Field: f.Field}
	for _, c := range f.Children {
		out.Children = append(out.Children, filterToPB(c))
	}
	for _, v := range f.Values {
		out.Values = append(out.Values, valueToPB(v))
	}
	return out
}

func filterFromPB(f *pb.Filter, depth int) (*sdk.Filter, error) {
	if f == nil {
		return nil, nil
	}
	if depth > sdk.MaxFilterDepth {
		return nil, fmt.Errorf("filter nested deeper than %d", sdk.MaxFilterDepth)
	}
	out := &sdk.Filter{Op: sdk.FilterOp(f.Op), Field: f.Field}
	for _, c := range f.Children {
		child, err := filterFromPB(c, depth+1)
		if err != nil {
			return nil, err
		}
		out.Children = append(out.Children, child)
	}
	for _, v := range f.Values {
		out.Values = append(out.Values, valueFromPB(v))
	}
	return out, nil
}

func pageToPB(p *sdk.Page) *pb.Page {
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

func pageFromPB(p *pb.Page) (*sdk.Page, error) {
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

func fetchToPB(r sdk.FetchRequest) *pb.FetchRequest {
	return &pb.FetchRequest{
		Entity:   r.Entity,
		Fields:   r.Fields,
		Filter:   filterToPB(r.Filter),
		Token:    r.Token,
		Cursor:   r.Cursor,
		PageSize: int32(min(max(r.PageSize, 0), 1<<30)),
	}
}

func fetchFromPB(r *pb.FetchRequest) (sdk.FetchRequest, error) {
	f, err := filterFromPB(r.Filter, 0)
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
	}, nil
}

var fieldTypes = map[sdk.FieldType]pb.FieldType{
	sdk.TypeString:   pb.FieldType_STRING,
	sdk.TypeInt:      pb.FieldType_INT,
	sdk.TypeDecimal:  pb.FieldType_DECIMAL,
	sdk.TypeFloat:    pb.FieldType_FLOAT,
	sdk.TypeBool:     pb.FieldType_BOOL,
	sdk.TypeDateTime: pb.FieldType_DATETIME,
	sdk.TypeGUID:     pb.FieldType_GUID,
	sdk.TypeLookup:   pb.FieldType_LOOKUP,
	sdk.TypeChoice:   pb.FieldType_CHOICE,
	sdk.TypeBinary:   pb.FieldType_BINARY,
}

func fieldTypeFromPB(t pb.FieldType) sdk.FieldType {
	for k, v := range fieldTypes {
		if v == t {
			return k
		}
	}
	return sdk.TypeUnknown
}

func schemaToPB(s *sdk.Schema) *pb.SchemaResponse {
	out := &pb.SchemaResponse{}
	for _, e := range s.Entities {
		pe := &pb.Entity{
			Name:        e.Name,
			DisplayName: e.DisplayName,
			PrimaryKey:  e.PrimaryKey,
			Capabilities: &pb.EntityCapabilities{
				Incremental:   e.Capabilities.Incremental,
				TracksDeletes: e.Capabilities.TracksDeletes,
				Push:          e.Capabilities.Push,
				ClientIds:     e.Capabilities.ClientIDs,
				Filter:        e.Capabilities.Filter,
				Documents:     e.Capabilities.Documents,
			},
		}
		for _, f := range e.Fields {
			pf := &pb.Field{Name: f.Name, Type: fieldTypes[f.Type], Target: f.Target, Required: f.Required, ReadOnly: f.ReadOnly, MaxLength: int32(f.MaxLength)}
			for _, c := range f.Choices {
				pf.Choices = append(pf.Choices, &pb.Choice{Value: c.Value, Label: c.Label})
			}
			pe.Fields = append(pe.Fields, pf)
		}
		for _, r := range e.Relations {
			pe.Relationships = append(pe.Relationships, &pb.Relationship{Name: r.Name, Field: r.Field, Parent: r.Parent})
		}
		out.Entities = append(out.Entities, pe)
	}
	return out
}

func schemaFromPB(s *pb.SchemaResponse) (*sdk.Schema, error) {
	out := &sdk.Schema{}
	for _, pe := range s.Entities {
		e := sdk.Entity{Name: pe.Name, DisplayName: pe.DisplayName, PrimaryKey: pe.PrimaryKey}
		if c := pe.Capabilities; c != nil {
			e.Capabilities = sdk.EntityCapabilities{
				Incremental: c.Incremental, TracksDeletes: c.TracksDeletes, Push: c.Push,
				ClientIDs: c.ClientIds, Filter: c.Filter, Documents: c.Documents,
			}
		}
		for _, pf := range pe.Fields {
			f := sdk.Field{Name: pf.Name, Type: fieldTypeFromPB(pf.Type), Target: pf.Target, Required: pf.Required, ReadOnly: pf.ReadOnly, MaxLength: int(pf.MaxLength)}
			for _, c := range pf.Choices {
				f.Choices = append(f.Choices, sdk.Choice{Value: c.Value, Label: c.Label})
			}
			e.Fields = append(e.Fields, f)
		}
		for _, r := range pe.Relationships {
			e.Relations = append(e.Relations, sdk.Relationship{Name: r.Name, Field: r.Field, Parent: r.Parent})
		}
		out.Entities = append(out.Entities, e)
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("plugin sent a bad schema: %w", err)
	}
	return out, nil
}

var ops = map[sdk.Op]pb.Op{sdk.OpCreate: pb.Op_CREATE, sdk.OpUpdate: pb.Op_UPDATE, sdk.OpDelete: pb.Op_DELETE}

func pushToPB(r sdk.PushRequest) *pb.PushRequest {
	out := &pb.PushRequest{Changes: make([]*pb.Change, len(r.Changes))}
	for i, c := range r.Changes {
		out.Changes[i] = &pb.Change{
			ChangeId: c.ChangeID, Op: ops[c.Op], Entity: c.Entity, Id: c.ID,
			BaseVersion: c.BaseVersion, Values: valuesToPB(c.Values),
		}
	}
	return out
}

func pushFromPB(r *pb.PushRequest) sdk.PushRequest {
	out := sdk.PushRequest{Changes: make([]sdk.Change, len(r.Changes))}
	for i, c := range r.Changes {
		var op sdk.Op // zero (invalid) for an unknown op: the connector refuses it
		for k, v := range ops {
			if v == c.Op {
				op = k
			}
		}
		out.Changes[i] = sdk.Change{
			ChangeID: c.ChangeId, Op: op, Entity: c.Entity, ID: c.Id,
			BaseVersion: c.BaseVersion, Values: valuesFromPB(c.Values),
		}
	}
	return out
}

var statuses = map[sdk.Status]pb.Status{sdk.StatusApplied: pb.Status_APPLIED, sdk.StatusConflict: pb.Status_CONFLICT, sdk.StatusFailed: pb.Status_FAILED}

func recordToPB(r *sdk.Record) *pb.Record {
	if r == nil {
		return nil
	}
	return &pb.Record{Id: r.ID, Version: r.Version, Values: valuesToPB(r.Values)}
}

func recordFromPB(r *pb.Record) *sdk.Record {
	if r == nil {
		return nil
	}
	return &sdk.Record{ID: r.Id, Version: r.Version, Values: valuesFromPB(r.Values)}
}

func pushResultToPB(r *sdk.PushResponse) *pb.PushResponse {
	out := &pb.PushResponse{Results: make([]*pb.ChangeResult, len(r.Results))}
	for i, c := range r.Results {
		pc := &pb.ChangeResult{
			ChangeId: c.ChangeID, Status: statuses[c.Status], Id: c.ID, Version: c.Version,
			Current: recordToPB(c.Current), ServerDeleted: c.ServerDeleted,
		}
		if c.Err != nil {
			pc.Error = &pb.Error{Kind: string(c.Err.Kind), Message: c.Err.Message}
		}
		out.Results[i] = pc
	}
	return out
}

func pushResultFromPB(r *pb.PushResponse, want int) (*sdk.PushResponse, error) {
	if len(r.Results) != want {
		return nil, fmt.Errorf("plugin answered %d changes with %d results", want, len(r.Results))
	}
	out := &sdk.PushResponse{Results: make([]sdk.ChangeResult, len(r.Results))}
	for i, c := range r.Results {
		var st sdk.Status
		for k, v := range statuses {
			if v == c.Status {
				st = k
			}
		}
		if st == 0 {
			return nil, fmt.Errorf("plugin answered change %q with unknown status %d", c.ChangeId, c.Status)
		}
		res := sdk.ChangeResult{
			ChangeID: c.ChangeId, Status: st, ID: c.Id, Version: c.Version,
			Current: recordFromPB(c.Current), ServerDeleted: c.ServerDeleted,
		}
		if c.Error != nil {
			res.Err = &sdk.Error{Kind: errorKind(c.Error.Kind), Message: c.Error.Message}
		}
		if st == sdk.StatusFailed && res.Err == nil {
			res.Err = &sdk.Error{Kind: sdk.Permanent, Message: "plugin reported a failure without a reason"}
		}
		out.Results[i] = res
	}
	return out, nil
}

// errorKind maps a kind name from the wire to a known kind; an unknown name
// (from a newer plugin) counts as permanent so nothing retries forever.
func errorKind(s string) sdk.ErrorKind {
	switch k := sdk.ErrorKind(s); k {
	case sdk.Retryable, sdk.Permanent, sdk.TokenExpired, sdk.Unsupported:
		return k
	}
	return sdk.Permanent
}

func documentToPB(d *sdk.Document) *pb.Document {
	var mod int64
	if !d.Modified.IsZero() {
		mod = d.Modified.UnixMicro()
	}
	return &pb.Document{
		Id: d.ID, Entity: d.Entity, RecordId: d.RecordID, Name: d.Name, MimeType: d.MimeType,
		Size: d.Size, ModifiedUnixMicro: mod, Version: d.Version,
	}
}

func documentFromPB(d *pb.Document) sdk.Document {
	out := sdk.Document{
		ID: d.Id, Entity: d.Entity, RecordID: d.RecordId, Name: d.Name, MimeType: d.MimeType,
		Size: d.Size, Version: d.Version,
	}
	if d.ModifiedUnixMicro != 0 {
		out.Modified = time.UnixMicro(d.ModifiedUnixMicro).UTC()
	}
	return out
}
