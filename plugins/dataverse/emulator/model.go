package emulator

import "strings"

// Kind is how an attribute is typed in $metadata, stored in SQLite and
// written in JSON. The storage of each kind is fixed (see the package doc's
// table layout): the TDS listener relies on it.
type Kind string

// Attribute kinds.
const (
	KindGUID       Kind = "guid"       // Edm.Guid; TEXT, lower-case 8-4-4-4-12
	KindString     Kind = "string"     // Edm.String; TEXT COLLATE NOCASE
	KindMemo       Kind = "memo"       // Edm.String (multi-line); TEXT COLLATE NOCASE
	KindInt        Kind = "int"        // Edm.Int32; INTEGER
	KindBigInt     Kind = "bigint"     // Edm.Int64; INTEGER
	KindMoney      Kind = "money"      // Edm.Decimal; INTEGER, ten-thousandths (TDS money)
	KindDouble     Kind = "double"     // Edm.Double; REAL
	KindBool       Kind = "bool"       // Edm.Boolean; INTEGER 0/1
	KindChoice     Kind = "choice"     // Edm.Int32 option value; INTEGER
	KindDateTime   Kind = "datetime"   // Edm.DateTimeOffset; INTEGER, Unix microseconds UTC, whole seconds
	KindDate       Kind = "date"       // Edm.Date; TEXT YYYY-MM-DD
	KindLookup     Kind = "lookup"     // Edm.Guid _<name>_value; TEXT GUID
	KindEntityName Kind = "entityname" // Edm.String; TEXT logical name of a lookup's target
	KindFile       Kind = "file"       // Edm.String base64 in JSON; BLOB of the raw bytes
)

// edmType is the CSDL type of a kind.
func (k Kind) edmType() string {
	switch k {
	case KindGUID, KindLookup:
		return "Edm.Guid"
	case KindInt, KindChoice:
		return "Edm.Int32"
	case KindBigInt:
		return "Edm.Int64"
	case KindMoney:
		return "Edm.Decimal"
	case KindDouble:
		return "Edm.Double"
	case KindBool:
		return "Edm.Boolean"
	case KindDateTime:
		return "Edm.DateTimeOffset"
	case KindDate:
		return "Edm.Date"
	}
	return "Edm.String"
}

// sqlType is the declared column type. Text columns compare
// case-insensitively (NOCASE), as Dataverse's default collation does.
func (k Kind) sqlType() string {
	switch k {
	case KindString, KindMemo:
		return "TEXT COLLATE NOCASE"
	case KindGUID, KindLookup, KindEntityName, KindDate:
		return "TEXT"
	case KindDouble:
		return "REAL"
	case KindFile:
		return "BLOB"
	}
	return "INTEGER"
}

// OnDelete is what deleting a lookup's target does to the referring row.
type OnDelete int

// Cascade behaviours (Dataverse relationship "Delete" behaviour).
const (
	RemoveLink OnDelete = iota // the lookup is cleared (a change of the row)
	Cascade                    // the row is deleted too
)

// Choice is one option of a choice (option set) attribute.
type Choice struct {
	Value int    `json:"value"`
	Label string `json:"label"`
}

// Attribute is one column of an entity as the Web API shows it.
type Attribute struct {
	Name      string // logical name
	Kind      Kind
	Column    string // SQLite column (lookups: _<name>_value)
	MaxLength int    // strings: characters
	ReadOnly  bool   // set by the server; ignored on write
	Choices   []Choice

	// Lookups.
	Targets    []string // target entities' logical names
	Navs       []string // single-valued navigation property per target
	Partners   []string // the target's collection-valued partner per target
	TypeColumn string   // polymorphic lookups: column holding the target's logical name
	OnDelete   OnDelete
}

// jsonName is the attribute's property name in JSON and $select.
func (a *Attribute) jsonName() string {
	if a.Kind == KindLookup {
		return "_" + a.Name + "_value"
	}
	return a.Name
}

// navTarget returns the target of navigation property nav, if a is a lookup
// with it.
func (a *Attribute) navTarget(nav string) (string, bool) {
	for i, n := range a.Navs {
		if n == nav {
			return a.Targets[i], true
		}
	}
	return "", false
}

// Entity is one table.
type Entity struct {
	Name           string // logical name, also the SQLite table
	SetName        string // entity set name
	PrimaryKey     string
	PrimaryName    string // the primary name attribute ("" when none)
	ChangeTracking bool
	Attributes     []*Attribute
	byName         map[string]*Attribute // logical and JSON names
	byNav          map[string]*Attribute
}

