package subprocess

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// A plugin that does not advertise write-documents is never asked: the
// client answers Unsupported itself. (The mock's tests stream documents
// both ways through a real plugin process.)
func TestWriteDocumentNeedsTheCapability(t *testing.T) {
	c, _ := openFake(t, nil)
	if _, ok := sdk.AsDocumentWriter(context.Background(), c); ok {
		t.Fatal("AsDocumentWriter found a writer the plugin does not offer")
	}
	_, err := c.WriteDocument(context.Background(), sdk.Document{Entity: "thing", RecordID: "1", Name: "a", Size: 1}, strings.NewReader("a"))
	if !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("WriteDocument: %v, want unsupported", err)
	}
}
