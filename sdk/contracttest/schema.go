package contracttest

import (
	"context"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// testSchema: a connector describes itself truthfully.
//
//   - Info has a name and a protocol minor of 0 or more.
//   - Schema passes sdk.Schema.Validate, and the entity under test exists
//     with a primary key (setup already required Push and Incremental).
//   - Entity capabilities agree with each other and with Info, because the
//     core reads both: TracksDeletes needs Incremental, ClientIDs needs Push;
//     an entity with Filter, ClientIDs or Documents needs the connector-wide
//     capability (server-side-filters, client-ids, documents) in Info; and a
//     connector listing documents (write-documents) must implement
//     sdk.Documents (sdk.DocumentWriter).
func testSchema(t *testing.T, f *fixture) {
	if f.info.Name == "" {
		t.Error("Info has no Name")
	}
	if f.info.ProtocolMinor < 0 {
		t.Errorf("Info.ProtocolMinor is %d, want 0 or more", f.info.ProtocolMinor)
	}
	if err := f.schema.Validate(); err != nil {
		t.Errorf("Schema does not validate: %v", err)
	}
	if f.ent.PrimaryKey == "" {
		t.Errorf("entity %q has no primary key", f.ent.Name)
	}
	_, isDocs := f.a.(sdk.Documents)
	if f.info.Has(sdk.CapDocuments) && !isDocs {
		t.Errorf("Info lists %q but the connector does not implement sdk.Documents", sdk.CapDocuments)
	}
	if _, ok := f.a.(sdk.DocumentWriter); f.info.Has(sdk.CapWriteDocuments) && !ok {
		t.Errorf("Info lists %q but the connector does not implement sdk.DocumentWriter", sdk.CapWriteDocuments)
	}
	for i := range f.schema.Entities {
		e := &f.schema.Entities[i]
		c := e.Capabilities
		if c.TracksDeletes && !c.Incremental {
			t.Errorf("entity %q says TracksDeletes but not Incremental: deletes travel in incremental fetches", e.Name)
		}
		if c.ClientIDs && !c.Push {
			t.Errorf("entity %q says ClientIDs but not Push", e.Name)
		}
		needs := []struct {
			has bool
			cap sdk.Capability
			why string
		}{
			{c.Filter, sdk.CapServerSideFilters, "Filter"},
			{c.ClientIDs, sdk.CapClientIDs, "ClientIDs"},
			{c.Documents, sdk.CapDocuments, "Documents"},
		}
		for _, n := range needs {
			if n.has && !f.info.Has(n.cap) {
				t.Errorf("entity %q says %s but Info does not list %q", e.Name, n.why, n.cap)
			}
		}
	}
}

// testClose: Close releases the connector and answers nil; a second Close
// (a host shutting down twice) must not panic, though it may return an
// error.
func testClose(t *testing.T, f *fixture) {
	c := f.connect(t)
	if err := f.call(t, "Info before Close", func(ctx context.Context) error {
		_, err := c.Info(ctx)
		return err
	}); err != nil {
		t.Fatalf("Info: %v", err)
	}
	if err := f.call(t, "Close", c.Close); err != nil {
		t.Errorf("Close: %v", err)
	}
	_ = f.call(t, "second Close", c.Close)
}
