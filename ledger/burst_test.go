package ledger_test

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
)

// TestBurstCycles: utilisation sets the next level, which takes effect one
// cycle later; each cycle runs once however many engines try; events are
// charged at the level in force at their own time.
func TestBurstCycles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{}})
		defer e.Close()
		t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{burstPrice("cpu", t0, "0.5", "1", "", "", "4")}, nil); err != nil {
			t.Fatal(err)
		}
		rule := rating.LevelRule{Step: decimal.NewFromInt(5), Max: 20}
		if err := st.BurstUtilisationSet(ctx, "cpu", decimal.RequireFromString("17.5"), t0); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ { // three engines racing for the same cycle
			ran, err := e.RunBurstCycle(ctx, t0.Add(time.Minute), rule)
			if err != nil || ran != (i == 0) {
				t.Fatalf("cycle at t0, try %d: ran %v, %v", i, ran, err)
			}
		}
		cur, next, err := st.BurstLevels(ctx, t0.Add(time.Minute))
		if err != nil || cur["cpu"] != 0 || next["cpu"] != 4 {
			t.Fatalf("after the first cycle: current %v next %v %v", cur, next, err)
		}
		if _, err := e.RunBurstCycle(ctx, t0.Add(abacus.BurstCycle), rule); err != nil {
			t.Fatal(err)
		}
		cur, _, _ = st.BurstLevels(ctx, t0.Add(abacus.BurstCycle))
		if cur["cpu"] != 4 {
			t.Fatalf("next must take effect one cycle later: %v", cur)
		}
		before, err := st.PriceBookLoad(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Utilisation unchanged: the cycle runs, but no level changes, so
		// nothing is recorded and no engine need reload its prices.
		if ran, err := e.RunBurstCycle(ctx, t0.Add(2*abacus.BurstCycle), rule); err != nil || !ran {
			t.Fatalf("third cycle: ran %v, %v", ran, err)
		}
		after, err := st.PriceBookLoad(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []abacus.BurstLevel{{Resource: "cpu", Level: 4, EffectiveFrom: t0.Add(abacus.BurstCycle)}}
		if !reflect.DeepEqual(after.Levels, want) || after.Version != before.Version {
			t.Fatalf("an unchanged level is recorded again: levels %+v, version %d → %d", after.Levels, before.Version, after.Version)
		}
		acct := newAccountID()
		ev := func(id string, at time.Time) abacus.UsageEvent {
			return spaceEvent(id, acct, "cpu", 1, at)
		}
		res, err := e.Ingest(ctx, []abacus.UsageEvent{ev("before", t0.Add(time.Minute)), ev("after", t0.Add(abacus.BurstCycle+time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Charged.String() != "1" || res[1].Charged.String() != "4" {
			t.Fatalf("level 1 before the change, 4 after: %+v", res)
		}
		mustVerify(t, st)
	})
}

// TestBurstLevelAfterChargedEvents: a cycle runs a little after its start,
// and events dated after that start may be charged before it runs, at the
// level then in force. The new level then takes effect just after the
// latest of them, not at the cycle's start, so the levels recorded still
// say what every charged event paid; a late event before that point pays
// the old level too.
func TestBurstLevelAfterChargedEvents(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e, t0, rule := levelFourNext(t, st)
		acct := newAccountID()
		start := t0.Add(abacus.BurstCycle)
		charge := func(id string, at time.Time) string {
			t.Helper()
			res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent(id, acct, "cpu", 1, at)})
			if err != nil || res[0].Status != abacus.IngestAccepted {
				t.Fatalf("%s: %+v %v", id, res, err)
			}
			return res[0].Charged.String()
		}
		if got := charge("early", start.Add(30*time.Second)); got != "1" {
			t.Fatalf("an event of the next cycle before it ran: charged %s, want the level in force, 1", got)
		}
		if _, err := e.RunBurstCycle(ctx, start.Add(40*time.Second), rule); err != nil {
			t.Fatal(err)
		}
		wantLevels(t, st, "level 4 from just after the early event", abacus.BurstLevel{Resource: "cpu", Level: 4, EffectiveFrom: start.Add(30*time.Second + time.Microsecond)})
		if got := charge("late", start.Add(10*time.Second)); got != "1" {
			t.Fatalf("a late event before the change: charged %s, want 1", got)
		}
		if got := charge("after", start.Add(35*time.Second)); got != "4" {
			t.Fatalf("an event after the change: charged %s, want 4", got)
		}
		mustVerify(t, st)
	})
}

