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

// accountCalls counts how the engine reaches accounts in the store.
type accountCalls struct {
	abacus.Store
	creates, gets atomic.Int32 // one account a call
	batches       atomic.Int32 // AccountsCreate calls
}

func (c *accountCalls) AccountCreate(ctx context.Context, a abacus.Account) (abacus.Account, bool, error) {
	c.creates.Add(1)
	return c.Store.AccountCreate(ctx, a)
}

func (c *accountCalls) AccountGet(ctx context.Context, id abacus.AccountID) (abacus.Account, error) {
	c.gets.Add(1)
	return c.Store.AccountGet(ctx, id)
}

func (c *accountCalls) AccountsCreate(ctx context.Context, as []abacus.Account) ([]abacus.AccountID, error) {
	c.batches.Add(1)
	return c.Store.AccountsCreate(ctx, as)
}

// TestNewAccountsAreMadeTogether: a call's events for accounts abacus has
// not seen make those accounts in one transaction, not one by one, and
// make none for an event that will not be charged: one whose id an earlier
// event of the call or a stored one holds under another account, or one
// that cannot be rated.
func TestNewAccountsAreMadeTogether(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		st := &accountCalls{Store: open(t)}
		limit := abacus.Overdraft{Limit: amt(t, "2")}
		e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1, DefaultCurrency: "EUR", NewAccountOverdraft: &limit}})
		defer e.Close()
		price := perMinute("gpu", "0.01", t0.AddDate(0, -1, 0))
		price.Currency = "EUR"
		stub := perMinute("rds", "0.01", t0.AddDate(0, -1, 0))
		stub.Currency, stub.License = "EUR", &abacus.License{Name: "rds", Type: "stub", UserMetric: "users", Burstable: true}
		if err := st.PriceBookAdd(t.Context(), []abacus.Price{price, stub}, nil); err != nil {
			t.Fatal(err)
		}
		known := newAccountID()
		if _, err := e.Ingest(t.Context(), []abacus.UsageEvent{spaceEvent("stored", known, "gpu", 1, t0)}); err != nil {
			t.Fatal(err)
		}
		st.creates.Store(0)
		st.gets.Store(0)
		st.batches.Store(0)

		var evs []abacus.UsageEvent
		fresh := make([]abacus.AccountID, 600)
		for i := range fresh {
			fresh[i] = newAccountID()
			for j := range 2 {
				evs = append(evs, spaceEvent(fmt.Sprintf("new-%d-%d", i, j), fresh[i], "gpu", 3, t0))
			}
		}
		left := []abacus.AccountID{newAccountID(), newAccountID(), newAccountID(), newAccountID()}
		taken := spaceEvent("new-0-0", left[0], "gpu", 3, t0)     // the call's first event holds its id under fresh[0]
		stored := spaceEvent("stored", left[1], "gpu", 1, t0)     // a stored event holds it under known
		unrated := spaceEvent("bad-extra", left[2], "gpu", 1, t0) // an extra that cannot be rated
		unrated.Extra = `{"sku_kind":"x"}`
		unlicensed := spaceEvent("bad-licence", left[3], "rds", 1, t0) // a licence count its price cannot take
		unlicensed.Extra = `{"users":-1}`
		evs = append(evs, taken, stored, unrated, unlicensed)
		res, err := e.Ingest(t.Context(), evs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res[:len(fresh)*2] {
			if r.Status != abacus.IngestAccepted || r.Charged.String() != "0.03" {
				t.Fatalf("event %d: %+v", i, r)
			}
		}
		for i, field := range []string{"uuid", "uuid", "extra.sku_kind", "extra.users"} {
			if r := res[len(fresh)*2+i]; r.Status != abacus.IngestRejected || r.Err.Field != field {
				t.Errorf("%s: %+v, want rejected naming %s", evs[len(fresh)*2+i].ID, r, field)
			}
		}
		if c, g, b := st.creates.Load(), st.gets.Load(), st.batches.Load(); c != 0 || g != 0 || b != 1 {
			t.Errorf("%d accounts created and %d read one by one, %d AccountsCreate calls; want 0, 0 and 1", c, g, b)
		}
		accts, err := st.Accounts(t.Context(), append(fresh, left...))
		if err != nil || len(accts) != len(fresh) {
			t.Fatalf("%d accounts exist, want the %d new ones and none of the rejected events': %v", len(accts), len(fresh), err)
		}
		for _, a := range accts {
			if a.Currency != "EUR" || a.Overdraft != limit || a.Kind != abacus.KindUser {
				t.Fatalf("account %+v, want a user's in EUR with the new accounts' overdraft", a)
			}
			if w := wallet(t, st, a.ID, abacus.BucketCash, "EUR"); w.Balance.String() != "-0.06" {
				t.Fatalf("%s cash %s, want -0.06", a.ID, w.Balance)
			}
		}
		mustVerify(t, st)
	})
}
