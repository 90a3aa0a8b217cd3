package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

func amt(t testing.TB, s string) abacus.Amount {
	t.Helper()
	a, err := abacus.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEngineBasics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		ctx := context.Background()
		id := abacus.AccountID("11111111-1111-1111-1111-111111111111")
		if _, _, err := st.AccountCreate(ctx, abacus.Account{ID: id, Kind: abacus.KindUser, Name: "u", Currency: "USD"}); err != nil {
			t.Fatal(err)
		}
		r, err := e.Submit(ctx, "k1", &abacus.Move{Type: abacus.TxTopup, Account: id, Currency: "USD", Amount: amt(t, "10")})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Tx.Postings) != 2 || r.Replayed {
			t.Fatalf("topup: %+v", r)
		}
		r2, err := e.Submit(ctx, "k1", &abacus.Move{Type: abacus.TxTopup, Account: id, Currency: "USD", Amount: amt(t, "10")})
		if err != nil || !r2.Replayed || r2.Tx.ID != r.Tx.ID {
			t.Fatalf("replay: %+v %v", r2, err)
		}
		_, err = e.Submit(ctx, "k1", &abacus.Move{Type: abacus.TxTopup, Account: id, Currency: "USD", Amount: amt(t, "11")})
		if abacus.ErrorCodeOf(err) != abacus.CodeIdempotencyConflict {
			t.Fatalf("conflict: %v", err)
		}
		_, err = e.Submit(ctx, "k2", &abacus.Move{Type: abacus.TxCharge, Account: id, Currency: "USD", Amount: amt(t, "10.5")})
		if abacus.ErrorCodeOf(err) != abacus.CodeInsufficientFunds {
			t.Fatalf("overdraft: %v", err)
		}
		// Explicit postings: the refusal names the posting (QA: it named "amount").
		_, err = e.Submit(ctx, "k2t", &abacus.Transfer{Postings: []abacus.PostingSpec{
			{Account: abacus.SystemRevenue.ID(), Currency: "USD", Amount: amt(t, "10.5")},
			{Account: id, Currency: "USD", Amount: amt(t, "-10.5")},
		}})
		var ae *abacus.Error
		if abacus.ErrorCodeOf(err) != abacus.CodeInsufficientFunds || !errors.As(err, &ae) || ae.Field != "postings[1].amount" {
			t.Fatalf("a transfer past the floor: %v, want insufficient funds naming postings[1].amount", err)
		}
		// A revert, which has no amount, names the transaction (QA).
		spend, err := e.Submit(ctx, "k2s", &abacus.Move{Type: abacus.TxCharge, Account: id, Currency: "USD", Amount: amt(t, "1")})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Submit(ctx, "k2r", &abacus.Revert{TxID: r.Tx.ID})
		if abacus.ErrorCodeOf(err) != abacus.CodeInsufficientFunds || !errors.As(err, &ae) || ae.Field != "transaction" {
			t.Fatalf("a revert of the topup past the floor: %v, want insufficient funds naming transaction", err)
		}
		if _, err := e.Submit(ctx, "k2u", &abacus.Revert{TxID: spend.Tx.ID}); err != nil {
			t.Fatal(err)
		}
		h, err := e.Submit(ctx, "k3", &abacus.HoldCreate{Account: id, Currency: "USD", Amount: amt(t, "4")})
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.Submit(ctx, "k4", &abacus.HoldPost{HoldID: h.Hold.ID, Amount: ptr(amt(t, "3"))})
		if err != nil {
			t.Fatal(err)
		}
		if p.Hold.Status != abacus.HoldPosted || p.Tx == nil {
			t.Fatalf("post: %+v", p)
		}
		ws, _ := st.Wallets(ctx, []abacus.AccountID{id})
		for _, w := range ws {
			if w.Bucket == abacus.BucketCash && (w.Balance != amt(t, "7") || !w.Held.IsZero()) {
				t.Fatalf("cash wallet %+v", w)
			}
		}
		rv, err := e.Submit(ctx, "k5", &abacus.Revert{TxID: p.Tx.ID})
		if err != nil || rv.Tx.Reverts != p.Tx.ID {
			t.Fatalf("revert: %+v %v", rv, err)
		}
		_, err = e.Submit(ctx, "k6", &abacus.Revert{TxID: p.Tx.ID})
		if abacus.ErrorCodeOf(err) != abacus.CodeAlreadyReverted {
			t.Fatalf("revert twice: %v", err)
		}
		rep, err := ledger.Verify(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("verify:\n%s", rep)
		}
	})
}

func ptr[T any](v T) *T { return &v }
