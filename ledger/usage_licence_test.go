package ledger_test

import (
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestUncommittedLicenceIsFlagged: a licence that requires a subscription
// (not burstable), used by an account with no commitment at the event's
// time, is charged all the same and flagged, in the answer and in the
// store, so that the operator can list such usage and follow it up.
func TestUncommittedLicenceIsFlagged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		licensed, plain := perMinute("win", "1", t0.AddDate(0, -1, 0)), perMinute("gpu", "1", t0.AddDate(0, -1, 0))
		licensed.License = &abacus.License{Name: "win", Type: "install", UserMetric: "smp"}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, licensed, plain)
		committed, casual := f.account(abacus.Overdraft{Unlimited: true}, nil), f.account(abacus.Overdraft{Unlimited: true}, nil)
		if err := f.st.PriceBookAdd(f.ctx, nil, []abacus.Commitment{{Account: committed, Months: 12, From: t0, Until: t0.AddDate(1, 0, 0)}}); err != nil {
			t.Fatal(err)
		}
		res := f.ingest(spaceEvent("c", committed, "win", 2, t0.Add(time.Hour)), spaceEvent("u", casual, "win", 3, t0.Add(time.Hour)),
			spaceEvent("g", casual, "gpu", 4, t0.Add(time.Hour)), spaceEvent("early", committed, "win", 5, t0.Add(-time.Hour)))
		for i, want := range []bool{false, true, false, true} {
			if r := res[i]; r.Status != abacus.IngestAccepted || r.Uncommitted != want {
				t.Fatalf("item %d: %+v, want accepted, uncommitted %v", i, r, want)
			}
		}
		got, err := f.st.Events(f.ctx, abacus.EventQuery{Uncommitted: true, Limit: 10})
		if err != nil || len(got) != 2 || got[0].ID != "early" && got[1].ID != "early" || got[0].ID != "u" && got[1].ID != "u" {
			t.Fatalf("the flagged events: %+v %v", got, err)
		}
		if cash := wallet(t, f.st, casual, abacus.BucketCash, "USD").Balance; cash.String() != "-7" {
			t.Fatalf("casual's cash %s, want -7: flagged usage is charged all the same", cash)
		}
		mustVerify(t, f.st)
	})
}
