package ledger_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

const stormers = 100

// TestDuplicateKeyStorm sends one request under one key from 100
// goroutines at once: exactly one effect, and 99 replays of it.
func TestDuplicateKeyStorm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		sameKeyStorm(t, st, engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, st))
	})
}

// TestDuplicateKeyStormTwoEngines sends the storm through two engines on
// one PostgreSQL schema.
func TestDuplicateKeyStormTwoEngines(t *testing.T) {
	a, b := twoPostgres(t)
	es := engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, a, b)
	sameKeyStorm(t, a, es)
	sameKeyDifferentRequests(t, a, es)
	rejectedThenAccepted(t, a, es)
	// One request under one key locks the same rows in both processes,
	// so the second reads the first's key under those locks and replays.
	// Different requests under one key lock different rows: the loser
	// finds the key taken when it inserts it (ErrRetry), and its retry
	// answers idempotency_conflict, as sameKeyDifferentRequests checks.
	for i, e := range es {
		_, _, retries := e.Stats()
		t.Logf("engine %d retried %d batches after losing a race", i, retries)
	}
}

// TestConflictingKeyStorm sends different requests under one key at once:
// one is applied, every other gets idempotency_conflict and has no effect.
func TestConflictingKeyStorm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		es := engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, st)
		sameKeyDifferentRequests(t, st, es)
		rejectedThenAccepted(t, st, es)
	})
}

func sameKeyStorm(t *testing.T, st abacus.Store, es []*ledger.Engine) {
	acct := createAccount(t, st, abacus.Overdraft{})
	prefix := newKeyPrefix()
	submit(t, es[0], prefix+"-fund", &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 100)})
	// Each racer has its own copy of the request: Validate may rewrite
	// an operation in place (defaults, canonical ids).
	for j, op := range []func() abacus.Op{
		func() abacus.Op {
			return &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 7)}
		},
		func() abacus.Op { return &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: units(t, 5)} },
	} {
		key := fmt.Sprintf("%s-%d", prefix, j)
		results := make([]abacus.Result, stormers)
		errs := make([]error, stormers)
		together(stormers, func(i int) {
			results[i], errs[i] = es[i%len(es)].Submit(context.Background(), key, op())
		})
		var first *abacus.Result
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("%s %d: %v", key, i, errs[i])
			}
			if !results[i].Replayed {
				if first != nil {
					t.Fatalf("%s: applied twice", key)
				}
				first = &results[i]
			}
		}
		if first == nil {
			t.Fatalf("%s: every answer is a replay; nothing was applied first", key)
		}
		for i, r := range results {
			if (r.Tx == nil) != (first.Tx == nil) || (r.Tx != nil && r.Tx.ID != first.Tx.ID) ||
				(r.Hold == nil) != (first.Hold == nil) || (r.Hold != nil && r.Hold.ID != first.Hold.ID) {
				t.Fatalf("%s %d: answered %+v, the first answer was %+v", key, i, r, *first)
			}
		}
	}
	w := wallet(t, st, acct, abacus.BucketCash, "USD")
	if w.Balance != units(t, 93) || w.Held != units(t, 5) || w.Version != 2 {
		t.Fatalf("want balance 93 with 5 held after two postings, got %+v", w)
	}
	mustVerify(t, st)
}

// sameKeyDifferentRequests moves money inside two accounts, from cash to
// bonus, each racer a different amount, all under one key. The moves touch
// no system wallet, so through two engines the two accounts' racers lock
// nothing in common and meet only at the key.
func sameKeyDifferentRequests(t *testing.T, st abacus.Store, es []*ledger.Engine) {
	accts := []abacus.AccountID{createAccount(t, st, abacus.Overdraft{}), createAccount(t, st, abacus.Overdraft{})}
	key := newKeyPrefix()
	for _, a := range accts {
		submit(t, es[0], key+"-fund-"+string(a), &abacus.Move{Type: abacus.TxTopup, Account: a, Currency: "USD", Amount: units(t, 1)})
	}
	var who []int
	errs := make([]error, stormers)
	results := make([]abacus.Result, stormers)
	together(stormers, func(i int) {
		a, x := accts[i%2], abacus.AmountFromMicros(int64(i+1))
		negx, _ := x.Neg()
		op := &abacus.Transfer{Postings: []abacus.PostingSpec{
			{Account: a, Bucket: abacus.BucketCash, Currency: "USD", Amount: negx},
			{Account: a, Bucket: abacus.BucketBonus, Currency: "USD", Amount: x},
		}}
		results[i], errs[i] = es[i%len(es)].Submit(context.Background(), key, op)
	})
	for i, err := range errs {
		switch {
		case err == nil && !results[i].Replayed:
			who = append(who, i)
		case abacus.ErrorCodeOf(err) != abacus.CodeIdempotencyConflict:
			t.Errorf("racer %d: want one success and conflicts, got %+v, %v", i, results[i], err)
		}
	}
	if len(who) != 1 {
		t.Fatalf("%d requests were applied under one key", len(who))
	}
	for j, a := range accts {
		want := abacus.Zero
		if who[0]%2 == j {
			want = abacus.AmountFromMicros(int64(who[0] + 1))
		}
		if w := wallet(t, st, a, abacus.BucketBonus, "USD"); w.Balance != want {
			t.Fatalf("account %d: want %s moved to bonus, got %+v", j, want, w)
		}
	}
	mustVerify(t, st)
}

