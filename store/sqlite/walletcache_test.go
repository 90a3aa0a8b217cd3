package sqlite_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestWalletCacheSeesOtherWriters: the store caches wallets between
// batches, but a change committed by any other connection (another
// process, an operator's repair) must be read, not the cached value.
func TestWalletCacheSeesOtherWriters(t *testing.T) {
	st := testdb.SQLite(t)
	ctx := context.Background()
	e := ledger.New(st, ledger.Config{})
	defer e.Close()
	id := abacus.AccountID("cace0000-0000-4000-8000-000000000001")
	if _, _, err := st.AccountCreate(ctx, abacus.Account{ID: id, Kind: abacus.KindUser, Currency: "USD", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ten, _ := abacus.AmountFromUnits(10)
	if _, err := e.Submit(ctx, "t1", &abacus.Move{Type: abacus.TxTopup, Account: id, Currency: "USD", Amount: ten}); err != nil {
		t.Fatal(err)
	}
	// Another connection adds 5 to the cash balance behind the engine.
	db, err := sql.Open("sqlite3", st.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE wallets SET balance = balance + 5000000 WHERE account_id = ? AND bucket = 'cash'`, string(id)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	twelve, _ := abacus.AmountFromUnits(12)
	if _, err := e.Submit(ctx, "c1", &abacus.Move{Type: abacus.TxCharge, Account: id, Currency: "USD", Amount: twelve}); err != nil {
		t.Fatalf("the charge was judged against a stale cached balance: %v", err)
	}
	ws, err := st.Wallets(ctx, []abacus.AccountID{id})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Bucket == abacus.BucketCash && w.Balance.Micros() != 3_000_000 {
			t.Fatalf("cash balance %s, want 3", w.Balance)
		}
	}
}
