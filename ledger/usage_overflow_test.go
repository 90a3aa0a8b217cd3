package ledger_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestUsageRollupOverflow: an event whose usage would take its quarter
// hour's rollup past int64 is rejected alone, naming value, whether the
// sum it breaks is stored (the database refuses it) or made in the same
// batch; the events beside it are charged, nothing wraps, and a request
// holding it is not failed as a whole, which would have it sent, and
// refused, forever.
func TestUsageRollupOverflow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "0.5", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		full, other, twice := newAccountID(), newAccountID(), newAccountID()
		ingest := func(evs ...abacus.UsageEvent) []abacus.IngestResult {
			t.Helper()
			res, err := e.Ingest(ctx, evs)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// "storage" has no price: its events are kept unpriced, and their
		// minutes still count in the rollups.
		if r := ingest(spaceEvent("full", full, "storage", math.MaxInt64, t0)); r[0].Status != abacus.IngestAccepted {
			t.Fatalf("an event of MaxInt64 minutes: %+v", r[0])
		}

		// Across batches: the stored rollup is full, so the database refuses.
		r := ingest(spaceEvent("one-more", full, "storage", 1, t0.Add(time.Minute)), spaceEvent("beside", other, "gpu", 4, t0))
		wantRejectedValue(t, r[0])
		if r[1].Status != abacus.IngestAccepted || r[1].Charged.String() != "2" {
			t.Fatalf("the event beside it: %+v, want accepted and charged 2", r[1])
		}

		// Within one batch: the second half of 10^19 minutes is refused,
		// the next quarter hour's minute is charged.
		const half = 5_000_000_000_000_000_000
		r = ingest(spaceEvent("half-1", twice, "storage", half, t0), spaceEvent("half-2", twice, "storage", half, t0.Add(time.Minute)),
			spaceEvent("later", twice, "gpu", 2, t0.Add(15*time.Minute)))
		if r[0].Status != abacus.IngestAccepted || r[2].Status != abacus.IngestAccepted || r[2].Charged.String() != "1" {
			t.Fatalf("the events beside the overflow: %+v, %+v", r[0], r[2])
		}
		wantRejectedValue(t, r[1])

		for acct, want := range map[abacus.AccountID][2]int64{full: {math.MaxInt64, 1}, twice: {half, 1}} {
			rs, err := st.Rollups(ctx, abacus.RollupQuery{Account: acct, From: t0, To: t0.Add(15 * time.Minute)})
			if err != nil || len(rs) != 1 || rs[0].Quantity != want[0] || rs[0].Events != want[1] {
				t.Fatalf("%s's first quarter hour: %+v %v, want %d minutes in %d event", acct, rs, err, want[0], want[1])
			}
		}
		evs, err := st.Events(ctx, abacus.EventQuery{IDs: []string{"one-more", "half-2"}, Limit: 2})
		if err != nil || len(evs) != 0 {
			t.Fatalf("refused events were stored: %+v %v", evs, err)
		}
		mustVerify(t, st)
	})
}

func wantRejectedValue(t *testing.T, r abacus.IngestResult) {
	t.Helper()
	if r.Status != abacus.IngestRejected || abacus.ErrorCodeOf(r.Err) != abacus.CodeOverflow {
		t.Fatalf("%s: %+v, want rejected as an overflow", r.ID, r)
	}
	if r.Err.Field != "value" {
		t.Fatalf("%s: the error %v names no field value", r.ID, r.Err)
	}
}

// TestAvailableMustFit: a charge that would leave a wallet's available
// amount (balance less held) past int64 is refused as an overflow even on
// an account without a floor, whose balance alone would fit: otherwise
// the wallet could no longer say what it has available. Through the
// ledger and through usage alike, and nothing changes.
func TestAvailableMustFit(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1}})
		defer e.Close()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "1", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		acct := createAccount(t, st, abacus.Overdraft{Unlimited: true})
		prefix := newKeyPrefix()
		five := abacus.AmountFromMicros(5_000_000)
		submit(t, e, prefix+"-hold", &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: five, Bucket: abacus.BucketCash})
		_, err := e.Submit(ctx, prefix+"-charge", &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD",
			Amount: abacus.AmountFromMicros(math.MaxInt64), Bucket: abacus.BucketCash})
		if abacus.ErrorCodeOf(err) != abacus.CodeOverflow {
			t.Fatalf("a charge leaving available below int64: %v, want overflow", err)
		}
		res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("huge", acct, "gpu", math.MaxInt64/1_000_000, t0)})
		if err != nil || len(res) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		wantRejectedValue(t, res[0])
		// A cost past what an amount holds at all.
		res, err = e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("huger", acct, "gpu", math.MaxInt64, t0)})
		if err != nil || len(res) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		wantRejectedValue(t, res[0])
		ws, err := st.Wallets(ctx, []abacus.AccountID{acct})
		if err != nil || len(ws) != 3 {
			t.Fatalf("%+v %v", ws, err)
		}
		for _, w := range ws {
			if !w.Balance.IsZero() || (w.Bucket == abacus.BucketCash) != (w.Held.Cmp(five) == 0) {
				t.Fatalf("wallet %s %s changed: balance %s, held %s", w.Account, w.Bucket, w.Balance, w.Held)
			}
		}
		mustVerify(t, st)
	})
}
