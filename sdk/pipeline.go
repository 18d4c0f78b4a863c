package sdk

import "context"

// pipelineDepth is how many pages may wait between a producer and its
// consumer; with pages of at most MaxPageSize rows, memory stays bounded.
const pipelineDepth = 2

// Pipeline runs produce and consume on two goroutines joined by a short
// queue of pages, so one page is produced (read from a server, received
// from a plugin) while the previous one is consumed (sent to the host,
// written to the store), on two cores instead of one. The page belongs to
// the consumer once queued (the contract says a connector must not touch a
// page after handing it over). The first error wins; an error on either side
// cancels the other, and no page is consumed after ctx is cancelled.
func Pipeline(ctx context.Context, produce func(context.Context, FetchFunc) error, consume FetchFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *Page, pipelineDepth)
	consumed := make(chan error, 1)
	go func() {
		var err error
		for p := range queue {
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			if err == nil {
				if err = consume(p); err != nil {
					cancel() // stop the producer; keep draining so it never blocks
				}
			}
		}
		consumed <- err
	}()
	err := produce(ctx, func(p *Page) error {
		select {
		case queue <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(queue)
	if cerr := <-consumed; cerr != nil {
		return cerr
	}
	return err
}
