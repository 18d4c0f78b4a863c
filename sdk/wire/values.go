package wire

import (
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// ValueToPB converts one value.
func ValueToPB(v sdk.Value) *pb.Value {
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

// ValueFromPB converts one value; an unset or unknown kind is null.
func ValueFromPB(v *pb.Value) sdk.Value {
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

// ValuesToPB converts a record's values; nil stays nil.
func ValuesToPB(m map[string]sdk.Value) map[string]*pb.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]*pb.Value, len(m))
	for k, v := range m {
		out[k] = ValueToPB(v)
	}
	return out
}

// ValuesFromPB converts a record's values; nil stays nil.
func ValuesFromPB(m map[string]*pb.Value) map[string]sdk.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]sdk.Value, len(m))
	for k, v := range m {
		out[k] = ValueFromPB(v)
	}
	return out
}

// FilterToPB converts a filter tree; nil stays nil.
func FilterToPB(f *sdk.Filter) *pb.Filter {
	if f == nil {
		return nil
	}
	out := &pb.Filter{Op: string(f.Op), Field: f.Field}
	for _, c := range f.Children {
		out.Children = append(out.Children, FilterToPB(c))
	}
	for _, v := range f.Values {
		out.Values = append(out.Values, ValueToPB(v))
	}
	return out
}

// FilterFromPB converts a filter tree, refusing one nested deeper than
// sdk.MaxFilterDepth (a hostile filter must not exhaust the stack). Its
// shape against a schema is the connector's to check (sdk.Filter.Validate).
func FilterFromPB(f *pb.Filter) (*sdk.Filter, error) { return filterFromPB(f, 0) }

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
		out.Values = append(out.Values, ValueFromPB(v))
	}
	return out, nil
}

// unixMicro carries a time as Unix microseconds, the zero time as 0 (the
// protocol's "unknown").
func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func timeFromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
