package rescocloud

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

// decodeValue reads one attribute value of wire type t. Null and absent
// attributes never reach it.
func decodeValue(t string, raw json.RawMessage) (sdk.Value, error) {
	switch t {
	case wire.TypeGuid:
		s, err := wire.DecodeGUID(raw)
		return sdk.String(s), err
	case wire.TypeString, wire.TypeMemo:
		s, err := wire.DecodeString(raw)
		return sdk.String(s), err
	case wire.TypeInteger, wire.TypeBigInt, wire.TypePicklist:
		i, err := wire.DecodeInt(raw)
		return sdk.Int(i), err
	case wire.TypeDecimal, wire.TypeMoney:
		s, err := wire.DecodeDecimal(raw)
		return sdk.String(s), err
	case wire.TypeDouble:
		f, err := wire.DecodeFloat(raw)
		return sdk.Float(f), err
	case wire.TypeBoolean:
		b, err := wire.DecodeBool(raw)
		return sdk.Bool(b), err
	case wire.TypeDateTime:
		tm, err := wire.DecodeDateTime(raw)
		return sdk.Time(tm), err
	case wire.TypeLookup:
		l, err := wire.DecodeLookup(raw)
		return sdk.String(l.Id), err
	case wire.TypeBinary:
		b, err := wire.DecodeBinary(raw)
		return sdk.Bytes(b), err
	}
	return sdk.Null(), fmt.Errorf("unknown type %q", t)
}

// encodeValue renders v for attribute f (wire type t; target is the
// entity a lookup names) of a write. Values of
// the wrong kind, or that the attribute cannot hold exactly, are refused.
func encodeValue(f *sdk.Field, t, target string, v sdk.Value) (json.RawMessage, error) {
	if v.IsNull() {
		return wire.Null, nil
	}
	if err := v.CheckType(f.Type); err != nil {
		return nil, err
	}
	switch t {
	case wire.TypeGuid:
		if !sdk.IsGUID(v.Str()) {
			return nil, fmt.Errorf("%q is not a GUID", v.Str())
		}
		return wire.EncodeString(v.Str()), nil
	case wire.TypeString, wire.TypeMemo:
		if f.MaxLength > 0 && len([]rune(v.Str())) > f.MaxLength {
			return nil, fmt.Errorf("%d characters, more than the %d the field holds", len([]rune(v.Str())), f.MaxLength)
		}
		return wire.EncodeString(v.Str()), nil
	case wire.TypeInteger:
		if v.Int() < -1<<31 || v.Int() > 1<<31-1 {
			return nil, fmt.Errorf("%d does not fit a 32-bit Integer", v.Int())
		}
		return wire.EncodeInt(v.Int()), nil
	case wire.TypeBigInt, wire.TypePicklist:
		return wire.EncodeInt(v.Int()), nil
	case wire.TypeDecimal, wire.TypeMoney:
		return wire.EncodeDecimal(v.Str())
	case wire.TypeDouble:
		return wire.EncodeFloat(v.Float())
	case wire.TypeBoolean:
		return wire.EncodeBool(v.Bool()), nil
	case wire.TypeDateTime:
		tm := v.Time()
		if tm.Year() < 1 || tm.Year() > 9999 {
			return nil, fmt.Errorf("%s is out of range", tm.Format(time.RFC3339))
		}
		return wire.EncodeDateTime(tm), nil
	case wire.TypeLookup:
		if !sdk.IsGUID(v.Str()) {
			return nil, fmt.Errorf("lookup id %q is not a GUID", v.Str())
		}
		return wire.EncodeLookup(wire.Lookup{Id: v.Str(), LogicalName: target}), nil
	case wire.TypeBinary:
		return wire.EncodeBinary(v.Bytes()), nil
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

// recordValues decodes the named fields of one row.
func recordValues(em *entityModel, fields []string, rec *wire.Record) ([]sdk.Value, error) {
	vals := make([]sdk.Value, len(fields))
	for j, name := range fields {
		raw, ok := rec.Attributes[name]
		if !ok || wire.IsNull(raw) {
			continue
		}
		v, err := decodeValue(em.attrs[name], raw)
		if err != nil {
			return nil, fmt.Errorf("row %s: %s: %w", rec.Id, name, err)
		}
		vals[j] = v
	}
	return vals, nil
}
