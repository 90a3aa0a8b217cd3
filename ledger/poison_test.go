package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// poisonStore fails any batch holding a transaction with the memo
// "poison", as a database would fail on a value it cannot store.
type poisonStore struct{ abacus.Store }

func (p poisonStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	return p.Store.Write(ctx, func(tx abacus.WriteTx) error { return fn(poisonTx{tx}) })
}

type poisonTx struct{ abacus.WriteTx }

func (p poisonTx) Apply(ctx context.Context, c *abacus.Changes) error {
	if poisoned(c) {
		return errors.New("the database refused a value")
	}
	return p.WriteTx.Apply(ctx, c)
}

func (p poisonTx) Commit(ctx context.Context, c *abacus.Changes) error {
	if poisoned(c) {
		return errors.New("the database refused a value")
	}
	return p.WriteTx.Commit(ctx, c)
}

func poisoned(c *abacus.Changes) bool {
	for _, t := range c.Transactions {
		if t.Memo == "poison" {
			return true
		}
	}
	return false
}

// TestPoisonedBatch: one operation the database refuses fails alone; the
// others of its batch commit.
func TestPoisonedBatch(t *testing.T) {
	st := testdb.SQLite(t)
	e := ledger.New(poisonStore{st}, ledger.Config{MaxBatch: 100})
	defer e.Close()
	acct := createAccount(t, st, abacus.Overdraft{})
	release := blockWrites(t, st)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			memo := ""
			if i == len(errs)-1 {
				time.Sleep(50 * time.Millisecond) // join the queue last
				memo = "poison"
			}
			_, errs[i] = e.Submit(context.Background(), fmt.Sprintf("p%d", i),
				&abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 1), Memo: memo})
		}()
	}
	time.Sleep(150 * time.Millisecond)
	release()
	wg.Wait()
	for i, err := range errs[:len(errs)-1] {
		if err != nil {
			t.Errorf("operation %d shared a batch with a poisoned one and failed: %v", i, err)
		}
	}
	if abacus.ErrorCodeOf(errs[len(errs)-1]) != abacus.CodeUnavailable {
		t.Errorf("the poisoned operation: %v", errs[len(errs)-1])
	}
	if w := wallet(t, st, acct, abacus.BucketCash, "USD"); w.Balance != units(t, 19) {
		t.Errorf("cash balance %s, want 19", w.Balance)
	}
	mustVerify(t, st)
}
