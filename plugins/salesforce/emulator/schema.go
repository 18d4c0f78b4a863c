package emulator

import (
	"fmt"
	"strings"
)

// field is one field of an sObject as describe shows it.
type field struct {
	Name       string
	Label      string
	Type       string // describe type: id, string, textarea, email, phone, url, picklist, boolean, int, double, currency, percent, date, datetime, reference, base64
	Length     int
	Nillable   bool
	Createable bool
	Updateable bool
	Defaulted  bool
	ExternalID bool
	Unique     bool
	Required   bool // createable, not nillable, not defaulted: REQUIRED_FIELD_MISSING
	RefTo      []string
	RelName    string
	Picklist   []string
	Precision  int
	Scale      int
}

// object is one sObject.
type object struct {
	Name      string
	Label     string
	Plural    string
	KeyPrefix string
	Fields    []*field
	byName    map[string]*field // lower-case name
	byRel     map[string]*field // lower-case relationship name
	Custom    bool
	Writable  bool // createable, updateable, deletable through the API
	Owned     bool // has OwnerId
	Audited   bool // has CreatedDate, CreatedById, LastModifiedDate, LastModifiedById
}

func (o *object) field(name string) *field { return o.byName[strings.ToLower(name)] }

// schema is the org's objects.
type schema struct {
	objects  map[string]*object // lower-case name
	order    []*object
	byPrefix map[string]*object
}

func (s *schema) object(name string) *object { return s.objects[strings.ToLower(name)] }

var industries = []string{"Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology", "Telecommunications", "Transportation", "Utilities", "Other"}

var stages = []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}

func str(name, label string, length int) *field {
	return &field{Name: name, Label: label, Type: "string", Length: length, Nillable: true, Createable: true, Updateable: true}
}

func typed(name, label, typ string) *field {
	f := &field{Name: name, Label: label, Type: typ, Nillable: true, Createable: true, Updateable: true}
	switch typ {
	case "phone", "url":
		f.Length = 40
		if typ == "url" {
			f.Length = 255
		}
	case "email":
		f.Length = 80
	case "textarea":
		f.Length = 32000
	case "currency":
		f.Precision, f.Scale = 18, 2
	case "percent":
		f.Precision, f.Scale = 3, 0
	}
	return f
}

func ref(name, label, rel string, to ...string) *field {
	return &field{Name: name, Label: label, Type: "reference", Length: 18, Nillable: true, Createable: true, Updateable: true, RefTo: to, RelName: rel}
}

func required(f *field) *field {
	f.Nillable, f.Required = false, true
	return f
}

