package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/mock"
)

// shutdownGrace is how long Serve waits for calls in flight once its context
// ends. Their contexts end with it, so the mock stops them at the next
// page; the grace only covers writing their final frames.
const shutdownGrace = 5 * time.Second

// Serve listens on addr (host:port; port 0 picks a free one) and serves
// srv's HTTP API until ctx ends, then shuts down: calls in flight are
// cancelled (a streamed one ends with a retryable ERROR frame) and the
// listener closed. It returns the address it listens on, for tests and for
// `fieldsync emulator mock` to print. It does not own srv.
func Serve(ctx context.Context, addr string, srv *mock.Server, opts Options) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("mock http: listen on %s: %w", addr, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	hs := &http.Server{
		Handler: Handler(srv, opts),
		// Requests inherit ctx, so ending it cancels every call in flight
		// instead of waiting for a long fetch to finish.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("mock http server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close() // grace is over: drop what is left
		}
	}()
	return ln.Addr().String(), nil
}
