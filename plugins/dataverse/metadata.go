package dataverse

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// maxMetadata bounds the $metadata document read (Dataverse's full one is
// tens of MB; an emulator's is small).
const maxMetadata = 256 << 20

// model is what the connector knows of the organization: the sdk schema and,
// per entity, how its fields are named on the wire.
type model struct {
	schema *sdk.Schema
	byName map[string]*entity // by logical name (the sdk entity name)
}

// entity is one table: its logical name (the sdk name), its entity set
// (the URL segment: account ↔ accounts) and primary key.
type entity struct {
	name, set, pk string
	tracked       bool // change tracking enabled: delta links work
	fields        []*field
	byName        map[string]*field // by sdk (logical) name
	byJSON        map[string]*field // by JSON property name
	sdk           *sdk.Entity
}

// field is one column. A lookup is named by its logical attribute
// (parentaccountid) in the sdk; its value travels as _parentaccountid_value
// in JSON and $select, and is written through a navigation property
// (parentaccountid@odata.bind).
type field struct {
	name     string
	json     string
	edm      string
	typ      sdk.FieldType
	readOnly bool
	targets  []lookupTarget // lookups, in $metadata order; the first is the sdk Target
}

// lookupTarget is one table a lookup may reference, with the single-valued
// navigation property that reaches it.
type lookupTarget struct {
	entity, nav string
}

func (e *entity) field(name string) *field { return e.byName[name] }

// nav returns the navigation property of a lookup toward target ("" when
// none); odata.NavFunc.
func (m *model) nav(entityName, lookup string) string {
	e := m.byName[entityName]
	if e == nil {
		return ""
	}
	f := e.byName[lookup]
	if f == nil || len(f.targets) == 0 {
		return ""
	}
	return f.targets[0].nav
}

// loadModel returns the model, reading $metadata the first time. A failed
// read is not kept, so the next call tries again. ?annotations=true asks
// for the annotations (the change tracking term among them), which
// Dataverse leaves out otherwise.
func (c *Connector) loadModel(ctx context.Context) (*model, error) {
	select {
	case c.modelLock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("dataverse: read $metadata: %w", ctx.Err())
	}
	defer func() { <-c.modelLock }()
	if c.model != nil {
		return c.model, nil
	}
	resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: "$metadata?annotations=true", What: "read $metadata",
		Header: http.Header{"Accept": {"application/xml"}}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m, err := parseMetadata(io.LimitReader(resp.Body, maxMetadata))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dataverse: read $metadata: %w", ctx.Err())
		}
		return nil, err
	}
	c.model = m
	return m, nil
}

// Schema describes the organization's tables from $metadata.
func (c *Connector) Schema(ctx context.Context) (*sdk.Schema, error) {
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	// The model's schema is shared; callers get their own copy.
	out := &sdk.Schema{Entities: make([]sdk.Entity, len(m.schema.Entities))}
	for i, e := range m.schema.Entities {
		e.Fields = slices.Clone(e.Fields)
		e.Relations = slices.Clone(e.Relations)
		out.Entities[i] = e
	}
	return out, nil
}

// CSDL, as much of it as the connector reads (OData v4 CSDL XML; names are
// matched without their XML namespace).
type (
	csdlDoc struct {
		Schemas []csdlSchema `xml:"DataServices>Schema"`
	}
	csdlSchema struct {
		Namespace   string            `xml:"Namespace,attr"`
		Alias       string            `xml:"Alias,attr"`
		EntityTypes []csdlEntityType  `xml:"EntityType"`
		Containers  []csdlContainer   `xml:"EntityContainer"`
		Annotations []csdlAnnotations `xml:"Annotations"`
	}
	csdlEntityType struct {
		Name        string           `xml:"Name,attr"`
		BaseType    string           `xml:"BaseType,attr"`
		Abstract    string           `xml:"Abstract,attr"`
		Key         []csdlRef        `xml:"Key>PropertyRef"`
		Properties  []csdlProperty   `xml:"Property"`
		Navs        []csdlNav        `xml:"NavigationProperty"`
		Annotations []csdlAnnotation `xml:"Annotation"`
	}
	csdlRef struct {
		Name string `xml:"Name,attr"`
	}
	csdlProperty struct {
		Name        string           `xml:"Name,attr"`
		Type        string           `xml:"Type,attr"`
		MaxLength   string           `xml:"MaxLength,attr"`
		Nullable    string           `xml:"Nullable,attr"`
		Annotations []csdlAnnotation `xml:"Annotation"`
	}
	csdlNav struct {
		Name        string `xml:"Name,attr"`
		Type        string `xml:"Type,attr"`
		Partner     string `xml:"Partner,attr"`
		Constraints []struct {
			Property           string `xml:"Property,attr"`
			ReferencedProperty string `xml:"ReferencedProperty,attr"`
		} `xml:"ReferentialConstraint"`
	}
	csdlContainer struct {
		Name string    `xml:"Name,attr"`
		Sets []csdlSet `xml:"EntitySet"`
	}
	csdlSet struct {
		Name        string           `xml:"Name,attr"`
		EntityType  string           `xml:"EntityType,attr"`
		Annotations []csdlAnnotation `xml:"Annotation"`
	}
	csdlAnnotations struct {
		Target      string           `xml:"Target,attr"`
		Annotations []csdlAnnotation `xml:"Annotation"`
	}
	csdlAnnotation struct {
		Term       string `xml:"Term,attr"`
		Bool       string `xml:"Bool,attr"`
		String     string `xml:"String,attr"`
		EnumMember string `xml:"EnumMember,attr"`
		Record     []struct {
			Values []struct {
				Property string `xml:"Property,attr"`
				Bool     string `xml:"Bool,attr"`
				String   string `xml:"String,attr"`
				Int      string `xml:"Int,attr"`
			} `xml:"PropertyValue"`
		} `xml:"Record"`
		Collection []struct {
			Records []struct {
				Values []struct {
					Property string `xml:"Property,attr"`
					String   string `xml:"String,attr"`
					Int      string `xml:"Int,attr"`
				} `xml:"PropertyValue"`
			} `xml:"Record"`
		} `xml:"Collection"`
	}
)

