package subprocess

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// What a plugin sends is outside input to the host. These targets feed
// arbitrary bytes through the same decoding the client does and require an
// error or a page (schema, push answer) that can be read without panicking.

func FuzzPageFromPlugin(f *testing.F) {
	b := sdk.NewPageBuilder([]string{"s", "i", "f", "b", "x"}, []sdk.FieldType{sdk.TypeString, sdk.TypeInt, sdk.TypeFloat, sdk.TypeBool, sdk.TypeBinary})
	b.Add("a", "1", sdk.String("x"), sdk.Int(2), sdk.Float(3), sdk.Bool(true), sdk.Bytes([]byte{4}))
	b.Add("b", "2")
	b.Delete("c")
	p := b.Page()
	p.Last, p.Token = true, []byte("t")
	seed, _ := proto.Marshal(wire.PageToPB(p))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg pb.Page
		if proto.Unmarshal(data, &msg) != nil {
			return
		}
		page, err := wire.PageFromPB(&msg)
		if err != nil {
			return
		}
		// A page that passed the shape check must be readable in full
		// with the kinds its columns actually use.
		kinds := make([]sdk.Kind, len(page.Columns))
		for j, c := range page.Columns {
			switch {
			case len(c.Strings) > 0:
				kinds[j] = sdk.KindString
			case len(c.Ints) > 0:
				kinds[j] = sdk.KindInt
			case len(c.Floats) > 0:
				kinds[j] = sdk.KindFloat
			case len(c.Bools) > 0:
				kinds[j] = sdk.KindBool
			default:
				kinds[j] = sdk.KindBytes
			}
		}
		if err := page.Validate(kinds); err != nil {
			return // empty columns of another kind: the engine's schema check refuses it
		}
		for i := 0; i < page.Len(); i++ {
			page.Row(kinds, i)
		}
	})
}

func FuzzSchemaFromPlugin(f *testing.F) {
	seed, _ := proto.Marshal(wire.SchemaToPB(fakeSchema))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg pb.SchemaResponse
		if proto.Unmarshal(data, &msg) != nil {
			return
		}
		s, err := wire.SchemaFromPB(&msg)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("schemaFromPB accepted an invalid schema: %v", err)
		}
	})
}

func FuzzPushAnswerFromPlugin(f *testing.F) {
	seed, _ := proto.Marshal(wire.PushResultToPB(&sdk.PushResponse{Results: []sdk.ChangeResult{
		{ChangeID: "a", Status: sdk.StatusApplied, ID: "1", Version: "2"},
		{ChangeID: "b", Status: sdk.StatusConflict, Current: &sdk.Record{ID: "1", Values: map[string]sdk.Value{"x": sdk.Int(1)}}},
		{ChangeID: "c", Status: sdk.StatusFailed, Err: sdk.Errorf(sdk.Retryable, "later")},
	}}))
	f.Add(seed, 3)
	f.Fuzz(func(t *testing.T, data []byte, want int) {
		var msg pb.PushResponse
		if proto.Unmarshal(data, &msg) != nil {
			return
		}
		res, err := wire.PushResultFromPB(&msg, want)
		if err != nil {
			return
		}
		for _, r := range res.Results {
			if r.Status == sdk.StatusFailed && r.Err == nil {
				t.Fatal("failed result without an error")
			}
		}
	})
}

func FuzzFetchRequestFromHost(f *testing.F) {
	seed, _ := proto.Marshal(wire.FetchToPB(sdk.FetchRequest{Entity: "e", Filter: sdk.And(sdk.Cmp("a", sdk.OpEq, sdk.Int(1)), sdk.Not(sdk.Cmp("b", sdk.OpIsNull)))}))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg pb.FetchRequest
		if proto.Unmarshal(data, &msg) != nil {
			return
		}
		req, err := wire.FetchFromPB(&msg)
		if err != nil {
			return
		}
		req.Filter.Validate(fakeSchema.Entity("thing")) // must not panic
	})
}
