package ledger

import (
	"context"
	"slices"
	"sync"
)

// queuedIDs counts the ids of the events in usage jobs queued and not yet
// answered. A call about to make an account for an event waits for the
// jobs that hold its id: an account made while the event sat in another
// job under another account was left behind, empty, once that job stored
// the event and this one turned out a conflict (QA: abacus ingest's
// chunks in flight did it within one file).
type queuedIDs struct {
	mu sync.Mutex
	n  map[string]int
	// changed is closed when a job lets go of its ids, once someone waits
	// (nil until then: the hot path makes no channel for nobody).
	changed chan struct{}
}

func newQueuedIDs() *queuedIDs {
	return &queuedIDs{n: map[string]int{}}
}

func (q *queuedIDs) add(items []usageItem) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range items {
		if items[i].kind == ingestEvent {
			q.n[items[i].event.ID]++
		}
	}
}

func (q *queuedIDs) remove(items []usageItem) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range items {
		if id := items[i].event.ID; items[i].kind == ingestEvent {
			if q.n[id]--; q.n[id] <= 0 {
				delete(q.n, id)
			}
		}
	}
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// wait returns once no queued job holds any of ids, or with ErrClosed as
// the engine closes.
func (q *queuedIDs) wait(ctx context.Context, closing <-chan struct{}, ids []string) error {
	for {
		q.mu.Lock()
		held := slices.ContainsFunc(ids, func(id string) bool { return q.n[id] > 0 })
		if held && q.changed == nil {
			q.changed = make(chan struct{})
		}
		changed := q.changed
		q.mu.Unlock()
		if !held {
			return nil
		}
		select {
		case <-changed:
		case <-closing:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