// newSchema builds the org's objects. fieldsync adds the connector's two
// custom fields to Account, Contact and Opportunity.
func newSchema(withFieldsync bool) *schema {
	s := &schema{objects: map[string]*object{}, byPrefix: map[string]*object{}}
	add := func(o *object, extra []*field) {
		var fs []*field
		fs = append(fs, &field{Name: "Id", Label: o.Label + " ID", Type: "id", Length: 18})
		fs = append(fs, &field{Name: "IsDeleted", Label: "Deleted", Type: "boolean", Defaulted: true})
		fs = append(fs, extra...)
		if o.Owned {
			fs = append(fs, &field{Name: "OwnerId", Label: "Owner ID", Type: "reference", Length: 18, Createable: true, Updateable: true, Defaulted: true, RefTo: []string{"User"}, RelName: "Owner"})
		}
		if o.Audited {
			fs = append(fs,
				&field{Name: "CreatedDate", Label: "Created Date", Type: "datetime", Defaulted: true},
				&field{Name: "CreatedById", Label: "Created By ID", Type: "reference", Length: 18, Defaulted: true, RefTo: []string{"User"}, RelName: "CreatedBy"},
				&field{Name: "LastModifiedDate", Label: "Last Modified Date", Type: "datetime", Defaulted: true},
				&field{Name: "LastModifiedById", Label: "Last Modified By ID", Type: "reference", Length: 18, Defaulted: true, RefTo: []string{"User"}, RelName: "LastModifiedBy"})
		}
		fs = append(fs, &field{Name: "SystemModstamp", Label: "System Modstamp", Type: "datetime", Defaulted: true})
		if withFieldsync && (o.Name == "Account" || o.Name == "Contact" || o.Name == "Opportunity") {
			fs = append(fs,
				&field{Name: "FieldsyncId__c", Label: "Fieldsync ID", Type: "string", Length: 36, Nillable: true, Createable: true, Updateable: true, ExternalID: true, Unique: true},
				&field{Name: "FieldsyncChangeId__c", Label: "Fieldsync Change ID", Type: "string", Length: 64, Nillable: true, Createable: true, Updateable: true})
		}
		o.Fields = fs
		o.byName, o.byRel = map[string]*field{}, map[string]*field{}
		for _, f := range fs {
			o.byName[strings.ToLower(f.Name)] = f
			if f.RelName != "" {
				o.byRel[strings.ToLower(f.RelName)] = f
			}
		}
		s.objects[strings.ToLower(o.Name)] = o
		s.order = append(s.order, o)
		s.byPrefix[o.KeyPrefix] = o
	}
	add(&object{Name: "User", Label: "User", Plural: "Users", KeyPrefix: "005", Audited: true}, []*field{
		required(str("Username", "Username", 80)),
		str("FirstName", "First Name", 40),
		required(str("LastName", "Last Name", 80)),
		{Name: "Name", Label: "Full Name", Type: "string", Length: 121},
		required(typed("Email", "Email", "email")),
		required(str("Alias", "Alias", 8)),
		{Name: "IsActive", Label: "Active", Type: "boolean", Createable: true, Updateable: true, Defaulted: true},
	})
	account := &object{Name: "Account", Label: "Account", Plural: "Accounts", KeyPrefix: "001", Writable: true, Owned: true, Audited: true}
	industry := typed("Industry", "Industry", "picklist")
	industry.Picklist = industries
	add(account, []*field{
		required(str("Name", "Account Name", 255)),
		str("AccountNumber", "Account Number", 40),
		typed("Phone", "Account Phone", "phone"),
		typed("Website", "Website", "url"),
		industry,
		{Name: "NumberOfEmployees", Label: "Employees", Type: "int", Nillable: true, Createable: true, Updateable: true, Precision: 8},
		typed("AnnualRevenue", "Annual Revenue", "currency"),
		str("BillingCity", "Billing City", 40),
		str("BillingCountry", "Billing Country", 80),
		typed("Description", "Account Description", "textarea"),
		ref("ParentId", "Parent Account ID", "Parent", "Account"),
	})
	add(&object{Name: "Contact", Label: "Contact", Plural: "Contacts", KeyPrefix: "003", Writable: true, Owned: true, Audited: true}, []*field{
		str("FirstName", "First Name", 40),
		required(str("LastName", "Last Name", 80)),
		typed("Email", "Email", "email"),
		typed("Phone", "Business Phone", "phone"),
		str("Title", "Title", 128),
		typed("Birthdate", "Birthdate", "date"),
		ref("AccountId", "Account ID", "Account", "Account"),
		{Name: "DoNotCall", Label: "Do Not Call", Type: "boolean", Createable: true, Updateable: true, Defaulted: true},
	})
	stage := required(typed("StageName", "Stage", "picklist"))
	stage.Picklist = stages
	add(&object{Name: "Opportunity", Label: "Opportunity", Plural: "Opportunities", KeyPrefix: "006", Writable: true, Owned: true, Audited: true}, []*field{
		required(str("Name", "Name", 120)),
		stage,
		required(typed("CloseDate", "Close Date", "date")),
		typed("Amount", "Amount", "currency"),
		typed("Probability", "Probability (%)", "percent"),
		ref("AccountId", "Account ID", "Account", "Account"),
	})
	add(&object{Name: "ContentDocument", Label: "Content Document", Plural: "Content Documents", KeyPrefix: "069", Owned: true, Audited: true}, []*field{
		{Name: "Title", Label: "Title", Type: "string", Length: 255, Updateable: true},
		{Name: "FileType", Label: "File Type", Type: "string", Length: 20, Nillable: true},
		{Name: "ContentSize", Label: "Size", Type: "int", Nillable: true},
		{Name: "LatestPublishedVersionId", Label: "Latest Published Version ID", Type: "reference", Length: 18, Nillable: true, RefTo: []string{"ContentVersion"}, RelName: "LatestPublishedVersion"},
	})
	add(&object{Name: "ContentVersion", Label: "Content Version", Plural: "Content Versions", KeyPrefix: "068", Writable: true, Owned: true, Audited: true}, []*field{
		{Name: "ContentDocumentId", Label: "Content Document ID", Type: "reference", Length: 18, Nillable: true, Createable: true, RefTo: []string{"ContentDocument"}, RelName: "ContentDocument"},
		required(str("Title", "Title", 255)),
		required(&field{Name: "PathOnClient", Label: "Path On Client", Type: "string", Length: 500, Createable: true}),
		{Name: "VersionData", Label: "Version Data", Type: "base64", Nillable: true, Createable: true},
		{Name: "FileType", Label: "File Type", Type: "string", Length: 20, Nillable: true},
		{Name: "ContentSize", Label: "Size", Type: "int", Nillable: true},
		{Name: "IsLatest", Label: "Is Latest", Type: "boolean", Defaulted: true},
		{Name: "VersionNumber", Label: "Version Number", Type: "string", Length: 20, Nillable: true},
		{Name: "FirstPublishLocationId", Label: "First Publish Location ID", Type: "reference", Length: 18, Nillable: true, Createable: true, RefTo: []string{"Account", "Contact", "Opportunity", "User"}},
	})
	add(&object{Name: "ContentDocumentLink", Label: "Content Document Link", Plural: "Content Document Links", KeyPrefix: "06A", Writable: true}, []*field{
		required(&field{Name: "LinkedEntityId", Label: "Linked Entity ID", Type: "reference", Length: 18, Createable: true, RefTo: []string{"Account", "Contact", "Opportunity", "User"}}),
		required(&field{Name: "ContentDocumentId", Label: "Content Document ID", Type: "reference", Length: 18, Createable: true, RefTo: []string{"ContentDocument"}, RelName: "ContentDocument"}),
		{Name: "ShareType", Label: "Share Type", Type: "picklist", Length: 40, Nillable: true, Createable: true, Updateable: true, Picklist: []string{"V", "C", "I"}},
		{Name: "Visibility", Label: "Visibility", Type: "picklist", Length: 40, Nillable: true, Createable: true, Updateable: true, Picklist: []string{"AllUsers", "InternalUsers", "SharedUsers"}},
	})
	add(&object{Name: "Attachment", Label: "Attachment", Plural: "Attachments", KeyPrefix: "00P", Writable: true, Owned: true, Audited: true}, []*field{
		required(&field{Name: "ParentId", Label: "Parent ID", Type: "reference", Length: 18, Createable: true, RefTo: []string{"Account", "Contact", "Opportunity"}}),
		required(str("Name", "File Name", 255)),
		required(&field{Name: "Body", Label: "Body", Type: "base64", Createable: true, Updateable: true}),
		{Name: "BodyLength", Label: "Body Length", Type: "int", Nillable: true},
		str("ContentType", "Content Type", 120),
		{Name: "IsPrivate", Label: "Private", Type: "boolean", Createable: true, Updateable: true, Defaulted: true},
		typed("Description", "Description", "textarea"),
	})
	return s
}

