package remote_test

import (
	"context"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
)

// The HTTP API has no document upload: the remote connector (and so the
// WASM mock) does not claim write-documents, though the server behind it
// offers it in-process.
func TestNoWriteDocumentsOverHTTP(t *testing.T) {
	b := newBackend(t, httpapi.Options{}, remote.Options{})
	c := b.Connect(t)
	defer c.Close(context.Background())
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Has(sdk.CapWriteDocuments) {
		t.Errorf("capabilities %v claim %s", info.Capabilities, sdk.CapWriteDocuments)
	}
	if _, ok := sdk.AsDocumentWriter(context.Background(), c); ok {
		t.Error("AsDocumentWriter found a writer")
	}
	if _, ok := sdk.AsDocuments(context.Background(), c); !ok {
		t.Error("the remote connector lost its documents")
	}
}
