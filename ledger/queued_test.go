package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// gatedStore holds every write until its gate is opened.
type gatedStore struct {
	abacus.Store
	gate chan struct{}
}

func (s *gatedStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Write(ctx, fn)
}

// TestNoAccountForAnIDQueuedUnderAnother: an event for a new account whose
// id sits in a batch not yet committed, under another account, makes no
// account: it waits for that batch, and is then a conflict. The account
// had been made first and left behind, empty, fixing the currency and
// floor the platform's own create then conflicted with (QA: abacus
// ingest's chunks in flight did it within one file). Both a call in
// turns, as a file's chunks are, and one that is not.
func TestNoAccountForAnIDQueuedUnderAnother(t *testing.T) {
	for _, inTurn := range []bool{true, false} {
		st := &gatedStore{Store: testdb.SQLite(t), gate: make(chan struct{})}
		e := ledger.New(st, ledger.Config{})
		ctx := context.Background()
		first, second := newAccountID(), newAccountID()
		at := time.Now().Add(-time.Hour)

		queued := make(chan struct{})
		firstDone := make(chan []abacus.IngestResult, 1)
		go func() {
			rs, err := e.IngestAfter(ctx, []abacus.UsageEvent{spaceEvent("shared-id", first, "gpu", 1, at)}, nil, queued)
			if err != nil {
				t.Error(err)
			}
			firstDone <- rs
		}()
		<-queued // its batch waits at the gate
		after := queued
		if !inTurn {
			after = nil
		}
		secondDone := make(chan []abacus.IngestResult, 1)
		go func() {
			rs, err := e.IngestAfter(ctx, []abacus.UsageEvent{spaceEvent("shared-id", second, "gpu", 1, at)}, after, nil)
			if err != nil {
				t.Error(err)
			}
			secondDone <- rs
		}()
		time.Sleep(200 * time.Millisecond) // the second call has prepared, were it not waiting
		if _, err := st.AccountGet(ctx, second); abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
			t.Fatalf("in turn %v: the second account while the first batch waits: %v, want not found", inTurn, err)
		}
		close(st.gate)
		if rs := <-firstDone; rs == nil || rs[0].Status != abacus.IngestAccepted {
			t.Fatalf("in turn %v: the first event: %+v", inTurn, rs)
		}
		rs := <-secondDone
		if rs == nil || rs[0].Status != abacus.IngestRejected || abacus.ErrorCodeOf(rs[0].Err) != abacus.CodeConflict {
			t.Fatalf("in turn %v: the second event: %+v, want a conflict", inTurn, rs)
		}
		if _, err := st.AccountGet(ctx, second); abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
			t.Fatalf("in turn %v: the second account after its event was refused: %v, want not found", inTurn, err)
		}
		e.Close()
	}
}