func (e *Entity) index() {
	e.byName = map[string]*Attribute{}
	e.byNav = map[string]*Attribute{}
	for _, a := range e.Attributes {
		e.byName[a.Name] = a
		e.byName[a.jsonName()] = a
		for _, n := range a.Navs {
			e.byNav[n] = a
		}
	}
}

// attr returns the attribute with logical name n.
func (e *Entity) attr(n string) *Attribute {
	a := e.byName[n]
	if a != nil && a.Name == n {
		return a
	}
	return nil
}

// prop returns the attribute whose JSON property is n (_x_value for
// lookups, the logical name otherwise).
func (e *Entity) prop(n string) *Attribute {
	a := e.byName[n]
	if a != nil && a.jsonName() == n {
		return a
	}
	return nil
}

// Choice lists shared by entities.
var (
	activeInactive = []Choice{{0, "Active"}, {1, "Inactive"}}
	industryCodes  = []Choice{
		{1, "Accounting"}, {2, "Agriculture and Non-petrol Natural Resource Extraction"},
		{3, "Broadcasting Printing and Publishing"}, {4, "Brokers"}, {5, "Building Supply Retail"},
		{6, "Business Services"}, {7, "Consulting"}, {8, "Consumer Services"},
		{9, "Design, Direction and Creative Management"}, {10, "Distributors, Dispatchers and Processors"},
		{11, "Doctor's Offices and Clinics"}, {12, "Durable Manufacturing"}, {13, "Eating and Drinking Places"},
		{14, "Entertainment Retail"}, {15, "Equipment Rental and Leasing"}, {16, "Financial"},
		{17, "Food and Tobacco Processing"}, {18, "Inbound Capital Intensive Processing"},
		{19, "Inbound Repair and Services"}, {20, "Insurance"}, {21, "Legal Services"},
		{22, "Non-Durable Merchandise Retail"}, {23, "Outbound Consumer Service"},
		{24, "Petrochemical Extraction and Distribution"}, {25, "Service Retail"}, {26, "SIG Affiliations"},
		{27, "Social Services"}, {28, "Special Outbound Trade Contractors"}, {29, "Specialty Realty"},
		{30, "Transportation"}, {31, "Utility Creation and Distribution"}, {32, "Vehicle Retail"},
		{33, "Wholesale"},
	}
	opportunityStates = []Choice{{0, "Open"}, {1, "Won"}, {2, "Lost"}}
)

func str(name string, max int) *Attribute {
	return &Attribute{Name: name, Kind: KindString, MaxLength: max}
}

func lookup(name string, target, nav, partner string, del OnDelete) *Attribute {
	return &Attribute{Name: name, Kind: KindLookup, Targets: []string{target}, Navs: []string{nav},
		Partners: []string{partner}, OnDelete: del}
}

// system returns the attributes every user-owned entity has.
func system(entity string) []*Attribute {
	return []*Attribute{
		{Name: "statecode", Kind: KindChoice, Choices: activeInactive},
		{Name: "createdon", Kind: KindDateTime, ReadOnly: true},
		{Name: "modifiedon", Kind: KindDateTime, ReadOnly: true},
		{Name: "ownerid", Kind: KindLookup, Targets: []string{"systemuser"}, Navs: []string{"owninguser"},
			Partners: []string{"user_" + entity}, TypeColumn: "owneridtype"},
		{Name: "owningbusinessunit", Kind: KindLookup, ReadOnly: true, Targets: []string{"businessunit"},
			Navs: []string{"owningbusinessunit"}, Partners: []string{"business_unit_" + entity}},
		{Name: "versionnumber", Kind: KindBigInt, ReadOnly: true},
	}
}

// model is the emulator's fixed data model: what $metadata describes and
// the store lays out. Names, types and relationships follow Dataverse's
// standard tables; only a useful subset of their columns is kept.
var model = buildModel()

