package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
	"github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// The Salesforce connector built as a WASM plugin (the same source as the
// subprocess plugin): its HTTP goes through the host's network function,
// allowed to reach the emulator's address and nothing else.
var salesforceModule = &wasmBuild{pkg: "github.com/fieldsync/fieldsync/plugins/salesforce/cmd/fieldsync-salesforce-wasm", file: "salesforce.wasm"}

func openSalesforceWASM(t testing.TB, settings map[string]string, allow string) *wasmhost.Connector {
	t.Helper()
	rule, err := netpolicy.ParseRule(allow)
	if err != nil {
		t.Fatal(err)
	}
	logger := hclog.NewNullLogger()
	pol := &netpolicy.Policy{Plugin: "salesforce", Allow: []netpolicy.Rule{rule}, AllowPrivate: true, Logger: logger}
	c, err := wasmhost.Open(context.Background(), wasmhost.Config{
		Path: salesforceModule.get(t), Settings: settings, Logger: logger, CacheDir: wasmCache(),
		HTTP: wasmhost.NetworkHook(pol), HTTPStream: wasmhost.NetworkStreamHook(pol),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

type sfWASMBackend struct{ o *sfOrg }

func (b *sfWASMBackend) Connect(t *testing.T) sdk.Connector {
	return openSalesforceWASM(t, b.o.settings(), b.o.hs.URL)
}

// AddDocument publishes a file to the record, as a Salesforce user does.
func (b *sfWASMBackend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	b.o.api("POST", "sobjects/ContentVersion", map[string]any{"Title": name, "PathOnClient": name,
		"VersionData": base64.StdEncoding.EncodeToString(content), "FirstPublishLocationId": recordID}, nil)
}

// TestContractWASMSalesforce runs the contract suite against the emulator
// with the connector as a WASM plugin.
func TestContractWASMSalesforce(t *testing.T) {
	contracttest.Run(t, contracttest.Config{
		Entity: "Account",
		NewBackend: func(t *testing.T) contracttest.Backend {
			return &sfWASMBackend{o: newSFOrg(t, emulator.SeedOptions{Accounts: 15, Users: 2, Seed: 7})}
		},
		NewValues: func(i int) map[string]sdk.Value {
			return map[string]sdk.Value{
				"Name":              sdk.String(fmt.Sprintf("Contract account %d", i)),
				"NumberOfEmployees": sdk.Int(int64(i)),
				"BillingCity":       sdk.String(fmt.Sprintf("City %d", i%7)),
			}
		},
	})
}

// TestSalesforceWASMAllowList: the WASM build reaches only what its
// allow-list names. Allowed the emulator, it syncs; allowed another address
// only, its sign-in is refused by the host and the error says so.
func TestSalesforceWASMAllowList(t *testing.T) {
	o := newSFOrg(t, emulator.SeedOptions{Accounts: 3, Users: 1, Seed: 5})
	c := openSalesforceWASM(t, o.settings(), o.hs.URL)
	rows := 0
	if err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "Account"}, func(p *sdk.Page) error { rows += p.Len(); return nil }); err != nil || rows != 3 {
		t.Fatalf("allowed the emulator: %d rows, %v", rows, err)
	}
	// The guest's usage crosses the ABI (the usage method).
	if u, ok := sdk.AsUsageReporter(context.Background(), c); !ok {
		t.Error("the WASM Salesforce connector does not report usage")
	} else if got, err := u.Usage(context.Background()); err != nil || got.Requests == 0 {
		t.Errorf("usage through the ABI: %+v, %v; want the sign-in and reads counted", got, err)
	}
	calls := o.srv.APICalls()
	denied := openSalesforceWASM(t, o.settings(), "http://127.0.0.1:1")
	_, err := denied.Schema(context.Background())
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "allow") {
		t.Fatalf("a request outside the allow-list: %v; want the host's refusal", err)
	}
	if got := o.srv.APICalls(); got != calls {
		t.Errorf("the refused plugin still reached the emulator: %d calls, before %d", got, calls)
	}
}
