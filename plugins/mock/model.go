package mock

import "github.com/fieldsync/fieldsync/sdk"

// DefaultModel is the schema a new server file gets: accounts, their
// contacts and opportunities, shaped like a CRM backend's (lower-case
// logical names, <entity>id keys holding GUIDs, lookups to parents).
// account has exactly ten fields: the record the benchmarks stream.
// Contacts and opportunities have owners (a user's or team's id) and
// opportunities a business unit, for the user-dependent filters.
func DefaultModel() *sdk.Schema {
	caps := sdk.EntityCapabilities{Incremental: true, TracksDeletes: true, Push: true, ClientIDs: true, Filter: true, Documents: true}
	return &sdk.Schema{Entities: []sdk.Entity{
		{
			Name: "account", DisplayName: "Account", PrimaryKey: "accountid", Capabilities: caps,
			Fields: []sdk.Field{
				{Name: "name", Type: sdk.TypeString, Required: true, MaxLength: 160},
				{Name: "accountnumber", Type: sdk.TypeString, MaxLength: 20},
				{Name: "email", Type: sdk.TypeString, MaxLength: 100},
				{Name: "city", Type: sdk.TypeString, MaxLength: 80},
				{Name: "employees", Type: sdk.TypeInt},
				{Name: "revenue", Type: sdk.TypeDecimal},
				{Name: "rating", Type: sdk.TypeFloat},
				{Name: "active", Type: sdk.TypeBool},
				{Name: "createdon", Type: sdk.TypeDateTime},
				{Name: "industrycode", Type: sdk.TypeChoice, Choices: industries},
			},
		},
		{
			Name: "contact", DisplayName: "Contact", PrimaryKey: "contactid", Capabilities: caps,
			Fields: []sdk.Field{
				{Name: "parentaccountid", Type: sdk.TypeLookup, Target: "account"},
				{Name: "firstname", Type: sdk.TypeString, MaxLength: 50},
				{Name: "lastname", Type: sdk.TypeString, Required: true, MaxLength: 50},
				{Name: "email", Type: sdk.TypeString, MaxLength: 100},
				{Name: "phone", Type: sdk.TypeString, MaxLength: 50},
				{Name: "jobtitle", Type: sdk.TypeString, MaxLength: 100},
				{Name: "birthdate", Type: sdk.TypeDateTime},
				{Name: "createdon", Type: sdk.TypeDateTime},
				{Name: "ownerid", Type: sdk.TypeGUID},
			},
			Relations: []sdk.Relationship{{Name: "contact_parentaccount", Field: "parentaccountid", Parent: "account"}},
		},
		{
			Name: "opportunity", DisplayName: "Opportunity", PrimaryKey: "opportunityid", Capabilities: caps,
			Fields: []sdk.Field{
				{Name: "accountid", Type: sdk.TypeLookup, Target: "account"},
				{Name: "name", Type: sdk.TypeString, Required: true, MaxLength: 300},
				{Name: "amount", Type: sdk.TypeDecimal},
				{Name: "probability", Type: sdk.TypeInt},
				{Name: "closedate", Type: sdk.TypeDateTime},
				{Name: "statecode", Type: sdk.TypeChoice, Choices: []sdk.Choice{{Value: 0, Label: "Open"}, {Value: 1, Label: "Won"}, {Value: 2, Label: "Lost"}}},
				{Name: "createdon", Type: sdk.TypeDateTime},
				{Name: "ownerid", Type: sdk.TypeGUID},
				{Name: "owningbusinessunit", Type: sdk.TypeGUID},
			},
			Relations: []sdk.Relationship{{Name: "opportunity_account", Field: "accountid", Parent: "account"}},
		},
	}}
}

var industries = []sdk.Choice{
	{Value: 1, Label: "Accounting"}, {Value: 2, Label: "Agriculture"}, {Value: 3, Label: "Broadcasting"},
	{Value: 4, Label: "Consulting"}, {Value: 5, Label: "Construction"}, {Value: 6, Label: "Education"},
	{Value: 7, Label: "Financial"}, {Value: 8, Label: "Healthcare"}, {Value: 9, Label: "Manufacturing"},
	{Value: 10, Label: "Retail"}, {Value: 11, Label: "Transportation"}, {Value: 12, Label: "Utilities"},
}

// snapOf indexes a schema that is not (yet) stored, for validation.
func snapOf(s *sdk.Schema) *schemaSnap {
	snap := &schemaSnap{schema: *s, entities: map[string]*entity{}}
	for _, e := range s.Entities {
		snap.entities[e.Name] = newEntity(e)
	}
	return snap
}
