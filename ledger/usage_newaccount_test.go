package ledger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestRejectedEventsMakeNoAccount: an account is made for a new event only
// if one of the call's events for it can be charged to it as it starts,
// with nothing; events refused by its floor or by an overflow leave none
// behind, with the errors the batch gives. One event that fits makes it,
// and the batch then judges the others.
func TestRejectedEventsMakeNoAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, st, ledger.UsageConfig{NewAccountOverdraft: &abacus.Overdraft{Limit: amt(t, "3")}}, perMinute("gpu", "1", t0))
		exists := func(id abacus.AccountID) bool {
			t.Helper()
			_, err := st.AccountGet(f.ctx, id)
			if err != nil && abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
				t.Fatal(err)
			}
			return err == nil
		}
		poor, huge, mixed := newAccountID(), newAccountID(), newAccountID()
		res := f.ingest(spaceEvent("p-1", poor, "gpu", 5, t0), spaceEvent("p-2", poor, "gpu", 4, t0),
			spaceEvent("h-1", huge, "gpu", 9_223_372_036_855, t0),
			spaceEvent("m-1", mixed, "gpu", 5, t0), spaceEvent("m-2", mixed, "gpu", 2, t0), spaceEvent("m-3", mixed, "gpu", 2, t0))
		want := []struct {
			status abacus.IngestStatus
			code   abacus.ErrorCode
			msg    string
		}{
			{abacus.IngestRejected, abacus.CodeInsufficientFunds, "does not exist, and one made for it would start with nothing and could spend 3 USD (cash down to the floor of -3 new accounts get); 5 is needed"},
			{abacus.IngestRejected, abacus.CodeInsufficientFunds, "; 4 is needed"},
			{abacus.IngestRejected, abacus.CodeOverflow, ""},
			{abacus.IngestRejected, abacus.CodeInsufficientFunds, "; 5 is needed"},
			{abacus.IngestAccepted, "", ""},
			{abacus.IngestRejected, abacus.CodeInsufficientFunds, "can spend 1 USD"}, // the batch's: 2 of 3 spent
		}
		for i, w := range want {
			r := res[i]
			if r.Status != w.status || w.code != "" && (r.Err == nil || r.Err.Code != w.code || r.Err.Field != "value" || !strings.Contains(r.Err.Message, w.msg)) {
				t.Errorf("%s: %+v, want %s %s %q", r.ID, r, w.status, w.code, w.msg)
			}
		}
		if exists(poor) || exists(huge) || !exists(mixed) {
			t.Fatalf("accounts made: poor %v, huge %v, mixed %v; want only mixed", exists(poor), exists(huge), exists(mixed))
		}
		// The platform can then make them as it wants.
		if _, _, err := st.AccountCreate(f.ctx, abacus.Account{ID: poor, Kind: abacus.KindUser, Currency: "EUR", Overdraft: abacus.Overdraft{Unlimited: true}, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, st)
	})
}
