package wire

import (
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

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

// SchemaToPB converts a schema.
func SchemaToPB(s *sdk.Schema) *pb.SchemaResponse {
	out := &pb.SchemaResponse{}
	for i := range s.Entities {
		out.Entities = append(out.Entities, EntityToPB(&s.Entities[i]))
	}
	return out
}

// SchemaFromPB converts a schema from the other side and validates it.
func SchemaFromPB(s *pb.SchemaResponse) (*sdk.Schema, error) {
	out := &sdk.Schema{}
	for _, pe := range s.Entities {
		out.Entities = append(out.Entities, *EntityFromPB(pe))
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("plugin sent a bad schema: %w", err)
	}
	return out, nil
}

// EntityToPB converts one entity; nil stays nil.
func EntityToPB(e *sdk.Entity) *pb.Entity {
	if e == nil {
		return nil
	}
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
		pf := &pb.Field{Name: f.Name, Type: fieldTypes[f.Type], Target: f.Target, Required: f.Required, ReadOnly: f.ReadOnly, MaxLength: clampInt32(f.MaxLength)}
		for _, c := range f.Choices {
			pf.Choices = append(pf.Choices, &pb.Choice{Value: c.Value, Label: c.Label})
		}
		pe.Fields = append(pe.Fields, pf)
	}
	for _, r := range e.Relations {
		pe.Relationships = append(pe.Relationships, &pb.Relationship{Name: r.Name, Field: r.Field, Parent: r.Parent})
	}
	return pe
}

// EntityFromPB converts one entity without validating it (SchemaFromPB
// validates a whole schema; an unknown field type becomes sdk.TypeUnknown).
// nil stays nil.
func EntityFromPB(pe *pb.Entity) *sdk.Entity {
	if pe == nil {
		return nil
	}
	e := &sdk.Entity{Name: pe.Name, DisplayName: pe.DisplayName, PrimaryKey: pe.PrimaryKey}
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
	return e
}

// InfoToPB converts what a connector says about itself.
func InfoToPB(info sdk.Info) *pb.InfoResponse {
	out := &pb.InfoResponse{Name: info.Name, Version: info.Version, ProtocolMinor: int32(info.ProtocolMinor)}
	for _, c := range info.Capabilities {
		out.Capabilities = append(out.Capabilities, string(c))
	}
	for _, op := range info.FilterOps {
		out.FilterOps = append(out.FilterOps, string(op))
	}
	return out
}

// InfoFromPB is InfoToPB's inverse.
func InfoFromPB(r *pb.InfoResponse) sdk.Info {
	info := sdk.Info{Name: r.Name, Version: r.Version, ProtocolMinor: int(r.ProtocolMinor)}
	for _, c := range r.Capabilities {
		info.Capabilities = append(info.Capabilities, sdk.Capability(c))
	}
	for _, op := range r.FilterOps {
		info.FilterOps = append(info.FilterOps, sdk.FilterOp(op))
	}
	return info
}
