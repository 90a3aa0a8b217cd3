package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store/sqlite"
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

// TestWalletCacheIsBounded: the writer keeps at most CachedWallets
// wallets' state, the bound ABACUS_CACHE_ACCOUNTS sets, where it had been
// a constant of half a million (soak QA: with the engine's own cache, 1.3
// GB of RSS as accounts grew), and balances stay right as it forgets.
func TestWalletCacheIsBounded(t *testing.T) {
	st, err := sqlite.OpenWith(testdb.SQLitePath(t), sqlite.Options{CachedWallets: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := ledger.New(st, ledger.Config{})
	defer e.Close()
	one, _ := abacus.AmountFromUnits(1)
	for i := range 6 {
		id := abacus.AccountID(fmt.Sprintf("cace0000-0000-4000-8000-%012d", i+2))
		if _, _, err := st.AccountCreate(ctx, abacus.Account{ID: id, Kind: abacus.KindUser, Currency: "USD", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			if _, err := e.Submit(ctx, fmt.Sprintf("t%d-%d", i, j), &abacus.Move{Type: abacus.TxTopup, Account: id, Currency: "USD", Amount: one}); err != nil {
				t.Fatal(err)
			}
		}
		if n := sqlite.CachedWallets(st); n > 4 {
			t.Fatalf("after account %d: %d wallets cached, over the bound of 4", i, n)
		}
		ws, err := st.Wallets(ctx, []abacus.AccountID{id})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Bucket == abacus.BucketCash && w.Balance.Micros() != 2_000_000 {
				t.Fatalf("account %d: cash %s, want 2", i, w.Balance)
			}
		}
	}
	rep, err := ledger.Verify(ctx, st)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v\n%s", err, rep)
	}
}