// sqlType is a field's column type; text fields compare case-insensitively
// as SOQL does, ids compare exactly.
func sqlType(f *field) string {
	switch f.Type {
	case "id", "reference":
		return "TEXT"
	case "boolean", "int", "datetime":
		return "INTEGER"
	case "double", "currency", "percent":
		return "REAL"
	case "base64":
		return "BLOB"
	case "date":
		return "TEXT"
	}
	return "TEXT COLLATE NOCASE"
}

func (o *object) tableDDL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %q (", o.Name)
	for i, f := range o.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q %s", f.Name, sqlType(f))
		switch f.Name {
		case "Id":
			b.WriteString(" PRIMARY KEY")
		case "IsDeleted":
			b.WriteString(" NOT NULL DEFAULT 0")
		}
	}
	b.WriteString(")")
	return b.String()
}

func (o *object) indexDDL() []string {
	t := o.Name
	out := []string{fmt.Sprintf(`CREATE INDEX %q ON %q ("SystemModstamp", "Id")`, t+"_stamp", t)}
	for _, f := range o.Fields {
		switch {
		case f.Unique:
			out = append(out, fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (%q) WHERE "IsDeleted" = 0`, t+"_"+f.Name, t, f.Name))
		case f.Type == "reference" && f.Name != "OwnerId" && f.Name != "CreatedById" && f.Name != "LastModifiedById":
			out = append(out, fmt.Sprintf(`CREATE INDEX %q ON %q (%q)`, t+"_"+f.Name, t, f.Name))
		}
	}
	return out
}

// triggerDDL keeps SystemModstamp and LastModifiedDate right for any
// writer, the API or a test's Exec: an insert that gave no SystemModstamp,
// or an update that left it alone, takes the next stamp of the org clock
// (the later of now and the last stamp + 1 ms). API writes set the stamp
// themselves, so the triggers leave them be.
func (o *object) triggerDDL() string {
	t := fmt.Sprintf("%q", o.Name)
	audit, auditIns := "", ""
	if o.Audited {
		audit = `, "LastModifiedDate" = CASE WHEN NEW."LastModifiedDate" IS OLD."LastModifiedDate" THEN (SELECT last FROM _clock) ELSE NEW."LastModifiedDate" END`
		auditIns = `, "CreatedDate" = coalesce(NEW."CreatedDate", (SELECT last FROM _clock)), "LastModifiedDate" = coalesce(NEW."LastModifiedDate", (SELECT last FROM _clock))`
	}
	return fmt.Sprintf(`
CREATE TRIGGER %[2]q AFTER INSERT ON %[1]s WHEN NEW."SystemModstamp" IS NULL BEGIN
	UPDATE _clock SET last = max(last + 1, sf_now());
	UPDATE %[1]s SET "SystemModstamp" = (SELECT last FROM _clock)%[5]s WHERE "Id" = NEW."Id";
END;
CREATE TRIGGER %[3]q AFTER UPDATE ON %[1]s WHEN NEW."SystemModstamp" IS OLD."SystemModstamp" AND (SELECT api FROM _clock) IS NULL BEGIN
	UPDATE _clock SET last = max(last + 1, sf_now());
	UPDATE %[1]s SET "SystemModstamp" = (SELECT last FROM _clock)%[4]s WHERE "Id" = NEW."Id";
END;`, t, o.Name+"_insert", o.Name+"_update", audit, auditIns)
}
