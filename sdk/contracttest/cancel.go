package contracttest

import (
	"context"
	"errors"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// maxPagesAfterCancel is how many pages a fetch may still deliver once its
// context is cancelled: a transport may have a page or two in flight.
const maxPagesAfterCancel = 2

// errStop is what the suite's callback returns to stop a fetch.
var errStop = errors.New("contracttest: the callback stops the fetch")

// testCancellation: a fetch stops when its caller says so.
//
//   - MidFetch: the context is cancelled inside the callback of the first
//     page of a many-page fetch, and the callback goes on returning nil, so
//     only the connector's own check can stop it. Fetch must return within
//     a few seconds with an error for which errors.Is(err,
//     context.Canceled) holds (a transport must map its own cancellation
//     status back to it) and deliver at most two more pages.
//   - PreCancelled: a fetch on an already cancelled context fails the same
//     way without delivering a page.
//   - CallbackError: when the callback returns an error, Fetch delivers no
//     further page and returns that error (errors.Is holds).
func testCancellation(t *testing.T, f *fixture) {
	f.create(t, f.a, 60)
	req := sdk.FetchRequest{Entity: f.ent.Name, PageSize: 5}

	t.Run("MidFetch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), f.cfg.Timeout)
		defer cancel()
		var pages, after int
		err := guard(t, ctx, describe(req)+" cancelled after its first page", func(ctx context.Context) error {
			return f.a.Fetch(ctx, req, func(p *sdk.Page) error {
				if pages++; pages == 1 {
					cancel()
				} else {
					after++
				}
				return nil
			})
		})
		switch {
		case pages == 0:
			t.Fatalf("%s delivered no page (error %v)", describe(req), err)
		case err == nil:
			t.Errorf("%s returned nil after its context was cancelled in the first page's callback (%d pages after it); it must stop and return the context's error", describe(req), after)
		case !errors.Is(err, context.Canceled):
			t.Errorf("%s, cancelled: error %q does not satisfy errors.Is(err, context.Canceled)", describe(req), err)
		}
		if after > maxPagesAfterCancel {
			t.Errorf("%s delivered %d pages after its context was cancelled; at most %d may be in flight", describe(req), after, maxPagesAfterCancel)
		}
	})

	t.Run("PreCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		pages := 0
		err := guard(t, ctx, describe(req)+" on a cancelled context", func(ctx context.Context) error {
			return f.a.Fetch(ctx, req, func(*sdk.Page) error { pages++; return nil })
		})
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("%s on a cancelled context: error %v, want one satisfying errors.Is(err, context.Canceled)", describe(req), err)
		}
		if pages > 0 {
			t.Errorf("%s on a cancelled context delivered %d pages, want none", describe(req), pages)
		}
	})

	t.Run("CallbackError", func(t *testing.T) {
		pages := 0
		err := f.call(t, describe(req)+" stopped by its callback", func(ctx context.Context) error {
			return f.a.Fetch(ctx, req, func(*sdk.Page) error { pages++; return errStop })
		})
		if !errors.Is(err, errStop) {
			t.Errorf("%s whose callback returned %q: error %v, want the callback's error", describe(req), errStop, err)
		}
		if pages > 1 {
			t.Errorf("%s delivered %d pages after its callback returned an error, want none", describe(req), pages-1)
		}
	})
}
