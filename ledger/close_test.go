package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// hungStore is a store whose writes, once hung, wait until their context
// ends: a database that does not answer.
type hungStore struct {
	abacus.Store
	hung atomic.Bool
}

func (s *hungStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	if s.hung.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.Write(ctx, fn)
}

// TestCloseDropsBatchesNobodyWaitsFor: closing, the engine does not wait
// on a database that does not answer for batches whose callers have all
// gone; each had taken its minute, one after the other (QA: shutdown took
// 118 s for two batches the NATS consumer had handed back).
func TestCloseDropsBatchesNobodyWaitsFor(t *testing.T) {
	t.Parallel()
	st := &hungStore{Store: testdb.SQLite(t)}
	e := ledger.New(st, ledger.Config{})
	st.hung.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	acct := newAccountID()
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent(fmt.Sprint("hung-", i), acct, "gpu", 1, time.Now())})
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // one batch waits on the database, the others behind it
	cancel()
	for range 3 {
		if err := <-errs; err == nil {
			t.Fatal("an ingest answered with the database hung")
		}
	}
	start := time.Now()
	e.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v for batches nobody waits for", took)
	}
}
