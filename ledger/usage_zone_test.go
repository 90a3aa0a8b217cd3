package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestUsageCountsTheBillingZonesMonths: with the billing months those of
// Asia/Shanghai (UTC+8), the tiers start afresh at 16:00 UTC on the last
// day of the UTC month, an event half an hour later is December's though
// November's in UTC, a void gives back at its own month's top, and verify
// counts the months as the ledger did.
func TestUsageCountsTheBillingZonesMonths(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		if err := st.SetBillingZone(ctx, "Asia/Shanghai"); err != nil {
			t.Fatal(err)
		}
		shanghai, _ := time.LoadLocation("Asia/Shanghai")
		nov := time.Date(2025, 11, 1, 0, 0, 0, 0, shanghai)
		dec := time.Date(2025, 12, 1, 0, 0, 0, 0, shanghai) // 2025-11-30T16:00Z
		if err := st.PriceBookAdd(ctx, []abacus.Price{tieredPrice("gpu", abacus.ModelGraduated, nov, tier{10, "1"}, tier{0, "0.5"})}, nil); err != nil {
			t.Fatal(err)
		}
		acct := newAccountID()
		charge := func(id string, minutes int64, at time.Time, want string) {
			t.Helper()
			res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent(id, acct, "gpu", minutes, at)})
			if err != nil || res[0].Status != abacus.IngestAccepted || res[0].Charged.String() != want {
				t.Fatalf("%s at %s: %+v %v, want charged %s", id, at.UTC().Format(time.RFC3339), res, err, want)
			}
		}
		charge("nov-1", 10, dec.Add(-time.Hour), "10")                        // November's first tier, whole
		charge("dec-1", 2, dec.Add(30*time.Minute), "2")                      // December's first tier (November in UTC: 1)
		charge("nov-2", 1, dec.Add(-time.Second), "0.5")                      // November's second tier
		charge("dec-2", 9, dec.Add(24*time.Hour), "8.5")                      // 8 more of the first tier, 1 of the second
		charge("jan-1", 1, dec.AddDate(0, 1, 0).Add(-time.Nanosecond), "0.5") // 31 December 23:59:59 in Shanghai
		void, err := e.VoidEvents(ctx, []string{"dec-1"})
		if err != nil || void[0].Err != nil || void[0].Refunded.String() != "1" { // the month's top 2 minutes: 1 at 0.5, 1 at 1
			t.Fatalf("void of dec-1: %+v %v, want 1 given back", void, err)
		}
		if w := wallet(t, st, acct, abacus.BucketCash, "USD"); w.Balance.String() != "-20.5" {
			t.Fatalf("cash %s, want -20.5", w.Balance)
		}
		mustVerify(t, st)
	})
}