// TestBurstLevelNotHeldBackByAClockYearsAhead: an event dated far ahead
// (let in with no bound on how far ahead an event may be) does not hold a
// level change back to its time: it had held every later change of its
// resource, for every account, for as long.
func TestBurstLevelNotHeldBackByAClockYearsAhead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e, t0, rule := levelFourNext(t, st)
		acct := newAccountID()
		start := t0.Add(abacus.BurstCycle)
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("ahead", acct, "cpu", 1, t0.AddDate(1, 0, 0))}); err != nil || res[0].Charged.String() != "1" {
			t.Fatalf("the event a year ahead: %+v %v, want charged at the level in force, 1", res, err)
		}
		if _, err := e.RunBurstCycle(ctx, start.Add(time.Second), rule); err != nil {
			t.Fatal(err)
		}
		wantLevels(t, st, "level 4 from the cycle's start", abacus.BurstLevel{Resource: "cpu", Level: 4, EffectiveFrom: start})
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("now", acct, "cpu", 1, start.Add(time.Minute))}); err != nil || res[0].Charged.String() != "4" {
			t.Fatalf("an event of this cycle: %+v %v, want charged at level 4", res, err)
		}
		// Its void gives back what it paid, not the level recorded at its
		// time since (4), which had given 3 more than it paid.
		if res, err := e.VoidEvents(ctx, []string{"ahead"}); err != nil || res[0].Refunded.String() != "1" {
			t.Fatalf("the void of the event a year ahead: %+v %v, want 1 back", res, err)
		}
		mustVerify(t, st)
	})
}

// TestBurstFarAheadEventLeavesTheHoldBackToOthers: an event dated far
// ahead, charged before a cycle, does not keep that cycle from holding its
// change back to an event near its start. Before, the latest use of the
// resource's prices was the far event's, past the hold-back, so the cycle
// held back nothing: the near event paid level 1 where the recorded level
// at its time said 4 (QA).
func TestBurstFarAheadEventLeavesTheHoldBackToOthers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		_, t0, rule := levelFourNext(t, st)
		start := t0.Add(abacus.BurstCycle)
		clock := start.Add(20 * time.Second) // the cycle of start has not run yet
		e := ledger.New(st, ledger.Config{Now: func() time.Time { return clock }, Usage: ledger.UsageConfig{MaxAhead: -1}})
		defer e.Close()
		acct, other := newAccountID(), newAccountID()
		res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("far", other, "cpu", 1, start.Add(time.Hour)),
			spaceEvent("near", acct, "cpu", 1, start.Add(30*time.Second))})
		if err != nil || res[0].Charged.String() != "1" || res[1].Charged.String() != "1" {
			t.Fatalf("%+v %v, want both charged at the level in force, 1", res, err)
		}
		clock = start.Add(40 * time.Second)
		if _, err := e.RunBurstCycle(ctx, clock, rule); err != nil {
			t.Fatal(err)
		}
		wantLevels(t, st, "level 4 from just after the near event", abacus.BurstLevel{Resource: "cpu", Level: 4, EffectiveFrom: start.Add(30*time.Second + time.Microsecond)})
		mustVerify(t, st)
	})
}

// TestBurstWarnsOfStaleUtilisation: a cycle that goes by a resource's
// utilisation reported more than three cycles ago says so, as its feed may
// have stopped; the level still follows the report.
func TestBurstWarnsOfStaleUtilisation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		var logged lockedBuffer
		e := ledger.New(st, ledger.Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
		defer e.Close()
		t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		rule := rating.LevelRule{Step: decimal.NewFromInt(5), Max: 20}
		if err := st.BurstUtilisationSet(ctx, "cpu", decimal.RequireFromString("12"), t0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RunBurstCycle(ctx, t0.Add(abacus.BurstCycle), rule); err != nil {
			t.Fatal(err)
		}
		_, fresh, err := st.BurstLevels(ctx, t0.Add(abacus.BurstCycle))
		if err != nil || fresh["cpu"] == 0 {
			t.Fatalf("12%% must call for a level: %v %v", fresh, err)
		}
		if strings.Contains(logged.String(), "last reported long ago") {
			t.Fatalf("a report one cycle old was called stale:\n%s", logged.String())
		}
		if _, err := e.RunBurstCycle(ctx, t0.Add(4*abacus.BurstCycle), rule); err != nil {
			t.Fatal(err)
		}
		if out := logged.String(); !strings.Contains(out, "last reported long ago") || !strings.Contains(out, "resource=cpu") || !strings.Contains(out, "age=20m0s") {
			t.Fatalf("a report four cycles old:\n%s", out)
		}
		if _, next, err := st.BurstLevels(ctx, t0.Add(4*abacus.BurstCycle)); err != nil || next["cpu"] != fresh["cpu"] {
			t.Fatalf("the level must still follow the report: next %v, %v when it was fresh: %v", next, fresh, err)
		}
	})
}

