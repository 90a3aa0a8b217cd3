package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestRaceToOverdraft sends N debits at once, any one of which fits the
// account but no two of which do: exactly one may succeed.
func TestRaceToOverdraft(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		raceToOverdraft(t, st, engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, st))
	})
}

// TestRaceToOverdraftTwoEngines races the debits through two engines with
// separate connection pools on one PostgreSQL schema, as two processes would.
func TestRaceToOverdraftTwoEngines(t *testing.T) {
	a, b := twoPostgres(t)
	raceToOverdraft(t, a, engines(t, ledger.Config{Workers: 2, MaxBatch: 16}, a, b))
}

func raceToOverdraft(t *testing.T, st abacus.Store, es []*ledger.Engine) {
	const n = 50
	balance := int64(100_000_000) // 100 units, in micro-units
	cases := []struct {
		name   string
		limit  int64 // overdraft limit
		hold   int64 // held while the debits race
		debit  int64
		holds  bool // every other racer creates a hold instead of charging
		bucket abacus.Bucket
	}{
		{name: "whole balance", debit: balance},
		{name: "half plus one", debit: balance/2 + 1},
		{name: "from the cash bucket", debit: balance, bucket: abacus.BucketCash},
		{name: "down to the overdraft limit", limit: 50_000_000, debit: balance + 50_000_000},
		{name: "whole available with a hold pending", hold: 30_000_000, debit: balance - 30_000_000},
		{name: "half plus one with a hold pending", hold: 30_000_000, debit: (balance-30_000_000)/2 + 1},
		{name: "charges and holds with a hold pending", hold: 30_000_000, debit: balance - 30_000_000, holds: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			acct := createAccount(t, st, abacus.Overdraft{Limit: abacus.AmountFromMicros(c.limit)})
			prefix := newKeyPrefix()
			submit(t, es[0], prefix+"-topup", &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(balance)})
			var pending int64
			if c.hold > 0 {
				pending = submit(t, es[0], prefix+"-hold", &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(c.hold)}).Hold.ID
			}
			var won atomic.Int64
			var wonHold atomic.Int64
			errs := make([]error, n)
			together(n, func(i int) {
				var op abacus.Op = &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(c.debit), Bucket: c.bucket}
				if c.holds && i%2 == 1 {
					op = &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(c.debit)}
				}
				res, err := es[i%len(es)].Submit(ctx, fmt.Sprintf("%s-%d", prefix, i), op)
				errs[i] = err
				if err == nil {
					won.Add(1)
					if res.Hold != nil {
						wonHold.Store(res.Hold.ID)
					}
				}
			})
			for i, err := range errs {
				if err != nil && abacus.ErrorCodeOf(err) != abacus.CodeInsufficientFunds {
					t.Errorf("racer %d: want success or insufficient_funds, got %v", i, err)
				}
			}
			if won.Load() != 1 {
				t.Fatalf("%d of %d debits succeeded; exactly one fits", won.Load(), n)
			}
			// The pending hold still gets what it reserved, and so does the
			// hold that won the race, if one did.
			for _, h := range []int64{pending, wonHold.Load()} {
				if h != 0 {
					submit(t, es[len(es)-1], fmt.Sprintf("%s-post-%d", prefix, h), &abacus.HoldPost{HoldID: h})
				}
			}
			w := wallet(t, st, acct, abacus.BucketCash, "USD")
			if want := balance - c.debit - c.hold; w.Balance.Micros() != want || !w.Held.IsZero() {
				t.Fatalf("cash wallet: want balance %s and nothing held, got %+v", abacus.AmountFromMicros(want), w)
			}
			mustVerify(t, st)
		})
	}
}

// TestInsufficientFundsSaysWhatCanBeSpent: the refusal counts cash down to
// its floor. Counting balances above zero alone, an account with cash at
// -4 of a floor of -5 was told it had 0 for a charge of 2, and then took
// one of 1 (QA).
func TestInsufficientFundsSaysWhatCanBeSpent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := engines(t, ledger.Config{}, st)[0]
		acct := createAccount(t, st, abacus.Overdraft{Limit: abacus.AmountFromMicros(5_000_000)})
		prefix := newKeyPrefix()
		charge := func(key string, units int64) error {
			_, err := e.Submit(context.Background(), prefix+key, &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(units * 1_000_000)})
			return err
		}
		submit(t, e, prefix+"-voucher", &abacus.Move{Type: abacus.TxGrant, Account: acct, Currency: "USD", Amount: abacus.AmountFromMicros(3_000_000), Bucket: abacus.BucketVoucher})
		if err := charge("-a", 7); err != nil { // voucher 3, cash -4
			t.Fatal(err)
		}
		err := charge("-b", 2)
		if abacus.ErrorCodeOf(err) != abacus.CodeInsufficientFunds || !strings.Contains(err.Error(), "can spend 1 USD") {
			t.Fatalf("a charge of 2 with cash at -4 of -5: %v, want insufficient funds saying 1 can be spent", err)
		}
		if err := charge("-c", 1); err != nil {
			t.Fatalf("the 1 it can spend: %v", err)
		}
	})
}
