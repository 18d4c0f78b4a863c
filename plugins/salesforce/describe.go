package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// model is the schema as the connector uses it: the sdk.Schema plus what
// reading and writing each object needs from describe.
type model struct {
	schema  *sdk.Schema
	objects map[string]*object
}

// object is one sObject of the schema.
type object struct {
	name      string
	entity    *sdk.Entity
	fields    map[string]*field // every mapped field by name (not Id)
	hasStamp  bool              // SystemModstamp: incremental reads and versions
	deletable bool
	// extID: the external id field exists with externalId=true, so creates
	// upsert by it (idempotent). changeID: the change id field exists and
	// is writable, so creates and updates record their change id.
	extID, changeID bool
	createable      bool
}

// field is one mapped field.
type field struct {
	name       string
	sfType     string // describe's type: string, double, reference, …
	typ        sdk.FieldType
	relName    string // reference fields: relationshipName (Account for AccountId)
	target     string // reference fields: the referenced object, "" when polymorphic or outside the schema
	createable bool
	updateable bool
}

// describeGlobalDoc is GET /sobjects.
type describeGlobalDoc struct {
	SObjects []globalObject `json:"sobjects"`
}

type globalObject struct {
	Name          string `json:"name"`
	Queryable     bool   `json:"queryable"`
	Replicateable bool   `json:"replicateable"`
}

// describeDoc is GET /sobjects/{X}/describe, the parts we read.
type describeDoc struct {
	Name          string `json:"name"`
	Label         string `json:"label"`
	Createable    bool   `json:"createable"`
	Updateable    bool   `json:"updateable"`
	Deletable     bool   `json:"deletable"`
	Queryable     bool   `json:"queryable"`
	Replicateable bool   `json:"replicateable"`
	Fields        []struct {
		Name              string   `json:"name"`
		Type              string   `json:"type"`
		Length            int      `json:"length"`
		Nillable          bool     `json:"nillable"`
		Createable        bool     `json:"createable"`
		Updateable        bool     `json:"updateable"`
		DefaultedOnCreate bool     `json:"defaultedOnCreate"`
		ExternalID        bool     `json:"externalId"`
		ReferenceTo       []string `json:"referenceTo"`
		RelationshipName  string   `json:"relationshipName"`
	} `json:"fields"`
}

// sdkType maps a describe field type to the sdk's (PROTOCOLS.md; REST API
// Developer Guide, "Field Types"). Types that SOQL cannot read as a value
// (base64 bodies come as URLs; address and location are compound) or that
// carry no data are left out of the schema (ok false).
func sdkType(t string) (sdk.FieldType, bool) {
	switch t {
	case "id":
		return sdk.TypeGUID, true
	case "string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox", "encryptedstring", "time":
		return sdk.TypeString, true
	case "boolean":
		return sdk.TypeBool, true
	case "int":
		return sdk.TypeInt, true
	case "long":
		return sdk.TypeInt, true
	case "double":
		return sdk.TypeFloat, true
	case "currency", "percent":
		// Money and percentages are exact decimals: carried as their text.
		return sdk.TypeDecimal, true
	case "date", "datetime":
		// A date travels as the instant of its UTC midnight.
		return sdk.TypeDateTime, true
	case "reference":
		return sdk.TypeLookup, true
	}
	return sdk.TypeUnknown, false
}

// loadModel reads describeGlobal and each configured object's describe.
func (c *Connector) loadModel(ctx context.Context) (*model, error) {
	select {
	case c.modelLock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("salesforce: schema: %w", ctx.Err())
	}
	defer func() { <-c.modelLock }()
	if c.model != nil {
		return c.model, nil
	}
	resp, err := c.force.rest(ctx, call{Method: http.MethodGet, Path: c.force.dataPath("sobjects"), What: "describeGlobal"})
	if err != nil {
		return nil, err
	}
	global, err := parseDescribeGlobal(resp.Body)
	if err != nil {
		return nil, err
	}
	docs := make([]*describeDoc, 0, len(c.cfg.objects))
	for _, name := range c.cfg.objects {
		i := slices.IndexFunc(global.SObjects, func(o globalObject) bool { return o.Name == name })
		if i < 0 {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: setting \"objects\" names %q, which the org does not have (or the user cannot see)", name)
		}
		if !global.SObjects[i].Queryable {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: object %q is not queryable for this user", name)
		}
		resp, err := c.force.rest(ctx, call{Method: http.MethodGet, Path: c.force.dataPath("sobjects/" + name + "/describe"), What: "describe " + name})
		if err != nil {
			return nil, err
		}
		doc, err := parseDescribe(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("salesforce: describe %s: %w", name, err)
		}
		if doc.Name != name {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: describe %s answered object %q", name, doc.Name)
		}
		docs = append(docs, doc)
	}
	m, err := buildModel(docs, c.cfg)
	if err != nil {
		return nil, err
	}
	repl := map[string]bool{}
	for _, g := range global.SObjects {
		if m.objects[g.Name] != nil {
			repl[g.Name] = g.Replicateable
		}
	}
	c.replMu.Lock()
	c.repl = repl
	c.replMu.Unlock()
	c.model = m
	return m, nil
}