// burstPrice prices minutes of resource from from by burst level: the
// i-th price is level i's, and an empty one leaves the level out.
// levelFourNext starts a burst test on st: an engine with no bound on how
// far ahead an event may be, a burst price for cpu of 1 at level 1 and 4
// at level 4 from t0, and the cycle at t0 run with cpu at 17.5%, which
// makes 4 the next level under rule.
func levelFourNext(t *testing.T, st abacus.Store) (e *ledger.Engine, t0 time.Time, rule rating.LevelRule) {
	t.Helper()
	ctx := context.Background()
	e = ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1}})
	t.Cleanup(func() { e.Close() })
	t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	if err := st.PriceBookAdd(ctx, []abacus.Price{burstPrice("cpu", t0, "", "1", "", "", "4")}, nil); err != nil {
		t.Fatal(err)
	}
	rule = rating.LevelRule{Step: decimal.NewFromInt(5), Max: 20}
	if err := st.BurstUtilisationSet(ctx, "cpu", decimal.RequireFromString("17.5"), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RunBurstCycle(ctx, t0, rule); err != nil {
		t.Fatal(err)
	}
	return e, t0, rule
}

// wantLevels fails the test unless the levels recorded are want.
func wantLevels(t *testing.T, st abacus.Store, what string, want ...abacus.BurstLevel) {
	t.Helper()
	book, err := st.PriceBookLoad(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(book.Levels, want) {
		t.Fatalf("levels %+v, want %s", book.Levels, what)
	}
}

func burstPrice(resource string, from time.Time, levels ...string) abacus.Price {
	p := perMinute(resource, "0", from)
	p.Model, p.UnitPrice = abacus.ModelBurst, decimal.Zero
	for level, price := range levels {
		if price != "" {
			p.Levels = append(p.Levels, abacus.BurstPrice{Level: level, UnitPrice: decimal.RequireFromString(price)})
		}
	}
	return p
}

// lockedBuffer is a log's output, written from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBurstWarnsOfALevelWithoutAPrice: a cycle that sets a resource's next
// level to one its burst price has no price for says so, a cycle ahead:
// its events would be unpriced.
func TestBurstWarnsOfALevelWithoutAPrice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		var logged lockedBuffer
		e := ledger.New(st, ledger.Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
		defer e.Close()
		t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		rule := rating.LevelRule{Step: decimal.NewFromInt(5), Max: 20}
		// The engine holds the book from before the price: the cycles after
		// it must judge by the book as stored (QA: a cycle warned of no gap
		// in a price imported since).
		if _, err := e.RunBurstCycle(ctx, t0.Add(-abacus.BurstCycle), rule); err != nil {
			t.Fatal(err)
		}
		if err := st.PriceBookAdd(ctx, []abacus.Price{burstPrice("cpu", t0, "0.5", "", "", "", "4")}, nil); err != nil {
			t.Fatal(err)
		}
		for i, c := range []struct {
			percent string
			warned  bool
		}{{"17.5", false}, {"50", true}} { // levels 4 and 11
			if err := st.BurstUtilisationSet(ctx, "cpu", decimal.RequireFromString(c.percent), t0.Add(time.Duration(i)*abacus.BurstCycle)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.RunBurstCycle(ctx, t0.Add(time.Duration(i)*abacus.BurstCycle), rule); err != nil {
				t.Fatal(err)
			}
			out := logged.String()
			if warned := strings.Contains(out, "has no price for"); warned != c.warned || warned && !strings.Contains(out, "resource=cpu level=11") {
				t.Fatalf("at %s%%: warned %v, want %v:\n%s", c.percent, warned, c.warned, out)
			}
		}
	})
}