func buildModel() map[string]*Entity {
	acc := &Entity{Name: "account", SetName: "accounts", PrimaryKey: "accountid", PrimaryName: "name", ChangeTracking: true}
	acc.Attributes = append([]*Attribute{
		{Name: "accountid", Kind: KindGUID},
		str("name", 160),
		str("accountnumber", 20),
		str("telephone1", 50),
		str("emailaddress1", 100),
		str("address1_city", 80),
		{Name: "numberofemployees", Kind: KindInt},
		{Name: "revenue", Kind: KindMoney},
		{Name: "creditlimit", Kind: KindMoney},
		{Name: "donotemail", Kind: KindBool},
		{Name: "industrycode", Kind: KindChoice, Choices: industryCodes},
		lookup("primarycontactid", "contact", "primarycontactid", "account_primary_contact", RemoveLink),
		lookup("parentaccountid", "account", "parentaccountid", "account_parent_account", RemoveLink),
	}, system("accounts")...)

	con := &Entity{Name: "contact", SetName: "contacts", PrimaryKey: "contactid", PrimaryName: "fullname", ChangeTracking: true}
	con.Attributes = append([]*Attribute{
		{Name: "contactid", Kind: KindGUID},
		str("firstname", 50),
		str("lastname", 50),
		{Name: "fullname", Kind: KindString, MaxLength: 160, ReadOnly: true},
		str("emailaddress1", 100),
		str("telephone1", 50),
		str("jobtitle", 100),
		{Name: "birthdate", Kind: KindDate},
		{Name: "parentcustomerid", Kind: KindLookup, Targets: []string{"account", "contact"},
			Navs:       []string{"parentcustomerid_account", "parentcustomerid_contact"},
			Partners:   []string{"contact_customer_accounts", "contact_customer_contacts"},
			TypeColumn: "parentcustomeridtype", OnDelete: Cascade},
	}, system("contacts")...)

	opp := &Entity{Name: "opportunity", SetName: "opportunities", PrimaryKey: "opportunityid", PrimaryName: "name", ChangeTracking: true}
	opp.Attributes = append([]*Attribute{
		{Name: "opportunityid", Kind: KindGUID},
		str("name", 300),
		{Name: "estimatedvalue", Kind: KindMoney},
		{Name: "closeprobability", Kind: KindInt},
		{Name: "estimatedclosedate", Kind: KindDate},
		lookup("parentaccountid", "account", "parentaccountid", "opportunity_parent_account", RemoveLink),
	}, system("opportunities")...)
	for _, a := range opp.Attributes {
		if a.Name == "statecode" {
			a.Choices = opportunityStates
		}
	}

	ann := &Entity{Name: "annotation", SetName: "annotations", PrimaryKey: "annotationid", PrimaryName: "subject", ChangeTracking: true}
	ann.Attributes = []*Attribute{
		{Name: "annotationid", Kind: KindGUID},
		str("subject", 500),
		{Name: "notetext", Kind: KindMemo, MaxLength: 100000},
		str("filename", 255),
		str("mimetype", 256),
		{Name: "documentbody", Kind: KindFile},
		{Name: "filesize", Kind: KindInt, ReadOnly: true},
		{Name: "isdocument", Kind: KindBool, ReadOnly: true},
		{Name: "objectid", Kind: KindLookup, Targets: []string{"account", "contact"},
			Navs:       []string{"objectid_account", "objectid_contact"},
			Partners:   []string{"Account_Annotation", "Contact_Annotation"},
			TypeColumn: "objecttypecode", OnDelete: Cascade},
		{Name: "objecttypecode", Kind: KindEntityName, Column: "objecttypecode", ReadOnly: true},
		{Name: "createdon", Kind: KindDateTime, ReadOnly: true},
		{Name: "modifiedon", Kind: KindDateTime, ReadOnly: true},
		{Name: "ownerid", Kind: KindLookup, Targets: []string{"systemuser"}, Navs: []string{"owninguser"},
			Partners: []string{"user_annotations"}, TypeColumn: "owneridtype"},
		{Name: "owningbusinessunit", Kind: KindLookup, ReadOnly: true, Targets: []string{"businessunit"},
			Navs: []string{"owningbusinessunit"}, Partners: []string{"business_unit_annotations"}},
		{Name: "versionnumber", Kind: KindBigInt, ReadOnly: true},
	}

	usr := &Entity{Name: "systemuser", SetName: "systemusers", PrimaryKey: "systemuserid", PrimaryName: "fullname", ChangeTracking: true}
	usr.Attributes = []*Attribute{
		{Name: "systemuserid", Kind: KindGUID},
		str("firstname", 64),
		str("lastname", 64),
		{Name: "fullname", Kind: KindString, MaxLength: 200, ReadOnly: true},
		str("domainname", 1024),
		str("internalemailaddress", 100),
		{Name: "applicationid", Kind: KindGUID},
		{Name: "isdisabled", Kind: KindBool},
		lookup("businessunitid", "businessunit", "businessunitid", "business_unit_system_users", RemoveLink),
		{Name: "createdon", Kind: KindDateTime, ReadOnly: true},
		{Name: "modifiedon", Kind: KindDateTime, ReadOnly: true},
		{Name: "versionnumber", Kind: KindBigInt, ReadOnly: true},
	}

	bu := &Entity{Name: "businessunit", SetName: "businessunits", PrimaryKey: "businessunitid", PrimaryName: "name"}
	bu.Attributes = []*Attribute{
		{Name: "businessunitid", Kind: KindGUID},
		str("name", 160),
		{Name: "createdon", Kind: KindDateTime, ReadOnly: true},
		{Name: "modifiedon", Kind: KindDateTime, ReadOnly: true},
		{Name: "versionnumber", Kind: KindBigInt, ReadOnly: true},
	}

	all := []*Entity{acc, con, opp, ann, usr, bu}
	for _, name := range customTables {
		set := name + "s"
		e := &Entity{Name: name, SetName: set, PrimaryKey: name + "id", PrimaryName: "fs_name", ChangeTracking: true}
		e.Attributes = append([]*Attribute{
			{Name: name + "id", Kind: KindGUID},
			str("fs_name", 200),
			{Name: "fs_quantity", Kind: KindInt},
			{Name: "fs_scheduledon", Kind: KindDateTime},
			lookup("fs_accountid", "account", "fs_accountid", name+"_account", RemoveLink),
		}, system(set)...)
		all = append(all, e)
	}
	m := map[string]*Entity{}
	for _, e := range all {
		for _, a := range e.Attributes {
			if a.Column == "" {
				a.Column = a.Name
				if a.Kind == KindLookup {
					a.Column = "_" + a.Name + "_value"
				}
			}
		}
		e.index()
		m[e.Name] = e
	}
	return m
}

