package ledger_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// unconfirmed is a store whose nth write commits but reports an error, as
// a connection dropped before the commit's confirmation does.
type unconfirmed struct {
	abacus.Store
	writes, nth atomic.Int64
}

func (u *unconfirmed) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	err := u.Store.Write(ctx, fn)
	if err == nil && u.writes.Add(1) == u.nth.Load() {
		return errors.New("unexpected EOF: the commit was not confirmed")
	}
	return err
}

// TestUnconfirmedCommitAnswersWhatItCharged: a batch of two calls whose
// commit went through unconfirmed is tried again call by call; each finds
// its events stored by that commit and answers them accepted, with what
// they were charged, not as duplicates. An id twice in one call is still
// a duplicate the second time. A call alone in its batch is tried again
// as well.
func TestUnconfirmedCommitAnswersWhatItCharged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		gate := newWriteGate(st)
		lossy := &unconfirmed{Store: gate}
		e := ledger.New(lossy, ledger.Config{Workers: 1, Usage: ledger.UsageConfig{MaxAhead: -1}})
		defer e.Close()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "0.5", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		a, b := newAccountID(), newAccountID()
		calls := [][]abacus.UsageEvent{
			{spaceEvent("first", a, "gpu", 1, t0)},
			{spaceEvent("b-1", b, "gpu", 4, t0)},
			{spaceEvent("a-1", a, "gpu", 2, t0.Add(time.Minute)), spaceEvent("a-cpu", a, "cpu", 3, t0.Add(time.Minute)),
				spaceEvent("a-1", a, "gpu", 2, t0.Add(time.Minute))},
		}
		results := make([][]abacus.IngestResult, len(calls))
		errs := make([]error, len(calls))
		arrived, release := gate.hold()
		var wg sync.WaitGroup
		wg.Go(func() { results[0], errs[0] = e.Ingest(ctx, calls[0]) })
		<-arrived // the first batch holds the worker; the other two queue behind it
		for i := 1; i < len(calls); i++ {
			wg.Go(func() { results[i], errs[i] = e.Ingest(ctx, calls[i]) })
		}
		waitQueued(t, e, 2)
		lossy.nth.Store(2) // the batch of the two calls
		release()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		want := [][]string{{"accepted 0.5"}, {"accepted 2"}, {"accepted 1", "accepted 0 unpriced", "duplicate 0"}}
		for i, rs := range results {
			for j, r := range rs {
				got := string(r.Status) + " " + r.Charged.String()
				if r.Unpriced {
					got += " unpriced"
				}
				if got != want[i][j] {
					t.Errorf("call %d, event %s: %s, want %s (%+v)", i, r.ID, got, want[i][j], r)
				}
			}
		}
		if r := results[2][1]; r.UnpricedReason == "" {
			t.Errorf("the unpriced event says no reason: %+v", r)
		}
		if got := wallet(t, st, a, abacus.BucketCash, "USD").Balance.String(); got != "-1.5" {
			t.Errorf("a's cash %s, want -1.5", got)
		}
		// A call alone in its batch is tried again too, where it had
		// failed, and its rerun found its events duplicates (QA: abacus
		// ingest's counts fell short of what it stored).
		lossy.nth.Store(lossy.writes.Load() + 1)
		res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("alone", a, "gpu", 4, t0.Add(2*time.Minute))})
		if err != nil || res[0].Status != abacus.IngestAccepted || res[0].Charged.String() != "2" {
			t.Fatalf("a call alone whose commit was not confirmed: %+v %v, want accepted, charged 2", res, err)
		}
		mustVerify(t, st)
	})
}
