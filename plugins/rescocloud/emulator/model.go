package emulator

import (
	"fmt"
	"sort"
)

// Attribute types, as Metadata names them.
const (
	TypeGuid     = "Guid"
	TypeString   = "String"
	TypeMemo     = "Memo"
	TypeInteger  = "Integer"
	TypeBigInt   = "BigInt"
	TypeDecimal  = "Decimal"
	TypeDouble   = "Double"
	TypeMoney    = "Money"
	TypeBoolean  = "Boolean"
	TypeDateTime = "DateTime"
	TypePicklist = "Picklist"
	TypeLookup   = "Lookup"
	TypeBinary   = "Binary"
)

// Option is one value of a Picklist attribute.
type Option struct {
	Value int64  `json:"Value"`
	Label string `json:"Label"`
}

// Attribute describes one column of an entity.
type Attribute struct {
	Name      string   `json:"Name"`
	Type      string   `json:"Type"`
	MaxLength int      `json:"MaxLength,omitempty"`
	Required  bool     `json:"Required"`
	ReadOnly  bool     `json:"ReadOnly"`
	Targets   []string `json:"Targets,omitempty"`
	Options   []Option `json:"Options,omitempty"`
}

// Entity describes one table.
type Entity struct {
	Name           string      `json:"Name"`
	PrimaryKey     string      `json:"PrimaryKey"`
	PrimaryName    string      `json:"PrimaryName"`
	ChangeTracking bool        `json:"ChangeTracking"`
	Attributes     []Attribute `json:"Attributes"`

	byName map[string]*Attribute
}

// Attr returns the attribute called name, or nil.
func (e *Entity) Attr(name string) *Attribute { return e.byName[name] }

// owned says whether rows of e have an owner.
func (e *Entity) owned() bool { return e.byName["ownerid"] != nil }

// versionAttr is the pseudo-attribute carrying a row's version.
const versionAttr = "versionnumber"

// ownerTargets are what ownerid may point at.
var ownerTargets = []string{"systemuser", "team"}

var stateOptions = []Option{{0, "Active"}, {1, "Inactive"}}

func str(name string, max int) Attribute {
	return Attribute{Name: name, Type: TypeString, MaxLength: max}
}
func req(a Attribute) Attribute    { a.Required = true; return a }
func ro(a Attribute) Attribute     { a.ReadOnly = true; return a }
func typ(name, t string) Attribute { return Attribute{Name: name, Type: t} }
func lookup(name string, targets ...string) Attribute {
	return Attribute{Name: name, Type: TypeLookup, Targets: targets}
}

// common are the attributes every business entity ends with.
func common(owned bool) []Attribute {
	var out []Attribute
	if owned {
		out = append(out, req(lookup("ownerid", ownerTargets...)), ro(lookup("owningbusinessunit", "businessunit")))
	}
	return append(out, ro(typ("createdon", TypeDateTime)), ro(typ("modifiedon", TypeDateTime)))
}

// noteTargets are the entities an annotation may be attached to.
var noteTargets []string

var entities = buildModel()

// entityNames lists the entities in a stable order.
var entityNames []string

func entity(name string) *Entity { return entities[name] }

func buildModel() map[string]*Entity {
	var list []*Entity
	add := func(name, pk, primary string, attrs ...Attribute) *Entity {
		e := &Entity{Name: name, PrimaryKey: pk, PrimaryName: primary, ChangeTracking: true}
		e.Attributes = append([]Attribute{ro(typ(pk, TypeGuid))}, attrs...)
		list = append(list, e)
		return e
	}
	add("businessunit", "businessunitid", "name",
		req(str("name", 160)), lookup("parentbusinessunitid", "businessunit"),
		ro(typ("createdon", TypeDateTime)), ro(typ("modifiedon", TypeDateTime)))
	add("systemuser", "systemuserid", "fullname",
		req(str("domainname", 1024)), str("firstname", 64), str("lastname", 64), str("fullname", 200),
		str("internalemailaddress", 100), req(lookup("businessunitid", "businessunit")), typ("isdisabled", TypeBoolean),
		ro(typ("createdon", TypeDateTime)), ro(typ("modifiedon", TypeDateTime)))
	add("team", "teamid", "name",
		req(str("name", 160)), req(lookup("businessunitid", "businessunit")),
		ro(typ("createdon", TypeDateTime)), ro(typ("modifiedon", TypeDateTime)))
	add("teammembership", "teammembershipid", "",
		req(lookup("teamid", "team")), req(lookup("systemuserid", "systemuser")),
		ro(typ("createdon", TypeDateTime)), ro(typ("modifiedon", TypeDateTime)))
	industry := Attribute{Name: "industrycode", Type: TypePicklist, Options: []Option{
		{1, "Accounting"}, {2, "Agriculture"}, {3, "Broadcasting"}, {4, "Brokers"}, {5, "Building Supply"},
		{6, "Business Services"}, {7, "Consulting"}, {8, "Consumer Services"}, {9, "Design"}, {10, "Distributors"}}}
	state := Attribute{Name: "statecode", Type: TypePicklist, Options: stateOptions}
	add("account", "accountid", "name", append([]Attribute{
		req(str("name", 160)), str("accountnumber", 20), str("telephone1", 50), str("emailaddress1", 100),
		str("address1_city", 80), typ("numberofemployees", TypeInteger), typ("revenue", TypeMoney),
		typ("creditlimit", TypeMoney), typ("donotemail", TypeBoolean), industry,
		lookup("parentaccountid", "account"), lookup("primarycontactid", "contact"), state,
	}, common(true)...)...)
	add("contact", "contactid", "fullname", append([]Attribute{
		str("firstname", 50), req(str("lastname", 50)), ro(str("fullname", 160)), str("emailaddress1", 100),
		str("telephone1", 50), str("jobtitle", 100), typ("birthdate", TypeDateTime),
		lookup("parentcustomerid", "account"), state,
	}, common(true)...)...)
	add("opportunity", "opportunityid", "name", append([]Attribute{
		req(str("name", 300)), lookup("parentaccountid", "account"), lookup("parentcontactid", "contact"),
		typ("estimatedvalue", TypeMoney), typ("estimatedclosedate", TypeDateTime), typ("closeprobability", TypeInteger),
		str("stepname", 200), typ("description", TypeMemo), state,
	}, common(true)...)...)
	noteTargets = []string{"account", "contact", "opportunity"}
	for i := 1; i <= 16; i++ {
		noteTargets = append(noteTargets, fmt.Sprintf("fs_entity%02d", i))
	}
	add("annotation", "annotationid", "subject", append([]Attribute{
		str("subject", 500), typ("notetext", TypeMemo), str("filename", 255), str("mimetype", 256),
		ro(typ("filesize", TypeInteger)), typ("documentbody", TypeBinary), lookup("objectid", noteTargets...),
		str("objecttypecode", 64),
	}, common(true)...)...)
	for i := 1; i <= 16; i++ {
		n := fmt.Sprintf("fs_entity%02d", i)
		add(n, n+"id", "fs_name", append([]Attribute{
			req(str("fs_name", 200)), typ("fs_number", TypeInteger), typ("fs_date", TypeDateTime),
		}, common(true)...)...)
	}
	m := map[string]*Entity{}
	for _, e := range list {
		e.byName = map[string]*Attribute{}
		for i := range e.Attributes {
			e.byName[e.Attributes[i].Name] = &e.Attributes[i]
		}
		m[e.Name] = e
		entityNames = append(entityNames, e.Name)
	}
	sort.Strings(entityNames)
	return m
}