// customTables are custom tables of a field-service solution (publisher
// prefix fs_), each with a name, a quantity, a date and a lookup to an
// account: enough entities for a many-entity sync (a no-change sync of
// twenty entities should be one request). Seed leaves them empty.
var customTables = []string{
	"fs_workorder", "fs_visit", "fs_inspection", "fs_asset", "fs_checklist",
	"fs_timeentry", "fs_expense", "fs_part", "fs_warehouse", "fs_route",
	"fs_photo", "fs_signature", "fs_incident", "fs_contract", "fs_servicetask",
}

// entityOrder is the order entities are laid out, described and seeded in.
var entityOrder = append([]string{"businessunit", "systemuser", "account", "contact", "opportunity", "annotation"}, customTables...)

// entityBySet returns the entity of an entity set name.
func entityBySet(set string) *Entity {
	for _, e := range model {
		if e.SetName == set {
			return e
		}
	}
	return nil
}

// EntityTable describes how one entity is stored, for readers of the SQLite
// file other than the Web API (the TDS listener, tests, admins).
type EntityTable struct {
	Entity         string // logical name
	EntitySet      string // Web API entity set name
	Table          string // SQLite table
	PrimaryKey     string // column: GUID text
	PrimaryName    string // column of the primary name ("" when none)
	ChangeTracking bool
	Columns        []Column
}

// Column is one stored column. Type is the Kind's name; see the package
// doc for how each kind is stored.
type Column struct {
	Name      string // SQLite column
	Attribute string // logical attribute name
	Type      Kind
	SQLType   string
	MaxLength int
	ReadOnly  bool
	Choices   []Choice // choice columns: option values and labels
	// Lookups: the possible target entities, and for polymorphic ones the
	// column that names the target of each row.
	Targets      []string
	TargetColumn string
}

// EntityTables describes the tables of the emulator's entities, in layout
// order. The description is static: the model is fixed.
func EntityTables() []EntityTable {
	var out []EntityTable
	for _, n := range entityOrder {
		e := model[n]
		t := EntityTable{Entity: e.Name, EntitySet: e.SetName, Table: e.Name, PrimaryKey: e.PrimaryKey,
			PrimaryName: e.PrimaryName, ChangeTracking: e.ChangeTracking}
		for _, a := range e.Attributes {
			t.Columns = append(t.Columns, Column{Name: a.Column, Attribute: a.Name, Type: a.Kind,
				SQLType: a.Kind.sqlType(), MaxLength: a.MaxLength, ReadOnly: a.ReadOnly,
				Choices: a.Choices, Targets: a.Targets, TargetColumn: a.TypeColumn})
		}
		out = append(out, t)
	}
	return out
}

// columnsDDL lists the physical columns of e: every attribute's column and
// each polymorphic lookup's type column (once).
func columnsDDL(e *Entity) []string {
	var cols []string
	seen := map[string]bool{}
	add := func(name, typ string) {
		if !seen[name] {
			seen[name] = true
			cols = append(cols, quoteIdent(name)+" "+typ)
		}
	}
	for _, a := range e.Attributes {
		typ := a.Kind.sqlType()
		if a.Name == e.PrimaryKey {
			typ = "TEXT NOT NULL"
		}
		add(a.Column, typ)
		if a.TypeColumn != "" {
			add(a.TypeColumn, "TEXT")
		}
	}
	return cols
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