// Annotation terms read (by their last segment, so an alias does not
// matter). ChangeTracking is Org.OData.Capabilities.V1.ChangeTracking
// (PROTOCOLS.md): tables without it cannot give delta links. Computed and
// Permissions (Org.OData.Core.V1) mark columns the server sets.
const (
	termChangeTracking = "ChangeTracking"
	termComputed       = "Computed"
	termPermissions    = "Permissions"
)

// readOnlyNames are columns the server always sets, whatever the metadata
// says: Dataverse's $metadata carries no read-only marks for them.
var readOnlyNames = map[string]bool{
	"createdon": true, "modifiedon": true, "versionnumber": true, "createdby": true, "modifiedby": true,
	"createdonbehalfby": true, "modifiedonbehalfby": true, "owningbusinessunit": true, "owninguser": true,
	"owningteam": true, "timezoneruleversionnumber": true, "exchangerate": true, "fullname": true,
	"filesize": true, "isdocument": true,
}

// excludedFields are columns the connector never offers as fields: an
// annotation's documentbody is its attachment, served by Documents (as a
// field it would pull every file into every download).
var excludedFields = map[string]map[string]bool{
	"annotation": {"documentbody": true},
}

// parseMetadata reads a CSDL document into the model.
//
// Type mapping: Edm.Guid → GUID (the key, other ids); _x_value Edm.Guid
// with a navigation property whose referential constraint names it → a
// Lookup named x targeting that navigation's entity; Edm.String → String;
// Int16/Int32/Int64/Byte → Int; Decimal (also Money) → Decimal; Double and
// Single → Float; Boolean → Bool; DateTimeOffset and Date → DateTime;
// Binary → Binary.
//
// Choices: $metadata types an option set as plain Edm.Int32. An Int32 is a
// Choice when an annotation lists its options (a Record collection of
// Value/Label, or a Core.V1.Description reading "0=Active; 1=Inactive" as
// the emulator gives), or when its logical name ends in "code"
// (statecode, statuscode, industrycode…): Dataverse names its choice
// columns so, and its whole-number columns (numberofemployees) seldom end
// so. A misread costs little: both travel as integers. Real Dataverse
// lists options only in its metadata API (EntityDefinitions), which this
// connector does not read: there choices come without options.
//
// Read-only: Core.V1.Computed or a Permissions of Read, and the columns
// the service always sets (readOnlyNames). A lookup with no target in the
// schema is read-only too: there is nothing to bind it to.
func parseMetadata(r io.Reader) (*model, error) {
	var doc csdlDoc
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: $metadata is not CSDL XML: %w", err)
	}
	types := map[string]*csdlEntityType{} // by unqualified name
	var typeOrder []string
	sets := map[string]*csdlSet{} // by unqualified entity type name
	external := map[string][]csdlAnnotation{}
	for si := range doc.Schemas {
		s := &doc.Schemas[si]
		for ti := range s.EntityTypes {
			t := &s.EntityTypes[ti]
			if _, dup := types[t.Name]; !dup {
				typeOrder = append(typeOrder, t.Name)
			}
			types[t.Name] = t
		}
		for _, c := range s.Containers {
			for i := range c.Sets {
				set := &c.Sets[i]
				sets[unqualify(set.EntityType)] = set
				external[set.Name] = append(external[set.Name], set.Annotations...)
			}
		}
		for _, a := range s.Annotations {
			// Targets: "ns.type", "ns.type/property" or "ns.Container/set".
			left, right, path := strings.Cut(a.Target, "/")
			key := unqualify(left)
			if path {
				external[key+"/"+right] = append(external[key+"/"+right], a.Annotations...)
				key = right
			}
			external[key] = append(external[key], a.Annotations...)
		}
	}

	m := &model{schema: &sdk.Schema{}, byName: map[string]*entity{}}
	var ents []*entity
	for _, name := range typeOrder {
		t := types[name]
		set := sets[name]
		if set == nil || t.Abstract == "true" {
			continue
		}
		props, navs, key := flatten(t, types)
		if len(key) != 1 || checkName(name) != nil || checkName(set.Name) != nil {
			continue // composite or missing keys are not Dataverse tables
		}
		e := &entity{name: name, set: set.Name, pk: key[0], byName: map[string]*field{}, byJSON: map[string]*field{}}
		anns := append(append(slices.Clone(t.Annotations), external[name]...), external[set.Name]...)
		e.tracked = annotationTrue(anns, termChangeTracking)
		for _, p := range props {
			if p.Name == e.pk || checkName(p.Name) != nil || excludedFields[name][p.Name] {
				continue
			}
			pAnns := append(slices.Clone(p.Annotations), external[name+"/"+p.Name]...)
			f := &field{name: p.Name, json: p.Name, edm: p.Type}
			if lk, ok := strings.CutPrefix(p.Name, "_"); ok && strings.HasSuffix(lk, "_value") && p.Type == "Edm.Guid" {
				f.name = strings.TrimSuffix(lk, "_value")
				f.typ = sdk.TypeLookup
				for _, n := range navs {
					if strings.HasPrefix(n.Type, "Collection(") {
						continue
					}
					for _, rc := range n.Constraints {
						if rc.Property == p.Name && checkName(n.Name) == nil {
							f.targets = append(f.targets, lookupTarget{entity: unqualify(n.Type), nav: n.Name})
						}
					}
				}
			} else {
				f.typ = edmType(p.Type)
			}
			if f.typ == sdk.TypeUnknown || e.byName[f.name] != nil {
				continue
			}
			if f.typ == sdk.TypeInt && p.Type == "Edm.Int32" && (strings.HasSuffix(f.name, "code") || len(choicesOf(pAnns)) > 0) {
				f.typ = sdk.TypeChoice
			}
			f.readOnly = readOnlyNames[f.name] || annotationTrue(pAnns, termComputed) || readOnlyPermission(pAnns)
			e.fields = append(e.fields, f)
			e.byName[f.name] = f
			e.byJSON[f.json] = f
		}
		ents = append(ents, e)
		m.byName[name] = e
	}
	// Lookup targets outside the schema are dropped: a lookup whose
	// targets are all unknown keeps no Target (and cannot be written).
	annTargets := map[string]bool{}
	if ann := m.byName["annotation"]; ann != nil {
		if f := ann.byName["objectid"]; f != nil {
			for _, t := range f.targets {
				annTargets[t.entity] = true
			}
		}
	}
	for _, e := range ents {
		se := sdk.Entity{Name: e.name, DisplayName: e.name, PrimaryKey: e.pk, Capabilities: sdk.EntityCapabilities{
			Incremental: e.tracked, TracksDeletes: e.tracked, Push: true, ClientIDs: true, Filter: true,
			Documents: annTargets[e.name],
		}}
		for _, f := range e.fields {
			f.targets = slices.DeleteFunc(f.targets, func(t lookupTarget) bool { return m.byName[t.entity] == nil })
			if f.typ == sdk.TypeLookup && len(f.targets) == 0 {
				f.readOnly = true // nothing to bind it to
			}
			sf := sdk.Field{Name: f.name, Type: f.typ, ReadOnly: f.readOnly}
			if len(f.targets) > 0 {
				sf.Target = f.targets[0].entity
				se.Relations = append(se.Relations, sdk.Relationship{Name: e.name + "." + f.name, Field: f.name, Parent: sf.Target})
			}
			se.Fields = append(se.Fields, sf)
		}
		m.schema.Entities = append(m.schema.Entities, se)
	}
	// Second pass for lengths and choices (kept apart so the loop above
	// stays about names and types).
	for i, e := range ents {
		t := types[e.name]
		props, _, _ := flatten(t, types)
		for _, p := range props {
			f := e.byJSON[p.Name]
			if f == nil {
				continue
			}
			sf := m.schema.Entities[i].Field(f.name)
			if n, err := strconv.Atoi(p.MaxLength); err == nil && n > 0 && f.typ == sdk.TypeString {
				sf.MaxLength = n
			}
			if f.typ == sdk.TypeChoice {
				sf.Choices = choicesOf(append(slices.Clone(p.Annotations), external[e.name+"/"+p.Name]...))
			}
		}
		e.sdk = &m.schema.Entities[i]
	}
	if err := m.schema.Validate(); err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: $metadata gives an invalid schema: %w", err)
	}
	return m, nil
}

