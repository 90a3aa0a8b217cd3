package ledger_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

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

// TestCommitmentEndedEarly: once a commitment is ended early, an event
// after its end, a late one included, is charged without its discount and
// a licence that needs a subscription is flagged; an event before the end,
// arriving late, still gets the discount; verify agrees with every charge.
func TestCommitmentEndedEarly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		gpu, win := perMinute("gpu", "1", t0.AddDate(0, -1, 0)), perMinute("win", "1", t0.AddDate(0, -1, 0))
		gpu.Discounts = []abacus.CommitmentDiscount{{Months: 12, Fraction: decimal.RequireFromString("0.5")}}
		win.License = &abacus.License{Name: "win", Type: "install", UserMetric: "smp"}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu, win)
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		year := abacus.Commitment{Account: acct, Months: 12, From: t0, Until: t0.AddDate(1, 0, 0)}
		if err := f.st.PriceBookAdd(f.ctx, nil, []abacus.Commitment{year}); err != nil {
			t.Fatal(err)
		}
		day := func(d int) time.Time { return t0.AddDate(0, 0, d-1) }
		if r := f.ingest(spaceEvent("before", acct, "gpu", 2, day(2)))[0]; r.Status != abacus.IngestAccepted || r.Charged.String() != "1" {
			t.Fatalf("before the end: %+v", r)
		}
		year.Ended = day(10)
		if err := f.st.PriceBookAdd(f.ctx, nil, []abacus.Commitment{year}); err != nil {
			t.Fatal(err)
		}
		res := f.ingest(spaceEvent("after", acct, "gpu", 2, day(12)), spaceEvent("late", acct, "gpu", 2, day(5)), spaceEvent("licence", acct, "win", 1, day(12)))
		for i, want := range []struct {
			charged     string
			uncommitted bool
		}{{"2", false}, {"1", false}, {"1", true}} {
			if r := res[i]; r.Status != abacus.IngestAccepted || r.Charged.String() != want.charged || r.Uncommitted != want.uncommitted {
				t.Fatalf("item %d: %+v, want charged %s, uncommitted %v", i, r, want.charged, want.uncommitted)
			}
		}
		if cash := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; cash.String() != "-5" {
			t.Fatalf("cash %s, want -5", cash)
		}
		mustVerify(t, f.st)
	})
}
