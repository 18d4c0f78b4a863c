package numbersmax

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

var opportunity = &sdk.Entity{Name: "opportunity", PrimaryKey: "opportunityid", Fields: []sdk.Field{
	{Name: "name", Type: sdk.TypeString},
	{Name: "amount", Type: sdk.TypeDecimal},
	{Name: "probability", Type: sdk.TypeInt},
	{Name: "statecode", Type: sdk.TypeChoice, Choices: []sdk.Choice{{Value: 0, Label: "Open"}, {Value: 1, Label: "Won"}, {Value: 2, Label: "Lost"}}},
	{Name: "createdon", Type: sdk.TypeDateTime, ReadOnly: true},
}}

var policy = Policy{StatusField: "statecode", Precedence: []string{"Won", "Lost", "Open"}}

func TestResolve(t *testing.T) {
	row := func(name, amount string, prob, state int64) map[string]sdk.Value {
		return map[string]sdk.Value{"name": sdk.String(name), "amount": sdk.String(amount), "probability": sdk.Int(prob), "statecode": sdk.Int(state), "createdon": sdk.Int(1)}
	}
	tests := []struct {
		name          string
		local, remote map[string]sdk.Value
		want          map[string]sdk.Value
		push          string
	}{
		{"numbers take the larger, text the device's", row("device", "100.50", 10, 0), row("server", "99.99", 80, 0),
			row("device", "100.50", 80, 0), "name,amount"},
		{"won beats open from the server", row("x", "1", 1, 0), row("x", "1", 1, 1), row("x", "1", 1, 1), ""},
		{"won from the device beats lost", row("x", "1", 1, 1), row("x", "1", 1, 2), row("x", "1", 1, 1), "statecode"},
		{"a null number loses", map[string]sdk.Value{"probability": sdk.Null()}, map[string]sdk.Value{"probability": sdk.Int(5)}, map[string]sdk.Value{"probability": sdk.Int(5)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := policy.Resolve(sdk.ConflictInput{Entity: opportunity, LocalOp: sdk.OpUpdate, Local: tt.local,
				Remote: &sdk.Record{ID: "1", Version: "9", Values: tt.remote}})
			if err != nil {
				t.Fatal(err)
			}
			for f, v := range tt.want {
				if !res.Values[f].Equal(v) {
					t.Errorf("%s = %v, want %v", f, res.Values[f], v)
				}
			}
			if got := strings.Join(res.Push, ","); got != tt.push {
				t.Errorf("push %q, want %q", got, tt.push)
			}
			if (res.PushOp == sdk.OpUpdate) != (tt.push != "") || res.Decision != sdk.DecisionMerge {
				t.Errorf("decision %s push op %v", res.Decision, res.PushOp)
			}
		})
	}
	if res, _ := policy.Resolve(sdk.ConflictInput{Entity: opportunity, LocalOp: sdk.OpUpdate, Local: row("a", "1", 1, 1)}); res.Decision != sdk.DecisionTakeRemote || !res.Delete {
		t.Errorf("server delete: %+v", res)
	}
	if _, err := policy.Resolve(sdk.ConflictInput{}); err == nil {
		t.Error("no entity accepted")
	}
}