// flatten collects an entity type's properties, navigation properties and
// key through its base types (Dataverse derives tables from crmbaseentity).
func flatten(t *csdlEntityType, types map[string]*csdlEntityType) (props []csdlProperty, navs []csdlNav, key []string) {
	seen := map[string]bool{}
	for depth := 0; t != nil && depth < 16 && !seen[t.Name]; depth++ {
		seen[t.Name] = true
		props = append(slices.Clone(t.Properties), props...)
		navs = append(slices.Clone(t.Navs), navs...)
		if len(key) == 0 {
			for _, k := range t.Key {
				key = append(key, k.Name)
			}
		}
		if t.BaseType == "" {
			break
		}
		t = types[unqualify(t.BaseType)]
	}
	return props, navs, key
}

// unqualify drops a namespace or alias: mscrm.account → account, and
// Collection(mscrm.x) → Collection(x) stays recognizable by its prefix.
func unqualify(s string) string {
	inner, coll := strings.CutPrefix(s, "Collection(")
	inner = strings.TrimSuffix(inner, ")")
	if i := strings.LastIndexByte(inner, '.'); i >= 0 {
		inner = inner[i+1:]
	}
	if coll {
		return "Collection(" + inner + ")"
	}
	return inner
}

func edmType(t string) sdk.FieldType {
	switch t {
	case "Edm.Guid":
		return sdk.TypeGUID
	case "Edm.String":
		return sdk.TypeString
	case "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte":
		return sdk.TypeInt
	case "Edm.Decimal":
		return sdk.TypeDecimal
	case "Edm.Double", "Edm.Single":
		return sdk.TypeFloat
	case "Edm.Boolean":
		return sdk.TypeBool
	case "Edm.DateTimeOffset", "Edm.Date":
		return sdk.TypeDateTime
	case "Edm.Binary":
		return sdk.TypeBinary
	}
	return sdk.TypeUnknown
}

