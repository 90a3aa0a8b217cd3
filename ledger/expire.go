package ledger

import (
	"context"
	"sync"
	"time"

	"github.com/abacus-billing/abacus"
)

// ExpireDue releases every open hold whose expiry has passed and returns
// how many it released. It is safe to run in any number of processes at
// once: a hold leaves open exactly once, and the losers of a race get
// hold_not_open, which is not an error here.
func (e *Engine) ExpireDue(ctx context.Context) (int, error) {
	released := 0
	for {
		ids, err := e.store.HoldsDue(ctx, e.cfg.Now(), 1000)
		if err != nil || len(ids) == 0 {
			return released, err
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			firstErr error
			n        int
		)
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.submit(ctx, "", &abacus.HoldExpire{HoldID: id})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					n++
				case abacus.ErrorCodeOf(err) == abacus.CodeHoldNotOpen:
				case firstErr == nil:
					firstErr = err
				}
			}()
		}
		wg.Wait()
		released += n
		if firstErr != nil {
			return released, firstErr
		}
		if len(ids) < 1000 {
			return released, nil
		}
	}
}

// ExpireLoop runs ExpireDue every interval until ctx ends.
func (e *Engine) ExpireLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := e.ExpireDue(ctx); err != nil {
				if ctx.Err() == nil {
					e.cfg.Logger.Error("expiring holds", "err", err)
				}
			} else if n > 0 {
				e.cfg.Logger.Info("expired holds", "count", n)
			}
		}
	}
}