// rejectedThenAccepted races, under one key, charges that must be refused
// with top-ups that may be applied. A refused request leaves its key
// unused, so whichever top-up comes first is applied, in any order.
func rejectedThenAccepted(t *testing.T, st abacus.Store, es []*ledger.Engine) {
	acct := createAccount(t, st, abacus.Overdraft{})
	for round := range 10 {
		key := newKeyPrefix()
		errs := make([]error, stormers)
		results := make([]abacus.Result, stormers)
		together(stormers, func(i int) {
			op := &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 1_000_000)}
			if i%4 == 3 {
				op = &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(int64(i + 1))}
			}
			results[i], errs[i] = es[i%len(es)].Submit(context.Background(), key, op)
		})
		applied := 0
		for i, err := range errs {
			code := abacus.ErrorCodeOf(err)
			switch {
			case err == nil && !results[i].Replayed && i%4 == 3:
				applied++
			case i%4 != 3 && (code == abacus.CodeInsufficientFunds || code == abacus.CodeIdempotencyConflict):
			case i%4 == 3 && code == abacus.CodeIdempotencyConflict:
			default:
				t.Errorf("round %d racer %d: got %+v, %v", round, i, results[i], err)
			}
		}
		if applied != 1 {
			t.Fatalf("round %d: %d top-ups were applied under one key; exactly one must be", round, applied)
		}
	}
	mustVerify(t, st)
}

// TestResolveOnceStorm reverts one transaction, and posts or voids one
// hold, from 100 goroutines at once, each under its own key: exactly one
// of each succeeds.
func TestResolveOnceStorm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		resolveOnce(t, st, engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, st))
	})
	t.Run("postgres-two-engines", func(t *testing.T) {
		a, b := twoPostgres(t)
		resolveOnce(t, a, engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, a, b))
	})
}

func resolveOnce(t *testing.T, st abacus.Store, es []*ledger.Engine) {
	acct := createAccount(t, st, abacus.Overdraft{})
	prefix := newKeyPrefix()
	submit(t, es[0], prefix+"-fund", &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 100)})
	charge := submit(t, es[0], prefix+"-charge", &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 10)}).Tx
	hold := submit(t, es[0], prefix+"-hold", &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: units(t, 20)}).Hold

	type outcome struct {
		res abacus.Result
		err error
	}
	reverts, resolves := make([]outcome, stormers), make([]outcome, stormers)
	together(stormers, func(i int) {
		e := es[i%len(es)]
		var r outcome
		r.res, r.err = e.Submit(context.Background(), fmt.Sprintf("%s-revert-%d", prefix, i), &abacus.Revert{TxID: charge.ID})
		reverts[i] = r
		var op abacus.Op = &abacus.HoldVoid{HoldID: hold.ID}
		if i%2 == 0 {
			a := abacus.AmountFromMicros(int64(i + 1))
			op = &abacus.HoldPost{HoldID: hold.ID, Amount: &a}
		}
		r.res, r.err = e.Submit(context.Background(), fmt.Sprintf("%s-resolve-%d", prefix, i), op)
		resolves[i] = r
	})
	once := func(what string, outs []outcome, loser abacus.ErrorCode) int {
		won := -1
		for i, o := range outs {
			switch {
			case o.err == nil && won >= 0:
				t.Fatalf("%s: racers %d and %d both succeeded", what, won, i)
			case o.err == nil:
				won = i
			case abacus.ErrorCodeOf(o.err) != loser:
				t.Fatalf("%s: racer %d: want %s, got %v", what, i, loser, o.err)
			}
		}
		if won < 0 {
			t.Fatalf("%s: nobody succeeded", what)
		}
		return won
	}
	once("revert", reverts, abacus.CodeAlreadyReverted)
	won := once("hold", resolves, abacus.CodeHoldNotOpen)
	// 100 topped up, 10 charged and reverted; what the hold posted, if it
	// was posted, is gone and nothing is held any more.
	want := units(t, 100)
	if p := resolves[won].res.Hold; p.Status == abacus.HoldPosted {
		want, _ = want.Sub(p.PostedAmount)
	}
	if w := wallet(t, st, acct, abacus.BucketCash, "USD"); w.Balance != want || !w.Held.IsZero() {
		t.Fatalf("want balance %s and nothing held, got %+v", want, w)
	}
	mustVerify(t, st)
}
