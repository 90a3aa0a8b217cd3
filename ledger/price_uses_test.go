package ledger_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestPriceVersionsStayTrueToCharges: whatever the mix of events (late
// ones too, and unpriced ones), voids, rerates and new price versions, a
// version is refused exactly when the version it would take over from has
// charged an event at or after its valid_from, and the book then still
// names, for every event, the version it paid (verify). The oracle reads
// the events as stored: which version each paid, and when.
func TestPriceVersionsStayTrueToCharges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		first := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			st := checkStore(t, rt, first, open)
			if st != first {
				defer st.Close()
			}
			f := newUsageFixture(t, st, ledger.UsageConfig{}, perMinute("gpu", "1", t0)) // cpu has no price at first
			defer f.e.Close()
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			var mine []string
			for i, n := 0, rapid.IntRange(1, 15).Draw(rt, "steps"); i < n; i++ {
				resource := rapid.SampledFrom([]string{"gpu", "cpu"}).Draw(rt, "resource")
				switch rapid.SampledFrom([]string{"event", "event", "void", "rerate", "price"}).Draw(rt, "action") {
				case "event": // within a day
					at := t0.Add(time.Duration(rapid.IntRange(0, 24*60).Draw(rt, "minute")) * time.Minute)
					id := string(newAccountID())
					if res := f.ingest(spaceEvent(id, acct, resource, 1, at)); res[0].Status != abacus.IngestAccepted {
						rt.Fatalf("ingest: %+v", res[0])
					}
					mine = append(mine, id)
				case "void":
					if len(mine) > 0 {
						f.void(mine[rapid.IntRange(0, len(mine)-1).Draw(rt, "which")]) // a second void is refused; either is fine
					}
				case "rerate":
					if _, err := f.e.Rerate(f.ctx, mine); err != nil {
						rt.Fatalf("rerate: %v", err)
					}
				case "price": // within a day and a half, so that some come after every event
					at := t0.Add(time.Duration(rapid.IntRange(0, 36*60).Draw(rt, "minute")) * time.Minute)
					p := perMinute(resource, rapid.SampledFrom([]string{"1", "2", "3"}).Draw(rt, "price"), at)
					refuse, taken := priceOracle(rt, f.st, p)
					err := f.st.PriceBookAdd(f.ctx, []abacus.Price{p}, nil)
					var ae *abacus.Error
					switch {
					case taken:
						if !errors.As(err, &ae) || ae.Field != "prices[0]" {
							rt.Fatalf("a second version at %s: %v, want the version refused as taken", at, err)
						}
					case refuse:
						if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "prices[0].valid_from" {
							rt.Fatalf("a %s version at %s, over charged events: %v, want it refused", resource, at, err)
						}
					case err != nil:
						rt.Fatalf("a %s version at %s that takes over no charged event: %v", resource, at, err)
					}
				}
			}
			mustVerify(rt, f.st)
		})
	})
}

// priceOracle says whether adding p must be refused because the version
// in force just before its valid_from has charged an event at or after it, and
// whether a version with its valid_from exists already.
func priceOracle(rt *rapid.T, st abacus.Store, p abacus.Price) (refuse, taken bool) {
	book, err := st.PriceBookLoad(rt.Context())
	if err != nil {
		rt.Fatalf("%v", err)
	}
	var inForce *abacus.Price
	for i := range book.Prices {
		v := &book.Prices[i]
		if v.ResourceID != p.ResourceID || v.ValidFrom.After(p.ValidFrom) {
			continue
		}
		if v.ValidFrom.Equal(p.ValidFrom) {
			taken = true
		}
		if inForce == nil || v.ValidFrom.After(inForce.ValidFrom) {
			inForce = v
		}
	}
	if inForce == nil || taken {
		return false, taken
	}
	for after := int64(0); ; {
		evs, err := st.Events(rt.Context(), abacus.EventQuery{AfterSeq: after, Limit: 1000})
		if err != nil {
			rt.Fatalf("%v", err)
		}
		for _, e := range evs {
			if slices.Contains(e.PriceIDs, inForce.ID) && !e.Time.Before(p.ValidFrom) {
				return true, false
			}
		}
		if len(evs) < 1000 {
			return false, false
		}
		after = evs[len(evs)-1].Seq
	}
}