func termIs(term, name string) bool {
	return term == name || strings.HasSuffix(term, "."+name)
}

// annotationTrue reports whether an annotation of the term says true,
// directly (Bool="true") or in a record (Supported/Computed = true).
func annotationTrue(anns []csdlAnnotation, term string) bool {
	for _, a := range anns {
		if !termIs(a.Term, term) {
			continue
		}
		if a.Bool == "true" || (a.Bool == "" && len(a.Record) == 0 && a.String == "" && a.EnumMember == "") {
			return true
		}
		for _, r := range a.Record {
			for _, v := range r.Values {
				if (v.Property == "Supported" || v.Property == "Enabled") && v.Bool == "true" {
					return true
				}
			}
		}
	}
	return false
}

func readOnlyPermission(anns []csdlAnnotation) bool {
	for _, a := range anns {
		if termIs(a.Term, termPermissions) && strings.HasSuffix(a.EnumMember, "/Read") {
			return true
		}
	}
	return false
}

// choicesOf reads options from any annotation holding a collection of
// records with Value and Label, or from a Core.V1.Description whose text
// lists them as "1=Label; 2=Label" (the emulator's form).
func choicesOf(anns []csdlAnnotation) []sdk.Choice {
	var out []sdk.Choice
	for _, a := range anns {
		for _, c := range a.Collection {
			for _, r := range c.Records {
				var ch sdk.Choice
				ok := false
				for _, v := range r.Values {
					switch v.Property {
					case "Value":
						n, err := strconv.ParseInt(firstNonEmpty(v.Int, v.String), 10, 64)
						if err == nil {
							ch.Value, ok = n, true
						}
					case "Label":
						ch.Label = v.String
					}
				}
				if ok {
					out = append(out, ch)
				}
			}
		}
		if termIs(a.Term, "Description") && a.String != "" {
			out = append(out, describedChoices(a.String)...)
		}
	}
	return out
}

// describedChoices reads "1=Accounting; 2=Agriculture" into choices; text
// of any other shape gives none.
func describedChoices(s string) []sdk.Choice {
	var out []sdk.Choice
	for _, part := range strings.Split(s, "; ") {
		v, label, ok := strings.Cut(part, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil {
			return nil
		}
		out = append(out, sdk.Choice{Value: n, Label: label})
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// checkName accepts logical and navigation property names: a letter or
// underscore, then letters, digits and underscores. Anything else could
// change a URL or an expression around it.
func checkName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%q is not a logical name", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("%q is not a logical name", s)
	}
	return nil
}