func parseDescribeGlobal(body []byte) (*describeGlobalDoc, error) {
	var doc describeGlobalDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, sdk.Errorf(sdk.Retryable, "salesforce: describeGlobal answer is not a describe document: %v", err)
	}
	return &doc, nil
}

func parseDescribe(body []byte) (*describeDoc, error) {
	var doc describeDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, sdk.Errorf(sdk.Retryable, "salesforce: describe answer is not a describe document: %v", err)
	}
	if !validName(doc.Name) {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: describe answer names object %q", truncate(doc.Name, 100))
	}
	return &doc, nil
}

// buildModel maps describes to the schema. The connector owns the external
// id and change id fields, so they are read-only to the engine.
func buildModel(docs []*describeDoc, cfg *config) (*model, error) {
	m := &model{schema: &sdk.Schema{}, objects: map[string]*object{}}
	names := map[string]bool{}
	for _, d := range docs {
		names[d.Name] = true
	}
	for _, d := range docs {
		o := &object{name: d.Name, fields: map[string]*field{}, deletable: d.Deletable, createable: d.Createable}
		e := sdk.Entity{Name: d.Name, DisplayName: d.Label, PrimaryKey: "Id"}
		hasID := false
		for _, fd := range d.Fields {
			if fd.Name == "Id" {
				hasID = true
				continue
			}
			if !validName(fd.Name) || o.fields[fd.Name] != nil {
				continue // a name SOQL could not carry, or a repeat: never selected
			}
			typ, ok := sdkType(fd.Type)
			if !ok {
				continue
			}
			f := &field{name: fd.Name, sfType: fd.Type, typ: typ, createable: fd.Createable, updateable: fd.Updateable}
			sf := sdk.Field{Name: fd.Name, Type: typ, ReadOnly: !fd.Createable && !fd.Updateable}
			switch fd.Name {
			case "SystemModstamp":
				o.hasStamp = typ == sdk.TypeDateTime
			case cfg.externalID:
				o.extID = fd.ExternalID && fd.Createable && typ == sdk.TypeString
				sf.ReadOnly = true
			case cfg.changeIDField:
				o.changeID = fd.Createable && fd.Updateable && typ == sdk.TypeString
				sf.ReadOnly = true
			}
			if typ == sdk.TypeString && fd.Type != "multipicklist" && fd.Length > 0 {
				sf.MaxLength = fd.Length
			}
			sf.Required = !fd.Nillable && fd.Createable && !fd.DefaultedOnCreate && typ != sdk.TypeBool
			if typ == sdk.TypeLookup {
				f.relName = fd.RelationshipName
				if len(fd.ReferenceTo) == 1 && names[fd.ReferenceTo[0]] {
					f.target = fd.ReferenceTo[0]
					sf.Target = f.target
					e.Relations = append(e.Relations, sdk.Relationship{Name: fd.RelationshipName, Field: fd.Name, Parent: f.target})
				}
			}
			o.fields[fd.Name] = f
			e.Fields = append(e.Fields, sf)
		}
		if !hasID {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: describe of %s lists no Id field", d.Name)
		}
		e.Capabilities = sdk.EntityCapabilities{
			Incremental:   o.hasStamp,
			TracksDeletes: o.hasStamp,
			Push:          o.hasStamp && (d.Createable || d.Updateable || d.Deletable),
			Filter:        true,
			Documents:     true,
		}
		m.schema.Entities = append(m.schema.Entities, e)
		m.objects[d.Name] = o
	}
	for i := range m.schema.Entities {
		m.objects[m.schema.Entities[i].Name].entity = &m.schema.Entities[i]
	}
	if err := m.schema.Validate(); err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: describe gave an inconsistent schema: %v", err)
	}
	return m, nil
}

// relName is the soql.RelNameFunc of the model.
func (m *model) relName(entity, lookup string) string {
	o := m.objects[entity]
	if o == nil {
		return ""
	}
	if f := o.fields[lookup]; f != nil && f.typ == sdk.TypeLookup {
		return f.relName
	}
	return ""
}

// object returns the named object or a Permanent error.
func (m *model) object(name string) (*object, error) {
	o := m.objects[name]
	if o == nil {
		known := make([]string, 0, len(m.objects))
		for n := range m.objects {
			known = append(known, n)
		}
		slices.Sort(known)
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: unknown entity %q (the schema has %s)", name, strings.Join(known, ", "))
	}
	return o, nil
}
