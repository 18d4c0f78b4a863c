package rescocloud

import (
	"context"
	"net/http"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

// annotationEntity holds documents (notes with a file).
const annotationEntity = "annotation"

// model is the schema with what the connector needs beside it: each
// attribute's wire type.
type model struct {
	schema   *sdk.Schema
	entities map[string]*entityModel
}

type entityModel struct {
	sdk      *sdk.Entity // points into model.schema
	tracking bool
	// attrs maps each field to its wire type.
	attrs map[string]string
	// targets maps each lookup to the entity its writes name: the schema's
	// Target, else the first the metadata lists (a polymorphic lookup such
	// as ownerid: an sdk lookup value carries the id alone, so writes name
	// the first target, systemuser for ownerid).
	targets map[string]string
	// query is the entity as fetchxml sees it: its fields plus the
	// versionnumber pseudo-attribute, so the row-version window is one more
	// sdk.Filter condition.
	query *sdk.Entity
}

// loadModel reads WhoAmI and Metadata once; a failure is not cached.
func (c *Connector) loadModel(ctx context.Context) (*model, error) {
	c.mu.Lock()
	m := c.model
	c.mu.Unlock()
	if m != nil {
		return m, nil
	}
	if _, err := c.WhoAmI(ctx); err != nil {
		return nil, err
	}
	resp, err := c.http.do(ctx, request{method: http.MethodGet, path: wire.PathMetadata, what: "Metadata"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	md, err := wire.DecodeMetadata(resp.Body)
	if err != nil {
		return nil, badAnswer("Metadata", err)
	}
	m = c.buildModel(md)
	if err := m.schema.Validate(); err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: the service's metadata makes no valid schema: %v", err)
	}
	c.mu.Lock()
	if c.model == nil {
		c.model = m
	}
	m = c.model
	c.mu.Unlock()
	return m, nil
}

// fieldType maps a wire attribute type to the sdk's.
func fieldType(t string) sdk.FieldType {
	switch t {
	case wire.TypeGuid:
		return sdk.TypeGUID
	case wire.TypeString, wire.TypeMemo:
		return sdk.TypeString
	case wire.TypeInteger, wire.TypeBigInt:
		return sdk.TypeInt
	case wire.TypeDecimal, wire.TypeMoney:
		return sdk.TypeDecimal
	case wire.TypeDouble:
		return sdk.TypeFloat
	case wire.TypeBoolean:
		return sdk.TypeBool
	case wire.TypeDateTime:
		return sdk.TypeDateTime
	case wire.TypePicklist:
		return sdk.TypeChoice
	case wire.TypeLookup:
		return sdk.TypeLookup
	case wire.TypeBinary:
		return sdk.TypeBinary
	}
	return sdk.TypeUnknown
}

func (c *Connector) buildModel(md *wire.MetadataResponse) *model {
	names := map[string]bool{}
	for _, e := range md.Entities {
		names[e.Name] = true
	}
	docs := names[annotationEntity]
	s := &sdk.Schema{Entities: make([]sdk.Entity, 0, len(md.Entities))}
	attrs := make([]map[string]string, 0, len(md.Entities))
	targets := make([]map[string]string, 0, len(md.Entities))
	for _, we := range md.Entities {
		e := sdk.Entity{
			Name: we.Name, DisplayName: we.Name, PrimaryKey: we.PrimaryKey,
			Capabilities: sdk.EntityCapabilities{
				Incremental: true, TracksDeletes: we.ChangeTracking, Push: true,
				ClientIDs: true, Filter: true, Documents: docs && we.Name != annotationEntity,
			},
		}
		types := map[string]string{}
		tg := map[string]string{}
		for _, a := range we.Attributes {
			if a.Name == we.PrimaryKey || a.Name == wire.VersionAttribute {
				continue // the key travels in Page.IDs, the version in Page.Versions
			}
			ft := fieldType(a.Type)
			if ft == sdk.TypeUnknown {
				c.log.Warn("leaving out an attribute of an unknown type", "entity", we.Name, "attribute", a.Name, "type", a.Type)
				continue
			}
			f := sdk.Field{Name: a.Name, Type: ft, Required: a.Required, ReadOnly: a.ReadOnly, MaxLength: a.MaxLength}
			if ft == sdk.TypeLookup && len(a.Targets) > 0 {
				tg[a.Name] = a.Targets[0]
			}
			if ft == sdk.TypeLookup {
				// A polymorphic lookup (objectid, ownerid) has no single
				// target; one naming an entity the service does not list
				// has none the schema can name.
				if len(a.Targets) == 1 && names[a.Targets[0]] {
					f.Target = a.Targets[0]
					e.Relations = append(e.Relations, sdk.Relationship{Name: we.Name + "_" + a.Name, Field: a.Name, Parent: f.Target})
				}
			}
			for _, o := range a.Options {
				f.Choices = append(f.Choices, sdk.Choice{Value: o.Value, Label: o.Label})
			}
			e.Fields = append(e.Fields, f)
			types[a.Name] = a.Type
		}
		s.Entities = append(s.Entities, e)
		attrs = append(attrs, types)
		targets = append(targets, tg)
	}
	m := &model{schema: s, entities: make(map[string]*entityModel, len(s.Entities))}
	for i := range s.Entities {
		e := &s.Entities[i]
		q := *e
		q.Fields = append(append([]sdk.Field(nil), e.Fields...), sdk.Field{Name: wire.VersionAttribute, Type: sdk.TypeInt, ReadOnly: true})
		m.entities[e.Name] = &entityModel{sdk: e, tracking: md.Entities[i].ChangeTracking, attrs: attrs[i], targets: targets[i], query: &q}
	}
	return m
}

// Schema describes the entities the service lists in its metadata.
func (c *Connector) Schema(ctx context.Context) (*sdk.Schema, error) {
	if err := c.check(ctx, "schema"); err != nil {
		return nil, err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	// A deep enough copy that a caller changing it cannot change ours.
	out := &sdk.Schema{Entities: make([]sdk.Entity, len(m.schema.Entities))}
	for i, e := range m.schema.Entities {
		e.Fields = append([]sdk.Field(nil), e.Fields...)
		e.Relations = append([]sdk.Relationship(nil), e.Relations...)
		out.Entities[i] = e
	}
	return out, nil
}

func (m *model) entity(name string) (*entityModel, error) {
	e := m.entities[name]
	if e == nil {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: unknown entity %q", name)
	}
	return e, nil
}
