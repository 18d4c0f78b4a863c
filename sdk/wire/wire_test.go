package wire

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// roundTrip encodes m and decodes it into a fresh message, as a transport
// does.
func roundTrip[M proto.Message](t *testing.T, m M, fresh M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(b, fresh); err != nil {
		t.Fatal(err)
	}
	return fresh
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		is   error
		want time.Duration
	}{
		{"retryable", &sdk.Error{Kind: sdk.Retryable, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, sdk.ErrRetryable, 1500 * time.Millisecond},
		{"retry after capped", &sdk.Error{Kind: sdk.Retryable, Message: "later", RetryAfter: 48 * time.Hour}, sdk.ErrRetryable, time.Hour},
		{"token expired", sdk.Errorf(sdk.TokenExpired, "old"), sdk.ErrTokenExpired, 0},
		{"unsupported", sdk.Errorf(sdk.Unsupported, "no"), sdk.ErrUnsupported, 0},
		{"no kind is permanent", errors.New("bug"), sdk.ErrPermanent, 0},
		{"canceled", context.Canceled, context.Canceled, 0},
		{"wrapped deadline", sdk.Errorf(sdk.Retryable, "slow: %w", context.DeadlineExceeded), context.DeadlineExceeded, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorFromPB(roundTrip(t, ErrorToPB(tt.err), &pb.ErrorDetail{}))
			if !errors.Is(got, tt.is) || got.Error() == "" {
				t.Fatalf("%v came back as %v", tt.err, got)
			}
			var se *sdk.Error
			if errors.As(got, &se) && se.RetryAfter != tt.want {
				t.Errorf("retry after %v, want %v", se.RetryAfter, tt.want)
			}
		})
	}
	if ErrorToPB(nil) != nil || ErrorFromPB(nil) != nil {
		t.Error("nil does not stay nil")
	}
	if k := ErrorKind("from-the-future"); k != sdk.Permanent {
		t.Errorf("unknown kind maps to %s", k)
	}
}

func TestConflictRoundTrip(t *testing.T) {
	ent := &sdk.Entity{Name: "e", PrimaryKey: "id", Fields: []sdk.Field{{Name: "a", Type: sdk.TypeInt}, {Name: "b", Type: sdk.TypeString, ReadOnly: true}}}
	when := time.UnixMicro(1_700_000_000_123_456).UTC()
	tests := []sdk.ConflictInput{
		{Entity: ent, LocalOp: sdk.OpUpdate, Base: map[string]sdk.Value{"a": sdk.Int(1)}, Local: map[string]sdk.Value{"a": sdk.Int(2), "b": sdk.Null()},
			Changed: []string{"a"}, Remote: &sdk.Record{ID: "r", Version: "3", Values: map[string]sdk.Value{"a": sdk.Int(3)}}, LocalModified: when, RemoteModified: when.Add(time.Second)},
		{Entity: ent, LocalOp: sdk.OpCreate, Local: map[string]sdk.Value{}}, // known but empty, unknown base, server deleted
		{Entity: ent, LocalOp: sdk.OpDelete, Base: map[string]sdk.Value{}},
	}
	for i, in := range tests {
		got := ConflictInputFromPB(roundTrip(t, ConflictInputToPB(in), &pb.ConflictInput{}))
		if !reflect.DeepEqual(got, in) {
			t.Errorf("input %d:\n got %+v\nwant %+v", i, got, in)
		}
	}
	resolutions := []sdk.ConflictResolution{
		{Decision: sdk.DecisionMerge, Values: map[string]sdk.Value{"a": sdk.Int(2)}, PushOp: sdk.OpUpdate, Push: []string{"a"}, Reason: "merged"},
		{Decision: sdk.DecisionTakeRemote, Values: map[string]sdk.Value{}, Reason: "empty but kept"},
		{Decision: sdk.DecisionTakeRemote, Delete: true},
		{Decision: sdk.DecisionManual},
	}
	for i, r := range resolutions {
		got, err := ConflictResolutionFromPB(roundTrip(t, ConflictResolutionToPB(r), &pb.ConflictResolution{}))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("resolution %d: got %+v, %v; want %+v", i, got, err, r)
		}
	}
	for _, bad := range []*pb.ConflictResolution{{Decision: "coin-flip"}, {Decision: "merge", PushOp: 9}} {
		if _, err := ConflictResolutionFromPB(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestDocumentsRoundTrip(t *testing.T) {
	p := &sdk.DocumentPage{Cursor: []byte("c"), Documents: []sdk.Document{
		{ID: "d", Entity: "e", RecordID: "r", Name: "n", MimeType: "m", Size: 5, Modified: time.UnixMicro(1_700_000_000_000_000).UTC(), Version: "v"},
		{ID: "no-date"},
	}}
	if got := DocumentPageFromPB(roundTrip(t, DocumentPageToPB(p), &pb.DocumentPage{})); !reflect.DeepEqual(got, p) {
		t.Errorf("got %+v\nwant %+v", got, p)
	}
	q := sdk.DocumentQuery{Entity: "e", RecordIDs: []string{"a", "b"}, Cursor: []byte("c"), PageSize: 7}
	if got := DocumentQueryFromPB(roundTrip(t, DocumentQueryToPB(q), &pb.DocumentQuery{})); !reflect.DeepEqual(got, q) {
		t.Errorf("got %+v\nwant %+v", got, q)
	}
	info := sdk.Info{Name: "x", Version: "1", ProtocolMinor: 2, Capabilities: []sdk.Capability{sdk.CapDocuments}}
	if got := InfoFromPB(roundTrip(t, InfoToPB(info), &pb.InfoResponse{})); !reflect.DeepEqual(got, info) {
		t.Errorf("got %+v\nwant %+v", got, info)
	}
}

// FuzzConflictResolution: a policy plugin's answer is outside input to the
// host: any bytes decode to a resolution or an error, never a panic.
func FuzzConflictResolution(f *testing.F) {
	seed, _ := proto.Marshal(ConflictResolutionToPB(sdk.ConflictResolution{Decision: sdk.DecisionMerge, Values: map[string]sdk.Value{"a": sdk.Bytes([]byte{1})}, PushOp: sdk.OpUpdate, Push: []string{"a"}}))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg pb.ConflictResolution
		if proto.Unmarshal(data, &msg) != nil {
			return
		}
		r, err := ConflictResolutionFromPB(&msg)
		if err == nil && r.Values == nil && !r.Delete && r.Decision != sdk.DecisionManual {
			t.Fatalf("a %s resolution without values", r.Decision)
		}
	})
}
