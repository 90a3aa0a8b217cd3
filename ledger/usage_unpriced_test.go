package ledger_test

import (
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/billing"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestStatementsShowUnpricedUsage: an unpriced event adds its usage to its
// rollup at amount 0, and the rollup says how much of it has no price, so
// that a statement tells usage that was free from usage not billed yet.
// Voiding an unpriced event and rerating one take it out again.
func TestStatementsShowUnpricedUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("gpu-1", acct, "gpu", 5, f.t0), spaceEvent("cpu-1", acct, "cpu", 10, f.t0),
			spaceEvent("cpu-2", acct, "cpu", 4, f.t0.Add(20*time.Minute)), spaceEvent("cpu-3", acct, "cpu", 6, f.t0.Add(20*time.Minute)))

		// want checks the day's statement by resource: cpu, then gpu.
		want := func(step string, cpu, gpu unpricedLine) {
			t.Helper()
			st, err := billing.Build(f.ctx, f.st, acct, f.t0, f.t0.Add(24*time.Hour), billing.Day, time.UTC, billing.GroupBy{Resource: true})
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if len(st.Lines) != 2 || st.UnpricedEvents != cpu.unpricedEvents+gpu.unpricedEvents {
				t.Fatalf("%s: %+v", step, st)
			}
			for i, w := range []unpricedLine{cpu, gpu} {
				l := st.Lines[i]
				got := unpricedLine{l.Quantity.Int64(), l.Amount.String(), l.Events, l.UnpricedQuantity.Int64(), l.UnpricedEvents}
				if !l.Quantity.IsInt64() || !l.UnpricedQuantity.IsInt64() || got != w {
					t.Fatalf("%s: line %s %+v, want %+v", step, l.ResourceID, got, w)
				}
			}
			mustVerify(t, f.st)
		}
		gpu := unpricedLine{5, "5", 1, 0, 0}
		want("ingested", unpricedLine{20, "0", 3, 20, 3}, gpu)

		f.void("cpu-3")
		want("an unpriced event voided", unpricedLine{14, "0", 2, 14, 2}, gpu)

		if err := f.st.PriceBookAdd(f.ctx, []abacus.Price{perMinute("cpu", "0.5", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))}, nil); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Rerate(f.ctx, []string{"cpu-1"}); err != nil || res[0].Charged.String() != "5" {
			t.Fatalf("rerate: %+v %v", res, err)
		}
		want("one rerated", unpricedLine{14, "5", 2, 4, 1}, gpu)
		if res, err := f.e.Rerate(f.ctx, []string{"cpu-2"}); err != nil || res[0].Charged.String() != "2" {
			t.Fatalf("rerate: %+v %v", res, err)
		}
		want("both rerated", unpricedLine{14, "7", 2, 0, 0}, gpu)

		f.void("cpu-2")
		want("a rerated event voided", unpricedLine{10, "5", 1, 0, 0}, gpu)
	})
}

type unpricedLine struct {
	quantity       int64
	amount         string
	events         int64
	unpricedQ      int64
	unpricedEvents int64
}

// TestRerateAtNothingLeavesNoUnpricedUsage: a rerate that charges nothing
// (a price of 0, a value of 0) still takes its event out of its rollup's
// unpriced usage, which alone changes: the batch had left such a rollup
// unwritten, and the free line said it was not billed yet (QA).
func TestRerateAtNothingLeavesNoUnpricedUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{})
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("free-1", acct, "freebie", 30, f.t0), spaceEvent("zero-1", acct, "paid", 0, f.t0))
		since := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		if err := f.st.PriceBookAdd(f.ctx, []abacus.Price{perMinute("freebie", "0", since), perMinute("paid", "2", since)}, nil); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Rerate(f.ctx, []string{"free-1", "zero-1"}); err != nil || res[0].Unpriced || res[1].Unpriced || res[0].Status != abacus.IngestAccepted || res[1].Status != abacus.IngestAccepted {
			t.Fatalf("rerate: %+v %v", res, err)
		}
		st, err := billing.Build(f.ctx, f.st, acct, f.t0, f.t0.Add(24*time.Hour), billing.Day, time.UTC, billing.GroupBy{Resource: true})
		if err != nil || len(st.Lines) != 2 || st.UnpricedEvents != 0 || st.Lines[0].UnpricedQuantity.Sign() != 0 || st.Lines[1].UnpricedQuantity.Sign() != 0 {
			t.Fatalf("%+v %v, want both lines priced", st, err)
		}
		mustVerify(t, f.st)
		f.void("free-1")
		mustVerify(t, f.st)
	})
}
