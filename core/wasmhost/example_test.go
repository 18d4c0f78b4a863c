package wasmhost_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// Open a connector module with limits, a compilation cache and a network
// hook; the result is an sdk.Connector like any other.
func ExampleOpen() {
	ctx := context.Background()
	c, err := wasmhost.Open(ctx, wasmhost.Config{
		Path:             "plugins/acme.wasm",
		Settings:         map[string]string{"url": "https://api.acme.example"},
		CacheDir:         wasmhost.DefaultCacheDir(),
		MemoryLimitPages: 2048, // 128 MiB
		CallTimeout:      30 * time.Second,
		PoolSize:         4, // up to four entities fetched at once
		HTTP: func(ctx context.Context, req *pb.HttpRequest) *pb.HttpResponse {
			// A real host checks req against the plugin's allow-list
			// (core/wasmhost/netpolicy) and makes it.
			return &pb.HttpResponse{Error: "no network in this example"}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)
	err = c.Fetch(ctx, sdk.FetchRequest{Entity: "account"}, func(p *sdk.Page) error {
		fmt.Println(p.Len(), "rows")
		return nil
	})
	fmt.Println(err)
}

// A policy module registers like a built-in policy; configuration then
// names it per entity.
func ExampleOpenPolicy() {
	ctx := context.Background()
	pol, err := wasmhost.OpenPolicy(ctx, wasmhost.Config{Path: "policies/numbers-max.wasm", CacheDir: wasmhost.DefaultCacheDir()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pol.Close(ctx)
	if err := conflict.Register(pol); err != nil {
		fmt.Println(err)
	}
}