// TestBurstLevelHeldPastTheNextCycleStillChanges: a change held back past
// the next cycle's start (an event dated just after it was charged before
// the change's cycle ran) is what that next cycle's change follows: the
// level computed for it takes effect, just after the held change. Before,
// the next cycle compared with the level in force at its own start, saw no
// change, and the held level stayed in force for the whole cycle.
func TestBurstLevelHeldPastTheNextCycleStillChanges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e, t0, rule := levelFourNext(t, st)
		if err := st.BurstUtilisationSet(ctx, "cpu", decimal.Zero, t0.Add(time.Minute)); err != nil { // and 1 after it
			t.Fatal(err)
		}
		acct := newAccountID()
		c1, c2 := t0.Add(abacus.BurstCycle), t0.Add(2*abacus.BurstCycle)
		held := c2.Add(500 * time.Millisecond)
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("ahead", acct, "cpu", 1, held)}); err != nil || res[0].Charged.String() != "1" {
			t.Fatalf("an event just past the next cycle's start: %+v %v, want charged at level 1", res, err)
		}
		for _, at := range []time.Time{c1.Add(2 * time.Second), c2} {
			if _, err := e.RunBurstCycle(ctx, at, rule); err != nil {
				t.Fatal(err)
			}
		}
		wantLevels(t, st, "level 4 just after the event ahead and 1 just after that",
			abacus.BurstLevel{Resource: "cpu", Level: 4, EffectiveFrom: held.Add(time.Microsecond)},
			abacus.BurstLevel{Resource: "cpu", Level: 1, EffectiveFrom: held.Add(2 * time.Microsecond)})
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("now", acct, "cpu", 1, c2.Add(time.Minute))}); err != nil || res[0].Charged.String() != "1" {
			t.Fatalf("an event of the second cycle: %+v %v, want charged at level 1, computed for it", res, err)
		}
		if cur, _, err := st.BurstLevels(ctx, c2.Add(time.Minute)); err != nil || cur["cpu"] != 1 {
			t.Fatalf("current levels %v (%v), want cpu at 1", cur, err)
		}
		mustVerify(t, st)
	})
}

// TestBurstCorrectionWithoutALevelEventsPaid: a correction that takes away
// a level charged events paid leaves their month at the prices it paid,
// each event refused naming the one with no price now; voided, that event
// no longer holds the month back. Before, the reprice failed the batch as
// an internal error ("could not confirm the commit").
func TestBurstCorrectionWithoutALevelEventsPaid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e, t0, rule := levelFourNext(t, st)
		if _, err := e.RunBurstCycle(ctx, t0.Add(abacus.BurstCycle), rule); err != nil { // level 4 from the second cycle
			t.Fatal(err)
		}
		acct := newAccountID()
		res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("l1", acct, "cpu", 1, t0.Add(time.Minute)),
			spaceEvent("l4", acct, "cpu", 1, t0.Add(abacus.BurstCycle+time.Minute))})
		if err != nil || res[0].Charged.String() != "1" || res[1].Charged.String() != "4" {
			t.Fatalf("%+v %v, want charged 1 and 4", res, err)
		}
		fix := burstPrice("cpu", t0, "", "2", "", "3") // level 4 gone
		fix.Revision = 1
		if err := st.PriceBookCorrect(ctx, []abacus.Price{fix}); err != nil {
			t.Fatal(err)
		}
		res, err = e.Reprice(ctx, []string{"l1", "l4"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeConflict || r.Err.Field != "uuid" || !strings.Contains(r.Err.Message, `"l4" has no price at the corrected prices`) {
				t.Fatalf("reprice %+v (%v), want each refused naming l4", r, r.Err)
			}
		}
		if got := wallet(t, st, acct, abacus.BucketCash, "USD").Balance.String(); got != "-5" {
			t.Fatalf("cash %s after the refused reprice, want -5: nothing moved", got)
		}
		if res, err := e.VoidEvents(ctx, []string{"l4"}); err != nil || res[0].Refunded.String() != "4" {
			t.Fatalf("void of l4: %+v %v", res, err)
		}
		if res, err := e.Reprice(ctx, []string{"l1", "l4"}); err != nil || res[0].Err != nil || res[1].Err != nil {
			t.Fatalf("reprice after the void: %+v %v", res, err)
		}
		if got := wallet(t, st, acct, abacus.BucketCash, "USD").Balance.String(); got != "-2" {
			t.Fatalf("cash %s, want -2: l1 at the corrected level 1", got)
		}
		mustVerify(t, st)
	})
}
