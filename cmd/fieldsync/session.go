package main

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/fieldsync/fieldsync/core/config"
	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/core/pluginhost"
	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

// loadConfig reads the config file at path, with errors a user can act on.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	switch {
	case err == nil:
		return cfg, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, failQuiet(err, "there is no config file at %s; write one with `%s init` or name one with --config", path, commandPrefix())
	}
	var cfgErr *config.Error
	if errors.As(err, &cfgErr) {
		return nil, err // its first problem names file:line,column
	}
	return nil, fail(err, "cannot read the config file %s", path)
}

// openStore opens the device database the config names. Commands that only
// read it (status, conflicts, log) ask for an existing one: they must not
// leave an empty database behind a typo.
func openStore(ctx context.Context, cfg *config.Config, mustExist bool) (*store.Store, error) {
	if mustExist {
		if _, err := os.Stat(cfg.Store); errors.Is(err, fs.ErrNotExist) {
			return nil, failQuiet(err, "the store %s does not exist yet; run `%s --config %s sync` first",
				cfg.Store, commandPrefix(), configPath)
		}
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return nil, fail(err, "cannot open the store %s", cfg.Store)
	}
	return st, nil
}

// openConnector loads the config's backend connector through the plugin
// host: a built-in one in this process, or a subprocess plugin. Settings are
// passed on and never logged (they may hold secrets).
func openConnector(ctx context.Context, cfg *config.Config) (sdk.Connector, error) {
	be := cfg.Backend
	logger().Debug("opening connector", "name", be.Name, "plugin", be.Plugin, "command", be.Command)
	spec := pluginhost.Spec{
		Name:      be.Name,
		Transport: pluginhost.Transport(be.Plugin),
		Command:   be.Command,
		Args:      be.Args,
		Settings:  be.Settings,
	}
	if be.Plugin == config.PluginWASM && be.WASM != nil {
		w, err := wasmConfig(be.Name, be.WASM)
		if err != nil {
			return nil, fail(err, "the wasm connector %q has a bad network policy", be.Name)
		}
		spec.Command, spec.WASM = be.WASM.Module, w
	}
	conn, err := pluginhost.Default.Open(ctx, spec, logger())
	if err != nil {
		how := "built-in"
		switch be.Plugin {
		case config.PluginSubprocess:
			how = "subprocess"
		case config.PluginWASM:
			how = "wasm"
		}
		return nil, fail(err, "cannot start the %s connector %q", how, be.Name)
	}
	return conn, nil
}

// device is one configured device, ready to sync: its config, store and
// connector. Close releases them (and stops a subprocess plugin).
type device struct {
	cfg   *config.Config
	store *store.Store
	conn  sdk.Connector
	// policies holds the built-in conflict policies and the config's WASM
	// ones; closePolicies releases the latter.
	policies      *conflict.Registry
	closePolicies func()
}

// openDevice loads the config at path and opens its store and connector.
func openDevice(ctx context.Context, path string) (*device, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	conn, err := openConnector(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	reg, closePolicies, err := openPolicies(ctx, cfg)
	if err != nil {
		conn.Close(context.Background())
		st.Close()
		return nil, err
	}
	return &device{cfg: cfg, store: st, conn: conn, policies: reg, closePolicies: closePolicies}, nil
}

// Close stops the connector and closes the store. The connector gets a
// context of its own: a cancelled sync must still stop its plugin cleanly.
func (d *device) Close() {
	if d.closePolicies != nil {
		d.closePolicies()
	}
	if err := d.conn.Close(context.Background()); err != nil {
		logger().Warn("closing the connector failed", "error", err)
	}
	if err := d.store.Close(); err != nil {
		logger().Warn("closing the store failed", "error", err)
	}
}

// engine builds the sync engine of the device, reporting progress to
// onEvent (which may be nil).
func (d *device) engine(onEvent func(engine.Event)) (*engine.Engine, error) {
	cfg := d.cfg
	var ents []engine.EntityConfig
	for _, e := range cfg.Entities {
		ents = append(ents, engine.EntityConfig{
			Name: e.Name, Fields: e.Fields, Conflict: e.Conflict, Order: e.Order, ModifiedField: e.ModifiedField,
			Filter: e.Filter, SyncMode: e.SyncMode, RelatedOnly: e.RelatedOnly, OnlineOnly: e.OnlineOnly,
		})
	}
	eng, err := engine.New(engine.Options{
		Store:           d.store,
		Connector:       d.conn,
		Logger:          logger(),
		Entities:        ents,
		DownloadThreads: cfg.Sync.DownloadThreads,
		PageSize:        cfg.Sync.PageSize,
		UploadBatch:     cfg.Sync.UploadBatch,
		// The config counts retries (failures tolerated), the engine
		// attempts: retries = 0 means one attempt.
		Retries:      cfg.Sync.Retries + 1,
		RetryBackoff: cfg.Sync.RetryBackoff,
		User:         cfg.User,
		Device:       cfg.Device,
		AppVersion:   cfg.AppVersion,
		OnEvent:      onEvent,
		Policies:     d.policies,
		Documents:    documentOptions(cfg),
	})
	if err != nil {
		return nil, fail(err, "the configuration %s cannot drive a sync", cfg.Path)
	}
	return eng, nil
}

// openStoreOnly loads the config and opens its existing store, for the
// commands that work offline.
func openStoreOnly(ctx context.Context) (*config.Config, *store.Store, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, true)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}
