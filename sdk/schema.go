package sdk

import (
	"fmt"
	"strings"
)

// FieldType is the type of a field as the backend describes it. Each type
// travels in one storage Kind (see FieldType.Kind).
type FieldType uint8

const (
	TypeUnknown  FieldType = iota
	TypeString             // text
	TypeInt                // 64-bit integer
	TypeDecimal            // exact decimal, carried as its canonical text ("12.50")
	TypeFloat              // 64-bit float
	TypeBool               // boolean
	TypeDateTime           // instant, carried as Unix microseconds UTC
	TypeGUID               // GUID, carried as lower-case canonical text
	TypeLookup             // reference to a row of Field.Target, carried as its id text
	TypeChoice             // option-set value, carried as an integer
	TypeBinary             // bytes
)

var typeNames = [...]string{"unknown", "string", "int", "decimal", "float", "bool", "datetime", "guid", "lookup", "choice", "binary"}

func (t FieldType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("FieldType(%d)", t)
}

// ParseFieldType is the inverse of FieldType.String.
func ParseFieldType(s string) (FieldType, error) {
	for i, n := range typeNames {
		if i > 0 && strings.EqualFold(n, s) {
			return FieldType(i), nil
		}
	}
	return TypeUnknown, fmt.Errorf("unknown field type %q", s)
}

// Kind returns how values of the type are carried in pages and Values.
func (t FieldType) Kind() Kind {
	switch t {
	case TypeString, TypeDecimal, TypeGUID, TypeLookup:
		return KindString
	case TypeInt, TypeDateTime, TypeChoice:
		return KindInt
	case TypeFloat:
		return KindFloat
	case TypeBool:
		return KindBool
	case TypeBinary:
		return KindBytes
	}
	return KindNull
}

// Schema is what a connector offers: its entities.
type Schema struct {
	Entities []Entity
}

// Entity returns the named entity, or nil.
func (s *Schema) Entity(name string) *Entity {
	for i := range s.Entities {
		if s.Entities[i].Name == name {
			return &s.Entities[i]
		}
	}
	return nil
}

// Entity is one table of the backend.
type Entity struct {
	Name         string
	DisplayName  string
	PrimaryKey   string // name of the key; the key is carried in Page.IDs, not in Fields
	Fields       []Field
	Relations    []Relationship
	Capabilities EntityCapabilities
}

// Field returns the named field, or nil.
func (e *Entity) Field(name string) *Field {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return &e.Fields[i]
		}
	}
	return nil
}

// FieldNames lists the entity's fields in schema order.
func (e *Entity) FieldNames() []string {
	names := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		names[i] = f.Name
	}
	return names
}

// Field is one column of an entity.
type Field struct {
	Name      string
	Type      FieldType
	Target    string // TypeLookup: the referenced entity
	Required  bool
	ReadOnly  bool
	MaxLength int
	Choices   []Choice
}

// Choice is one option of a TypeChoice field.
type Choice struct {
	Value int64
	Label string
}

// Relationship says that Field of this (child) entity references a row of
// Parent. The engine uses it to upload parents before children.
type Relationship struct {
	Name   string
	Field  string
	Parent string
}

// EntityCapabilities says what a connector can do with one entity. The core
// adapts to what is missing (for example, without TracksDeletes it finds
// deletes by comparing a full read).
type EntityCapabilities struct {
	Incremental   bool // fetch from a change token
	TracksDeletes bool // incremental pages carry deletes
	Push          bool // accepts creates, updates and deletes
	ClientIDs     bool // accepts a client-chosen id on create
	Filter        bool // evaluates Filter on the server
	Documents     bool // rows may own documents
}

// Validate checks a schema for the mistakes a connector could make: empty or
// duplicate names, unknown types, lookups and relationships naming entities
// or fields that do not exist.
func (s *Schema) Validate() error {
	seen := map[string]bool{}
	for i := range s.Entities {
		e := &s.Entities[i]
		if e.Name == "" {
			return fmt.Errorf("schema: entity %d has no name", i)
		}
		if seen[e.Name] {
			return fmt.Errorf("schema: entity %q listed twice", e.Name)
		}
		seen[e.Name] = true
		if e.PrimaryKey == "" {
			return fmt.Errorf("schema: entity %q has no primary key", e.Name)
		}
		fields := map[string]bool{e.PrimaryKey: true}
		for _, f := range e.Fields {
			if f.Name == "" {
				return fmt.Errorf("schema: entity %q has a field with no name", e.Name)
			}
			if fields[f.Name] {
				return fmt.Errorf("schema: entity %q: field %q listed twice (or repeats the primary key)", e.Name, f.Name)
			}
			fields[f.Name] = true
			if f.Type == TypeUnknown || f.Type > TypeBinary {
				return fmt.Errorf("schema: %s.%s has unknown type %d", e.Name, f.Name, f.Type)
			}
		}
	}
	for i := range s.Entities {
		e := &s.Entities[i]
		for _, f := range e.Fields {
			if f.Type == TypeLookup && f.Target != "" && !seen[f.Target] {
				return fmt.Errorf("schema: %s.%s references unknown entity %q", e.Name, f.Name, f.Target)
			}
		}
		for _, r := range e.Relations {
			if !seen[r.Parent] {
				return fmt.Errorf("schema: relationship %q of %s names unknown parent %q", r.Name, e.Name, r.Parent)
			}
			if e.Field(r.Field) == nil {
				return fmt.Errorf("schema: relationship %q of %s names unknown field %q", r.Name, e.Name, r.Field)
			}
		}
	}
	return nil
}
