package ledger_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store/postgres"
)

func perMinute(resource, price string, from time.Time) abacus.Price {
	return abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: resource, UnitType: "minute", Currency: "USD", Unit: 1,
		Model: abacus.ModelPerUnit, UnitPrice: decimal.RequireFromString(price), ValidFrom: from, CreatedAt: from}
}

func spaceEvent(id string, acct abacus.AccountID, resource string, minutes int64, at time.Time) abacus.UsageEvent {
	e := abacus.UsageEvent{ID: id, Account: acct, Value: minutes, ValueType: abacus.ValueDuration, Scene: 11,
		ResourceID: resource, CustomerID: "space-1", Time: at}
	if err := e.Validate(); err != nil {
		panic(err)
	}
	return e
}

func TestUsageBasics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{}})
		defer e.Close()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "0.0000004", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		acct := newAccountID()
		var evs []abacus.UsageEvent
		for i := 0; i < 1000; i++ {
			evs = append(evs, spaceEvent(string(newAccountID()), acct, "gpu", 1, t0.Add(time.Duration(i)*time.Minute)))
		}
		evs = append(evs, evs[3]) // a duplicate inside the batch
		res, err := e.Ingest(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for _, r := range res {
			if r.Status == abacus.IngestAccepted {
				accepted++
			}
		}
		if accepted != 1000 || res[1000].Status != abacus.IngestDuplicate {
			t.Fatalf("accepted %d, last %+v", accepted, res[1000])
		}
		// A thousand charges of 0.0000004 add up to 0.0004: carried, not lost.
		if w := wallet(t, st, acct, abacus.BucketCash, "USD"); w.Balance.String() != "-0.0004" {
			t.Fatalf("cash %s, want -0.0004", w.Balance)
		}
		// Replaying everything adds nothing.
		res, err = e.Ingest(ctx, evs[:1000])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Status != abacus.IngestDuplicate {
				t.Fatalf("replay: %+v", r)
			}
		}
		// An event without a price is kept, then charged once a price exists.
		cpu := spaceEvent("cpu-1", acct, "cpu", 10, t0.Add(time.Hour))
		res, _ = e.Ingest(ctx, []abacus.UsageEvent{cpu})
		if !res[0].Unpriced || res[0].Status != abacus.IngestAccepted {
			t.Fatalf("unpriced: %+v", res[0])
		}
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("cpu", "0.5", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		rr, err := e.Rerate(ctx, []string{"cpu-1"})
		if err != nil || rr[0].Charged.String() != "5" {
			t.Fatalf("rerate: %+v %v", rr, err)
		}
		rr, _ = e.Rerate(ctx, []string{"cpu-1"})
		if rr[0].Status != abacus.IngestRejected {
			t.Fatalf("a second rerate must be refused: %+v", rr[0])
		}
		voids, err := e.VoidEvents(ctx, []string{"cpu-1", "cpu-1", "nope"})
		if err != nil || voids[0].Err != nil || voids[0].Refunded.String() != "5" || voids[1].Err == nil || voids[2].Err == nil {
			t.Fatalf("void: %+v %v", voids, err)
		}
		if again, err := e.VoidEvents(ctx, []string{"cpu-1"}); err != nil || again[0].Err == nil ||
			again[0].Err.Code != abacus.CodeConflict || !strings.Contains(again[0].Err.Message, "was voided already; that gave back 5 USD") {
			t.Fatalf("a void sent again: %+v %v, want a conflict saying what the first gave back", again, err)
		}
		if w := wallet(t, st, acct, abacus.BucketCash, "USD"); w.Balance.String() != "-0.0004" {
			t.Fatalf("cash after void %s, want -0.0004", w.Balance)
		}
		mustVerify(t, st)
	})
}

// TestUsageShardsRevenue: with several workers, usage of different
// accounts credits different revenue shards, and the shards add up to
// everything charged.
func TestUsageShardsRevenue(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Workers: 4})
		defer e.Close()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "1", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		var evs []abacus.UsageEvent
		for i := 0; i < 64; i++ {
			evs = append(evs, spaceEvent(string(newAccountID()), newAccountID(), "gpu", 1, t0))
		}
		if _, err := e.Ingest(ctx, evs); err != nil {
			t.Fatal(err)
		}
		ws, err := st.Wallets(ctx, []abacus.AccountID{abacus.SystemRevenue.ID()})
		if err != nil {
			t.Fatal(err)
		}
		used, total := 0, int64(0)
		for _, w := range ws {
			if !w.Balance.IsZero() {
				used++
			}
			total += w.Balance.Micros()
		}
		if used < 2 || total != 64_000_000 {
			t.Fatalf("%d shards used, %d micro-units in all; want several shards adding up to 64", used, total)
		}
		mustVerify(t, st)
	})
}

// TestUsageWorkersFillThePool: as many PostgreSQL workers as pooled
// connections, all meeting a changed price book at once, still commit:
// no worker holding a connection waits for another one.
func TestUsageWorkersFillThePool(t *testing.T) {
	const workers = 4
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, testdb.PostgresSchemaURL(t), postgres.Options{MaxConns: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := ledger.New(st, ledger.Config{Workers: workers})
	defer e.Close()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for round := 0; round < 3; round++ {
		// A new price every round: every worker's next batch finds its book stale.
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", strconv.Itoa(round+1), t0.Add(time.Duration(round)*time.Hour))}, nil); err != nil {
			t.Fatal(err)
		}
		want := units(t, int64(round+1))
		together(8*workers, func(i int) {
			ev := spaceEvent(fmt.Sprintf("r%d-%d", round, i), newAccountID(), "gpu", 1, t0.Add(time.Duration(round)*time.Hour))
			res, err := e.Ingest(ctx, []abacus.UsageEvent{ev})
			if err != nil {
				t.Error(err)
				return
			}
			if res[0].Status != abacus.IngestAccepted || res[0].Charged != want {
				t.Errorf("event %s: %s charged %s, want accepted and %s", ev.ID, res[0].Status, res[0].Charged, want)
			}
		})
		if t.Failed() {
			t.FailNow()
		}
	}
	mustVerify(t, st)
}

