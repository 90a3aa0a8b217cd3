package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestSameBatch makes racing requests meet inside one batch, where the
// engine's own bookkeeping, not the database, must keep them apart: it
// queues them while the database refuses writes, then lets the batch go.
// Three reverts of one transaction, posts and voids of one hold, charges
// of which only one fits, and top-ups under one key behind a refused
// request under the same key: one of each succeeds.
func TestSameBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := ledger.New(st, ledger.Config{Workers: 1, MaxBatch: 1000})
		defer e.Close()
		ctx := context.Background()
		acct := createAccount(t, st, abacus.Overdraft{})
		prefix := newKeyPrefix()
		submit(t, e, prefix+"-fund", &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 100)})
		charge := submit(t, e, prefix+"-charge", &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 10)}).Tx
		hold := submit(t, e, prefix+"-hold", &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: units(t, 20)}).Hold

		const n = 20 // racers of each kind
		kinds := []struct {
			name  string
			op    func(i int) abacus.Op
			key   func(i int) string
			loser []abacus.ErrorCode
		}{
			{"revert", func(int) abacus.Op { return &abacus.Revert{TxID: charge.ID} }, nil, []abacus.ErrorCode{abacus.CodeAlreadyReverted}},
			{"resolve hold", func(i int) abacus.Op {
				if i%2 == 1 {
					return &abacus.HoldVoid{HoldID: hold.ID}
				}
				a := abacus.AmountFromMicros(int64(i + 1))
				return &abacus.HoldPost{HoldID: hold.ID, Amount: &a}
			}, nil, []abacus.ErrorCode{abacus.CodeHoldNotOpen}},
			// 70 to 100 is available, whatever comes first; 60 fits once.
			{"charge", func(int) abacus.Op {
				return &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 60)}
			}, nil, []abacus.ErrorCode{abacus.CodeInsufficientFunds}},
			// The first request under the key is refused, so the key stays
			// free for the first top-up behind it.
			{"key after refusal", func(i int) abacus.Op {
				if i == 0 {
					return &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 1_000_000)}
				}
				return &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(int64(i))}
			}, func(int) string { return prefix + "-shared" }, []abacus.ErrorCode{abacus.CodeInsufficientFunds, abacus.CodeIdempotencyConflict}},
		}
		errs := make([][]error, len(kinds))
		batches, _, _ := e.Stats()
		release := blockWrites(t, st)
		// The engine's worker takes this and waits for the database; the
		// racers queue up behind it and all go into the next batch.
		blocked := make(chan error, 1)
		go func() {
			_, err := e.Submit(ctx, prefix+"-blocked", &abacus.Move{Type: abacus.TxGrant, Account: acct, Currency: "USD", Amount: units(t, 1)})
			blocked <- err
		}()
		time.Sleep(50 * time.Millisecond) // let the worker take it alone
		var wg sync.WaitGroup
		launch := func(k, i int) {
			key := fmt.Sprintf("%s-%d-%d", prefix, k, i)
			if kinds[k].key != nil {
				key = kinds[k].key(i)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[k][i] = e.Submit(ctx, key, kinds[k].op(i))
			}()
		}
		for k := range kinds {
			errs[k] = make([]error, n)
			launch(k, 0)
		}
		time.Sleep(50 * time.Millisecond) // the first of each kind queues first
		for k := range kinds {
			for i := 1; i < n; i++ {
				launch(k, i)
			}
		}
		time.Sleep(200 * time.Millisecond) // and the others behind them
		release()
		wg.Wait()
		if err := <-blocked; err != nil {
			t.Fatal(err)
		}
		if after, _, _ := e.Stats(); after-batches != 2 {
			t.Logf("the requests took %d batches, not 2: the test was weaker than meant", after-batches)
		}
		for k, kind := range kinds {
			won := 0
			for i, err := range errs[k] {
				if err == nil {
					won++
				} else if code := abacus.ErrorCodeOf(err); !slices.Contains(kind.loser, code) {
					t.Errorf("%s %d: want success or %v, got %v", kind.name, i, kind.loser, err)
				}
			}
			if won != 1 {
				t.Errorf("%s: %d racers succeeded; exactly one must", kind.name, won)
			}
		}
		mustVerify(t, st)
	})
}
