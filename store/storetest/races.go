package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

func testRaces(t *testing.T, st abacus.Store) {
	RunRaces(t, st, st, func(testing.TB) { time.Sleep(50 * time.Millisecond) })
}

// RunRaces runs, for each unique thing two batches can race for (an
// idempotency key, a reversal, a hold's resolution), two Writes that
// apply it: the first on st1 and, once the first has applied, the second
// on st2. The first calls wait before it commits. The first must commit;
// the second must fail with an error wrapping abacus.ErrRetry and leave
// nothing behind. st1 and st2 are the same store or two handles on one
// database; a store that lets writers run concurrently should make wait
// return only once the second Write is blocked on the first.
func RunRaces(t *testing.T, st1, st2 abacus.Store, wait func(testing.TB)) {
	c, rev := funded(t, st1, 1)
	x := mustPost(t, st1, abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(20)}, leg{c.cash(), -5}, leg{rev.ID, 5})
	h := mustHold(t, st1, abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(10),
		Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(10)}}, CounterWallet: rev.ID, CreatedAt: at(21)})
	var ids []int64
	mustWrite(t, st1, func(tx abacus.WriteTx) error {
		read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{TxIDs: 2})
		ids = read.TxIDs
		return err
	})
	revert := func(id int64) *abacus.Changes {
		return &abacus.Changes{Transactions: []abacus.Transaction{{ID: id, Type: abacus.TxRevert, Reverts: x.ID, CreatedAt: at(30)}}}
	}
	resolve := func(s abacus.HoldStatus) *abacus.Changes {
		r := h
		r.Status, r.ResolvedAt = s, at(31)
		return &abacus.Changes{Resolutions: []abacus.Hold{r}}
	}
	key := func(b byte) *abacus.Changes {
		return &abacus.Changes{Keys: []abacus.IdempotencyRecord{{Key: "race", Hash: []byte{b}, CreatedAt: at(32)}}}
	}
	races := []struct {
		name   string
		c1, c2 *abacus.Changes
		check  func(t *testing.T)
	}{
		{"key", key(1), key(2), func(t *testing.T) {
			same(t, "the key", keysOf(t, st1, "race"), key(1).Keys)
		}},
		{"reversal", revert(ids[0]), revert(ids[1]), func(t *testing.T) {
			got := mustTransactions(t, st1, ids...)
			if len(got) != 1 || got[0].ID != ids[0] {
				t.Fatalf("transactions %+v, want only the first reversal, %d", got, ids[0])
			}
		}},
		{"hold resolution", resolve(abacus.HoldVoided), resolve(abacus.HoldExpired), func(t *testing.T) {
			same(t, "the hold", mustHoldGet(t, st1, h.ID), resolve(abacus.HoldVoided).Resolutions[0])
		}},
	}
	for _, r := range races {
		t.Run(r.name, func(t *testing.T) {
			err1, err2 := RaceApply(t, st1, st2, r.c1, r.c2, func() { wait(t) })
			if err1 != nil {
				t.Fatalf("first Write: %v", err1)
			}
			if !errors.Is(err2, abacus.ErrRetry) {
				t.Fatalf("second Write: %v, want an error wrapping ErrRetry", err2)
			}
			r.check(t)
		})
	}
}

// RaceApply runs two Writes that apply c1 and c2: the first on st1 and,
// once it has applied c1, the second on st2. The first calls wait before
// it commits. RaceApply returns both Writes' errors.
func RaceApply(t testing.TB, st1, st2 abacus.Store, c1, c2 *abacus.Changes, wait func()) (err1, err2 error) {
	ctx := t.Context()
	applied := make(chan struct{})
	var once sync.Once
	start := func() { once.Do(func() { close(applied) }) }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-applied
		err2 = st2.Write(ctx, func(tx abacus.WriteTx) error { return tx.Apply(ctx, c2) })
	}()
	err1 = st1.Write(ctx, func(tx abacus.WriteTx) error {
		if err := tx.Apply(ctx, c1); err != nil {
			return err
		}
		start()
		wait()
		return nil
	})
	start()
	wg.Wait()
	return err1, err2
}