// TestUsageBatchCap: usage batches grow to Usage.MaxBatch events, past the
// ledger's MaxBatch, and no further.
func TestUsageBatchCap(t *testing.T) {
	for _, tc := range []struct {
		cap, minBatches, maxBatches int64
	}{
		{cap: 40, minBatches: 1, maxBatches: 3},  // what came first, then the rest queued behind it
		{cap: 10, minBatches: 3, maxBatches: 30}, // 30 events in batches of 10 at most
	} {
		t.Run(strconv.FormatInt(tc.cap, 10), func(t *testing.T) {
			ctx := context.Background()
			st := testdb.SQLite(t)
			t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "1", t0)}, nil); err != nil {
				t.Fatal(err)
			}
			e := ledger.New(st, ledger.Config{MaxBatch: 5, Usage: ledger.UsageConfig{MaxBatch: int(tc.cap)}})
			defer e.Close()
			acct := createAccount(t, st, abacus.Overdraft{Unlimited: true})
			if _, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("warm", acct, "gpu", 1, t0)}); err != nil {
				t.Fatal(err) // the price book and the account are cached from here on
			}
			before, _, _ := e.Stats()
			release := blockWrites(t, st)
			var wg sync.WaitGroup
			for i := range 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ev := spaceEvent(fmt.Sprintf("e%d", i), acct, "gpu", 1, t0.Add(time.Duration(i)*time.Minute))
					if res, err := e.Ingest(ctx, []abacus.UsageEvent{ev}); err != nil || res[0].Status != abacus.IngestAccepted {
						t.Errorf("event %d: %v %+v", i, err, res)
					}
				}()
			}
			time.Sleep(200 * time.Millisecond) // every event queued behind the blocked batch
			release()
			wg.Wait()
			after, _, _ := e.Stats()
			if n := after - before; n < tc.minBatches || n > tc.maxBatches {
				t.Fatalf("30 events took %d batches, want %d to %d", n, tc.minBatches, tc.maxBatches)
			}
			mustVerify(t, st)
		})
	}
}

// TestRerateChargesInTheOrderOfUsage: unpriced events are charged in the
// order the usage happened, whatever order they are listed in (a batch
// stores its events by id): an account with money for two of three pays
// for its first two days, and its third day's event is refused.
func TestRerateChargesInTheOrderOfUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{})
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "2")
		f.ingest(spaceEvent("z-day1", acct, "gpu", 1, f.t0), spaceEvent("a-day2", acct, "gpu", 1, f.t0.Add(24*time.Hour)),
			spaceEvent("m-day3", acct, "gpu", 1, f.t0.Add(48*time.Hour)))
		if err := f.st.PriceBookAdd(f.ctx, []abacus.Price{perMinute("gpu", "1", f.t0.AddDate(0, -1, 0))}, nil); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Rerate(f.ctx, []string{"m-day3", "a-day2", "z-day1"})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []abacus.IngestStatus{abacus.IngestRejected, abacus.IngestAccepted, abacus.IngestAccepted} {
			if res[i].Status != want {
				t.Fatalf("%s: %+v, want %s", res[i].ID, res[i], want)
			}
		}
		mustVerify(t, f.st)
	})
}

// TestAnEventStoredUnderItsSentSpellingIsFound: an earlier release stored
// a UUID in braces or after urn:uuid: as sent; sent again as it was, it is
// that event (a duplicate, not charged twice), and a void by that spelling
// finds it.
func TestAnEventStoredUnderItsSentSpellingIsFound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		const id = "91000000-0000-4000-8000-0000000000d1"
		// The bare UUID is another event beside them, charged 7: the
		// void of "{X}" had taken it out instead (QA).
		if r := f.ingest(spaceEvent(id, acct, "gpu", 7, f.t0)); r[0].Status != abacus.IngestAccepted {
			t.Fatalf("%+v", r[0])
		}
		for _, sent := range []string{"{" + id + "}", "urn:uuid:" + strings.ToUpper(id)} {
			old := abacus.UsageEvent{ID: sent, Account: acct, Value: 3, Scene: 11, ResourceID: "gpu", CustomerID: "space-1", Time: f.t0}
			storeUnpriced(t, f.st, old) // as an earlier release did: under the id as sent
			again := old
			if err := again.Validate(); err != nil || again.ID != id {
				t.Fatalf("%v %q", err, again.ID)
			}
			if r := f.ingest(again); r[0].Status != abacus.IngestDuplicate || r[0].ID != sent {
				t.Fatalf("%s sent again: %+v, want a duplicate of the event stored under it", sent, r[0])
			}
			if res, err := f.e.Rerate(f.ctx, []string{sent}); err != nil || res[0].Status != abacus.IngestAccepted || res[0].Charged.String() != "3" {
				t.Fatalf("rerate by %s: %+v %v", sent, res, err)
			}
			if res, err := f.e.VoidEvents(f.ctx, []string{sent}); err != nil || res[0].Err != nil || res[0].Refunded.String() != "3" {
				t.Fatalf("void by %s: %+v %v", sent, res, err)
			}
		}
		if cash := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; cash.String() != "-7" {
			t.Fatalf("cash %s, want -7: the bare UUID's event, the others each charged once by its rerate and voided", cash)
		}
		mustVerify(t, f.st)
	})
}
