package ledger_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
)

// priceID returns the id of the stored price of resource with valid_from
// from and the given revision.
func priceID(t *testing.T, st abacus.Store, resource string, from time.Time, revision int) int64 {
	t.Helper()
	pb, err := st.PriceBookLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pb.Prices {
		if p.ResourceID == resource && p.ValidFrom.Equal(from) && p.Revision == revision {
			return p.ID
		}
	}
	t.Fatalf("no price of %s from %s in revision %d", resource, from, revision)
	return 0
}

func storedEvent(t *testing.T, st abacus.Store, id string) abacus.StoredEvent {
	t.Helper()
	evs, err := st.Events(t.Context(), abacus.EventQuery{IDs: []string{id}, Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %s: %v %v", id, evs, err)
	}
	return evs[0]
}

// TestRepricePerUnit: a version that corrects the price from a time before
// events already charged reprices those events, and only those: each gets
// back what it paid and pays the corrected price, its rollup follows, and
// a second reprice changes nothing. A void afterwards gives back the
// corrected charge.
func TestRepricePerUnit(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", t0.AddDate(0, -1, 0)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("before", acct, "gpu", 10, t0.Add(24*time.Hour)), spaceEvent("after", acct, "gpu", 5, t0.Add(20*24*time.Hour)),
			spaceEvent("later", acct, "gpu", 3, t0.Add(25*24*time.Hour)))
		fix := perMinute("gpu", "2", t0.Add(15*24*time.Hour))
		if err := f.st.PriceBookAdd(f.ctx, []abacus.Price{fix}, nil); abacus.ErrorCodeOf(err) != abacus.CodeConflict {
			t.Fatalf("an ordinary import of a version before charged events: %v", err)
		}
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fix}); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Reprice(f.ctx, []string{"before", "after", "later"})
		if err != nil {
			t.Fatal(err)
		}
		// The month is repriced whole: the event before the correction pays
		// what it paid.
		for i, want := range [][2]string{{"10", "10"}, {"5", "10"}, {"3", "6"}} {
			if r := res[i]; r.Status != abacus.IngestAccepted || !r.Repriced || r.Refunded.String() != want[0] || r.Charged.String() != want[1] {
				t.Fatalf("%s: %+v, want %s back and %s charged", r.ID, r, want[0], want[1])
			}
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "-26" {
			t.Fatalf("cash %s, want -26: 10 at the old price, 16 at the corrected one", b)
		}
		fixID := priceID(t, f.st, "gpu", fix.ValidFrom, 0)
		if e := storedEvent(t, f.st, "after"); e.Charged.String() != "10" || len(e.PriceIDs) != 1 || e.PriceIDs[0] != fixID || e.Drawn.Cash.String() != "10" {
			t.Fatalf("the repriced event: %+v, want 10 charged at price %d", e, fixID)
		}
		rolls := testdb.Rollups(t, f.st, abacus.RollupQuery{Account: acct, From: t0, To: t0.AddDate(0, 1, 0)})
		total := abacus.Zero
		for _, r := range rolls {
			total, _ = total.Add(r.Amount)
		}
		if total.String() != "26" {
			t.Fatalf("rollups hold %s, want 26", total)
		}
		mustVerify(t, f.st)
		again, err := f.e.Reprice(f.ctx, []string{"after", "later"})
		if err != nil || again[0].Repriced || again[1].Repriced {
			t.Fatalf("repriced twice: %+v %v", again, err)
		}
		if res, err := f.e.VoidEvents(f.ctx, []string{"after"}); err != nil || res[0].Refunded.String() != "10" {
			t.Fatalf("void after the reprice: %+v %v, want the corrected 10 back", res, err)
		}
		mustVerify(t, f.st)
	})
}

// TestRepriceTieredMonth: a revision that replaces a graduated price from
// its own start, with the month's events repriced in one call, leaves the
// month charged exactly what the corrected price makes of its total.
func TestRepriceTieredMonth(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		from := t0.AddDate(0, -1, 0)
		tiered := func(first, rest string) abacus.Price {
			return tieredPrice("gpu", abacus.ModelGraduated, from, tier{100, first}, tier{0, rest})
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tiered("1", "0.5"))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		var ids []string
		for i, v := range []int64{70, 60, 50, 20} { // 200 units: 100 × 1 + 100 × 0.5 = 150
			id := string(rune('a' + i))
			ids = append(ids, id)
			f.ingest(spaceEvent(id, acct, "gpu", v, t0.Add(time.Duration(i+1)*24*time.Hour)))
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "-150" {
			t.Fatalf("cash %s before", b)
		}
		fixed := tiered("2", "1")
		fixed.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
			t.Fatal(err)
		}
		if rep, err := ledger.Verify(f.ctx, f.st); err != nil || rep.OK() || !strings.Contains(rep.String(), "which price") {
			t.Fatalf("verify before the reprice, with events charged at a replaced revision: %v\n%s", err, rep)
		}
		res, err := f.e.Reprice(f.ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Status != abacus.IngestAccepted || !r.Repriced {
				t.Fatalf("%+v", r)
			}
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "-300" {
			t.Fatalf("cash %s, want -300: 100 × 2 + 100 × 1", b)
		}
		mustVerify(t, f.st)
		// What comes next in the month is charged at the corrected tiers.
		if r := f.ingest(spaceEvent("e", acct, "gpu", 10, t0.Add(10*24*time.Hour))); r[0].Charged.String() != "10" {
			t.Fatalf("after: %+v", r[0])
		}
	})
}

// TestRepriceRefusedByTheFloor: a corrected charge the account's floor
// refuses leaves that event as it was, and the others of the same batch
// are repriced; once the account can pay, a reprice takes it too.
func TestRepriceRefusedByTheFloor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", t0.AddDate(0, -1, 0)))
		poor := f.account(abacus.Overdraft{}, nil)
		rich := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.fund(poor, abacus.TxTopup, "12")
		f.ingest(spaceEvent("poor", poor, "gpu", 10, t0.Add(24*time.Hour)), spaceEvent("rich", rich, "gpu", 10, t0.Add(24*time.Hour)))
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{perMinute("gpu", "2", t0)}); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Reprice(f.ctx, []string{"poor", "rich", "missing"})
		if err != nil {
			t.Fatal(err)
		}
		if r := res[0]; r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeInsufficientFunds || r.Err.Field != "uuid" {
			t.Fatalf("beyond the floor: %+v", r)
		}
		if r := res[1]; !r.Repriced || r.Charged.String() != "20" {
			t.Fatalf("the other account, in the same batch: %+v", r)
		}
		if r := res[2]; r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeNotFound {
			t.Fatalf("an unknown event: %+v", r)
		}
		if b := wallet(t, f.st, poor, abacus.BucketCash, "USD").Balance; b.String() != "2" {
			t.Fatalf("the refused account's cash %s, want 2 as before", b)
		}
		if e := storedEvent(t, f.st, "poor"); e.Charged.String() != "10" {
			t.Fatalf("the refused event: %+v", e)
		}
		if rep, err := ledger.Verify(f.ctx, f.st); err != nil || rep.OK() {
			t.Fatalf("verify passed with an event charged at a replaced price: %v\n%s", err, rep)
		}
		f.fund(poor, abacus.TxTopup, "10")
		if res, err := f.e.Reprice(f.ctx, []string{"poor"}); err != nil || !res[0].Repriced {
			t.Fatalf("after a top-up: %+v %v", res, err)
		}
		mustVerify(t, f.st)
		voided := f.ingest(spaceEvent("gone", rich, "gpu", 1, t0.Add(48*time.Hour)))
		if voided[0].Status != abacus.IngestAccepted {
			t.Fatal(voided[0])
		}
		f.e.VoidEvents(f.ctx, []string{"gone"})
		if res, err := f.e.Reprice(f.ctx, []string{"gone"}); err != nil || res[0].Status != abacus.IngestAccepted || res[0].Repriced {
			t.Fatalf("a voided event charged at the price in force: %+v %v", res, err)
		}
	})
}

// TestCorrectionsChargeTheCorrectedBook: whatever the mix of events, voids,
// corrections (versions that take effect before events already charged,
// and revisions that replace a version from its own start) and reprices,
// once the events are repriced every event that stands names the versions
// in force at its time, one with a per-minute price was charged exactly
// that price of its own time, and verify holds.
func TestCorrectionsChargeTheCorrectedBook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		tiered := func(first, rest string, from time.Time) abacus.Price {
			return tieredPrice("cpu", abacus.ModelGraduated, from, tier{3, first}, tier{0, rest})
		}
		first := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			st := checkStore(t, rt, first, open)
			if st != first {
				defer st.Close()
			}
			f := newUsageFixture(t, st, ledger.UsageConfig{}, perMinute("gpu", "1", t0), tiered("2", "1", t0))
			defer f.e.Close()
			var all []string
			for range rapid.IntRange(1, 2).Draw(rt, "accounts") {
				all = append(all, correctionsProgram(rt, f, t0, tiered)...)
			}
			// Every account's events, the first's after the second's corrections.
			res, err := f.e.Reprice(f.ctx, all)
			if err != nil {
				rt.Fatalf("reprice: %v", err)
			}
			for _, r := range res {
				if r.Status != abacus.IngestAccepted && r.Err.Code != abacus.CodeConflict { // voided ones are refused
					rt.Fatalf("reprice: %+v", r)
				}
			}
			mustVerify(rt, f.st)
		})
	})
}

// correctionsProgram runs one account's events, voids, corrections and
// reprices, repricing them at the end; it checks that every standing gpu
// event was then charged its per-minute price of its own time, and
// returns the account's events.
func correctionsProgram(rt *rapid.T, f *usageFixture, t0 time.Time, tiered func(first, rest string, from time.Time) abacus.Price) []string {
	acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
	var mine []string
	for i, n := 0, rapid.IntRange(1, 15).Draw(rt, "steps"); i < n; i++ {
		resource := rapid.SampledFrom([]string{"gpu", "cpu"}).Draw(rt, "resource")
		switch rapid.SampledFrom([]string{"event", "event", "void", "correct", "reprice"}).Draw(rt, "action") {
		case "event":
			at := t0.Add(time.Duration(rapid.IntRange(0, 24*60).Draw(rt, "minute")) * time.Minute)
			id := string(newAccountID())
			if res := f.ingest(spaceEvent(id, acct, resource, rapid.Int64Range(1, 5).Draw(rt, "value"), at)); res[0].Status != abacus.IngestAccepted {
				rt.Fatalf("ingest: %+v", res[0])
			}
			mine = append(mine, id)
		case "void":
			if len(mine) > 0 {
				f.void(mine[rapid.IntRange(0, len(mine)-1).Draw(rt, "which")]) // a second void is refused; either is fine
			}
		case "correct":
			price := func() string { return rapid.SampledFrom([]string{"1", "2", "3", "4"}).Draw(rt, "price") }
			p := perMinute(resource, price(), t0)
			if resource == "cpu" {
				p = tiered(price(), price(), t0)
			}
			pb, err := f.st.PriceBookLoad(f.ctx)
			if err != nil {
				rt.Fatal(err)
			}
			var froms []time.Time
			revision := map[time.Time]int{}
			for _, q := range pb.Prices {
				if q.ResourceID == resource {
					froms = append(froms, q.ValidFrom.UTC())
					revision[q.ValidFrom.UTC()] = max(revision[q.ValidFrom.UTC()], q.Revision)
				}
			}
			// A counted price changes versions only at a month's start
			// (rating.CheckCountedVersions, which the CLI applies): two in
			// one month let a void give back more than the month paid,
			// which verify names. cpu's are corrected in place.
			if resource == "cpu" || rapid.Bool().Draw(rt, "replace") { // a stored version, from its own start
				p.ValidFrom = rapid.SampledFrom(froms).Draw(rt, "from")
				p.Revision = revision[p.ValidFrom] + 1
			} else if p.ValidFrom = t0.Add(time.Duration(rapid.IntRange(1, 36*60).Draw(rt, "minute")) * time.Minute); slices.ContainsFunc(froms, p.ValidFrom.Equal) {
				p.Revision = revision[p.ValidFrom] + 1
			}
			if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{p}); err != nil {
				rt.Fatalf("correcting %s from %s in revision %d: %v", resource, p.ValidFrom, p.Revision, err)
			}
		case "reprice":
			if _, err := f.e.Reprice(f.ctx, mine); err != nil {
				rt.Fatalf("reprice: %v", err)
			}
		}
	}
	res, err := f.e.Reprice(f.ctx, mine)
	if err != nil {
		rt.Fatalf("reprice: %v", err)
	}
	for _, r := range res {
		if r.Status != abacus.IngestAccepted && r.Err.Code != abacus.CodeConflict { // voided ones are refused
			rt.Fatalf("reprice: %+v", r)
		}
	}
	pb, err := f.st.PriceBookLoad(f.ctx)
	if err != nil {
		rt.Fatal(err)
	}
	book, err := rating.NewBook(nil, pb.Prices, pb.Levels, pb.Commitments)
	if err != nil {
		rt.Fatal(err)
	}
	evs, err := f.st.Events(f.ctx, abacus.EventQuery{Account: acct, Limit: 100})
	if err != nil {
		rt.Fatal(err)
	}
	for _, e := range evs {
		if e.Status != abacus.EventCharged || e.ResourceID != "gpu" {
			continue
		}
		p, _ := book.Price(rating.Key{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute"}, "USD", e.Time)
		if want := p.UnitPrice.Mul(decimal.NewFromInt(e.Value)); !e.Charged.Decimal().Equal(want) {
			rt.Fatalf("event %s at %s, %d minutes: charged %s, want %s at price %d", e.ID, e.Time, e.Value, e.Charged, want, p.ID)
		}
	}
	return mine
}

// TestRepriceAndVoidInOneBatch: a void of an event that its batch is
// repricing is refused, and the reprice stands (on SQLite, where a test
// can hold the writer so that both requests join one batch).
func TestRepriceAndVoidInOneBatch(t *testing.T) {
	st := testdb.SQLite(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := newUsageFixture(t, st, ledger.UsageConfig{}, perMinute("gpu", "1", t0.AddDate(0, -1, 0)))
	acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
	f.ingest(spaceEvent("e", acct, "gpu", 10, t0.Add(24*time.Hour)))
	if err := st.PriceBookCorrect(f.ctx, []abacus.Price{perMinute("gpu", "2", t0)}); err != nil {
		t.Fatal(err)
	}
	repriced, voided := inOneBatch(t, f, acct,
		func() ([]abacus.IngestResult, error) { return f.e.Reprice(f.ctx, []string{"e"}) },
		func() ([]abacus.IngestResult, error) { return f.e.VoidEvents(f.ctx, []string{"e"}) })
	if len(repriced) != 1 || !repriced[0].Repriced || len(voided) != 1 || voided[0].Status != abacus.IngestRejected ||
		!strings.Contains(voided[0].Err.Message, "is being charged by this batch") {
		t.Fatalf("reprice %+v, void %+v", repriced, voided)
	}
	mustVerify(t, st)
}

// TestRepriceAFreeEvent: an event first charged nothing names no
// transaction; repriced, what it pays is in the reprice's, and verify
// follows it there.
func TestRepriceAFreeEvent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0", t0))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		if r := f.ingest(spaceEvent("free", acct, "gpu", 10, t0.Add(time.Hour))); r[0].Status != abacus.IngestAccepted || !r[0].Charged.IsZero() {
			t.Fatalf("%+v", r[0])
		}
		fixed := perMinute("gpu", "1", t0)
		fixed.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"free"}); err != nil || !res[0].Repriced || res[0].Charged.String() != "10" {
			t.Fatalf("%+v %v", res, err)
		}
		if e := storedEvent(t, f.st, "free"); e.TxID != 0 || e.Charged.String() != "10" {
			t.Fatalf("%+v", e)
		}
		mustVerify(t, f.st)
	})
}

// TestTieredMonthRepricedWhole: whatever the events and voids of a month
// under a graduated price, and whatever revisions replace that price from
// its start, once the month's events are repriced in one call the account
// has paid, net of what voids gave back, exactly what the price in force
// makes of the month's standing usage.
func TestTieredMonthRepricedWhole(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		tiered := func(first, rest int64, revision int) abacus.Price {
			p := tieredPrice("cpu", abacus.ModelGraduated, t0, tier{3, strconv.FormatInt(first, 10)}, tier{0, strconv.FormatInt(rest, 10)})
			p.Revision = revision
			return p
		}
		stores := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			st := checkStore(t, rt, stores, open)
			if st != stores {
				defer st.Close()
			}
			f := newUsageFixture(t, st, ledger.UsageConfig{}, tiered(2, 1, 0))
			defer f.e.Close()
			revision, first, rest := 0, int64(2), int64(1)
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			var mine []string
			for i, n := 0, rapid.IntRange(1, 12).Draw(rt, "steps"); i < n; i++ {
				switch rapid.SampledFrom([]string{"event", "event", "event", "void", "correct"}).Draw(rt, "action") {
				case "event":
					at := t0.Add(time.Duration(rapid.IntRange(0, 28*24*60).Draw(rt, "minute")) * time.Minute)
					id := string(newAccountID())
					if res := f.ingest(spaceEvent(id, acct, "cpu", rapid.Int64Range(1, 4).Draw(rt, "value"), at)); res[0].Status != abacus.IngestAccepted {
						rt.Fatalf("ingest: %+v", res[0])
					}
					mine = append(mine, id)
				case "void":
					if len(mine) > 0 {
						f.void(mine[rapid.IntRange(0, len(mine)-1).Draw(rt, "which")])
					}
				case "correct":
					revision++
					first, rest = rapid.Int64Range(1, 5).Draw(rt, "first"), rapid.Int64Range(0, 5).Draw(rt, "rest")
					if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{tiered(first, rest, revision)}); err != nil {
						rt.Fatal(err)
					}
				}
			}
			if _, err := f.e.Reprice(f.ctx, mine); err != nil {
				rt.Fatal(err)
			}
			evs, err := f.st.Events(f.ctx, abacus.EventQuery{Account: acct, Limit: 100})
			if err != nil {
				rt.Fatal(err)
			}
			var units int64
			paid := abacus.Zero
			for _, e := range evs {
				if e.Status != abacus.EventVoided {
					units += e.Value
				}
				net, _ := e.Charged.Sub(e.Refunded)
				paid, _ = paid.Add(net)
			}
			want := min(units, 3)*first + max(units-3, 0)*rest
			if paid.String() != decimal.NewFromInt(want).String() {
				rt.Fatalf("%d standing units at %d then %d: paid %s, want %d", units, first, rest, paid, want)
			}
			if cash := wallet(rt, f.st, acct, abacus.BucketCash, "USD").Balance; cash.String() != decimal.NewFromInt(-want).String() {
				rt.Fatalf("cash %s, want %d", cash, -want)
			}
			mustVerify(rt, f.st)
		})
	})
}

// TestRepriceAMonthWithAVoidOfTheOldVersion: an event charged and voided
// at a version since replaced still marks its month for repricing: while
// it was standing, the events after it were charged higher in the tiers,
// and the month must be charged again without it. Once repriced, the
// voided event names no version, and the month is left alone. (A void
// after the correction and before the reprice is refused: see
// TestVoidInAMonthLeftUnrepriced.)
func TestRepriceAMonthWithAVoidOfTheOldVersion(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		tiered := func(first, rest string, revision int) abacus.Price {
			p := tieredPrice("cpu", abacus.ModelGraduated, t0, tier{3, first}, tier{0, rest})
			p.Revision = revision
			return p
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tiered("2", "2", 0))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("a", acct, "cpu", 3, t0.Add(time.Hour)))   // 6
		f.ingest(spaceEvent("b", acct, "cpu", 3, t0.Add(2*time.Hour))) // units 4 to 6: 6
		if res := f.void("a"); res.Refunded.String() != "6" {
			t.Fatalf("void: %+v", res)
		}
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{tiered("3", "1", 1)}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := f.e.Reprice(f.ctx, []string{"a", "b"}); err != nil {
				t.Fatal(err)
			}
			if b := storedEvent(t, f.st, "b"); b.Charged.String() != "9" {
				t.Fatalf("b's 3 units, alone in the month at 3 each: charged %s", b.Charged)
			}
			if a := storedEvent(t, f.st, "a"); len(a.PriceIDs) != 0 || a.Charged.Cmp(a.Refunded) != 0 {
				t.Fatalf("the voided event after the reprice: %+v", a)
			}
		}
		mustVerify(t, f.st)
	})
}

// TestRepriceRefusedLeavesTheMonth: a month is repriced whole or not at
// all. When the floor refuses one of its events, the others are left as
// they were too: repricing them at a corrected volume price with the
// refused event's usage still counted at the old one had taken the month
// below nothing and given the account more than it ever paid in.
func TestRepriceRefusedLeavesTheMonth(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		from := t0.AddDate(0, -1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("bv", abacus.ModelVolume, from, tier{100, "1"}, tier{0, "0.1"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "15")
		f.ingest(spaceEvent("y2", acct, "bv", 11, t0.AddDate(0, 0, 19)))
		f.ingest(spaceEvent("y1", acct, "bv", 90, t0.AddDate(0, 0, 4)))
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "4.9" {
			t.Fatalf("cash %s, want 4.9: the month is C(101) = 10.1", b)
		}
		fixed := tieredPrice("bv", abacus.ModelVolume, from, tier{100, "2"}, tier{0, "0.2"})
		fixed.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Reprice(f.ctx, []string{"y1", "y2"})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeInsufficientFunds {
				t.Fatalf("item %d: %+v, want both refused by the floor", i, r)
			}
		}
		if !strings.Contains(res[0].Err.Message, `"y2"`) {
			t.Fatalf("y1's refusal does not name y2, the month's first event, refused for the month: %+v", res)
		}
		if want := "can spend 4.9 USD (what its buckets have available, cash down to its floor of 0); its usage of resource \"bv\" in the month from 2026-11-01 costs 10.1 more"; !strings.Contains(res[1].Err.Message, want) {
			t.Fatalf("the refusal says %q, want what the corrected month costs more: %q", res[1].Err.Message, want)
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "4.9" {
			t.Fatalf("cash %s, want 4.9 as before", b)
		}
		if y1, y2 := storedEvent(t, f.st, "y1"), storedEvent(t, f.st, "y2"); y1.Charged.String() != "-0.9" || y2.Charged.String() != "11" {
			t.Fatalf("the month's events changed: %s and %s", y1.Charged, y2.Charged)
		}
		// Once the account can pay, the month is repriced whole: C'(101) = 20.2.
		f.fund(acct, abacus.TxTopup, "100")
		if res, err := f.e.Reprice(f.ctx, []string{"y1", "y2"}); err != nil || !res[0].Repriced || !res[1].Repriced {
			t.Fatalf("after a top-up: %+v %v", res, err)
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "94.8" {
			t.Fatalf("cash %s, want 94.8: 115 less C'(101) = 20.2", b)
		}
		mustVerify(t, f.st)
	})
}

// TestVoidInAMonthLeftUnrepriced: a month a correction could not reprice
// (the floor refused it) keeps its events at the replaced version. Later
// events of the month had been charged at the new one, and a void of one
// of the old ones, priced at the old tiers at the top of the month, had
// given back 10 where the month paid 1.1; later events are now charged at
// the month's version, and a void is refused until the month is
// repriced all the same.
func TestVoidInAMonthLeftUnrepriced(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		from := t0.AddDate(0, -1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("r", abacus.ModelGraduated, from, tier{10, "0.01"}, tier{0, "1"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "0.1")
		f.ingest(spaceEvent("a", acct, "r", 10, t0.AddDate(0, 0, 1)))
		fixed := tieredPrice("r", abacus.ModelGraduated, from, tier{10, "1"}, tier{0, "0.01"})
		fixed.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"a"}); err != nil || res[0].Status != abacus.IngestRejected {
			t.Fatalf("the reprice the floor refuses: %+v %v", res, err)
		}
		f.fund(acct, abacus.TxTopup, "1")
		if r := f.ingest(spaceEvent("b", acct, "r", 1, t0.AddDate(0, 0, 19))); r[0].Charged.String() != "1" {
			t.Fatalf("b at the month's replaced tiers, counted after a's 10: %+v", r[0])
		}
		res, err := f.e.VoidEvents(f.ctx, []string{"a"})
		if err != nil || res[0].Status != abacus.IngestRejected || res[0].Err.Code != abacus.CodeConflict || !strings.Contains(res[0].Err.Message, "reprice its month first") {
			t.Fatalf("the void of a: %+v %v, want it refused until the month is repriced", res, err)
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "0" {
			t.Fatalf("cash %s, want 0: 1.1 in, 1.1 charged", b)
		}
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || strings.Contains(rep.String(), "came to") {
			t.Fatalf("verify: %v\n%s\nwant the stale event named, and no month below zero", err, rep)
		}
	})
}

// TestNewUsageInAMonthLeftUnrepriced: while a correction's reprice of a
// month is refused by the floor, the month's new usage is charged at the
// version its counter counted, not the corrected one. A volume event
// charged at the corrected tiers had been credited C'(101) − C'(90) =
// −79.9 in a month that had paid 0.9, leaving the account 79 richer than
// the month's usage at either version. Once repriced, the month counts at
// the corrected version and new usage pays it.
func TestNewUsageInAMonthLeftUnrepriced(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		from := t0.AddDate(0, -1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("v", abacus.ModelVolume, from, tier{100, "0.01"}, tier{0, "0.001"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "1")
		f.ingest(spaceEvent("a", acct, "v", 90, t0.AddDate(0, 0, 1)))
		old := priceID(t, f.st, "v", from, 0)
		fixed := tieredPrice("v", abacus.ModelVolume, from, tier{100, "1"}, tier{0, "0.1"})
		fixed.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
			t.Fatal(err)
		}
		corrected := priceID(t, f.st, "v", from, 1)
		if res, err := f.e.Reprice(f.ctx, []string{"a"}); err != nil || res[0].Status != abacus.IngestRejected {
			t.Fatalf("the reprice the floor refuses (C'(90) = 90): %+v %v", res, err)
		}
		r := f.ingest(spaceEvent("b", acct, "v", 11, t0.AddDate(0, 0, 19)))
		if r[0].Status != abacus.IngestAccepted || r[0].Charged.String() != "-0.799" {
			t.Fatalf("b: %+v, want C(101) − C(90) = 0.101 − 0.9 at the month's version", r[0])
		}
		if b := storedEvent(t, f.st, "b"); !slices.Equal(b.PriceIDs, []int64{old}) {
			t.Fatalf("b names %v, want the month's version %d", b.PriceIDs, old)
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "0.899" {
			t.Fatalf("cash %s, want 1 − C(101) = 0.899", b)
		}
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || strings.Contains(rep.String(), "came to") {
			t.Fatalf("verify: %v\n%s\nwant the stale events named, and no month below zero", err, rep)
		}
		// Once the account can pay, the month is repriced whole at C'(101) = 10.1,
		// and the counter counts at the corrected version from then on.
		f.fund(acct, abacus.TxTopup, "10")
		if res, err := f.e.Reprice(f.ctx, []string{"a", "b"}); err != nil || !res[0].Repriced || !res[1].Repriced {
			t.Fatalf("after a top-up: %+v %v", res, err)
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "0.9" {
			t.Fatalf("cash %s, want 11 − C'(101) = 0.9", b)
		}
		if r := f.ingest(spaceEvent("c", acct, "v", 1, t0.AddDate(0, 0, 20))); r[0].Charged.String() != "0.1" {
			t.Fatalf("c: %+v, want C'(102) − C'(101) = 0.1", r[0])
		}
		if c := storedEvent(t, f.st, "c"); !slices.Equal(c.PriceIDs, []int64{corrected}) {
			t.Fatalf("c names %v, want the corrected version %d", c.PriceIDs, corrected)
		}
		mustVerify(t, f.st)
	})
}

// TestNewUsageAfterAVersionFromTheMonthsStart: a correction may also add a
// version from a month's start, taking over from one that charged the
// month. While that month waits for its reprice, its new usage is charged
// at the version its counter counted, as under a revision: at the new
// version's tiers a volume event had been credited 159.8 in a month that
// had paid 90.
func TestNewUsageAfterAVersionFromTheMonthsStart(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		from := t0.AddDate(0, -1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("n", abacus.ModelVolume, from, tier{100, "1"}, tier{0, "0.1"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "90")
		f.ingest(spaceEvent("n1", acct, "n", 90, t0.AddDate(0, 0, 1)))
		old := priceID(t, f.st, "n", from, 0)
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{tieredPrice("n", abacus.ModelVolume, t0, tier{100, "2"}, tier{0, "0.2"})}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"n1"}); err != nil || res[0].Status != abacus.IngestRejected {
			t.Fatalf("the reprice the floor refuses (90 more): %+v %v", res, err)
		}
		r := f.ingest(spaceEvent("n2", acct, "n", 11, t0.AddDate(0, 0, 9)))
		if r[0].Charged.String() != "-79.9" {
			t.Fatalf("n2: %+v, want C(101) − C(90) = 10.1 − 90 at the month's version", r[0])
		}
		if n2 := storedEvent(t, f.st, "n2"); !slices.Equal(n2.PriceIDs, []int64{old}) {
			t.Fatalf("n2 names %v, want the month's version %d", n2.PriceIDs, old)
		}
		if res, err := f.e.VoidEvents(f.ctx, []string{"n2"}); err != nil || res[0].Status != abacus.IngestRejected || res[0].Err.Code != abacus.CodeConflict {
			t.Fatalf("the void of n2: %+v %v, want it refused until the month is repriced", res, err)
		}
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || strings.Contains(rep.String(), "came to") {
			t.Fatalf("verify: %v\n%s\nwant the stale events named, and no month below zero", err, rep)
		}
	})
}

// TestAVoidedEventIsNotRepricedWithoutItsMonth: a voided event's void
// charged its month's other events what the month then cost more; settled
// alone it had given that back while they kept their credits (cash 39 of
// the 30 paid in). Repriced without the events of its month at the
// replaced version, it is refused and changes nothing; with them, the
// month stands at the corrected price.
func TestAVoidedEventIsNotRepricedWithoutItsMonth(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		gpu := func(first string, revision int) abacus.Price {
			p := tieredPrice("gpu", abacus.ModelVolume, t0.AddDate(0, -1, 0), tier{5, first}, tier{0, "1"})
			p.Revision = revision
			return p
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu("4", 0))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "30")
		f.ingest(spaceEvent("x", acct, "gpu", 4, t0), spaceEvent("y", acct, "gpu", 3, t0.Add(time.Hour))) // 16, then 7 − 16
		if v := f.void("x"); v.Err != nil || v.Refunded.String() != "-5" {                                // C(3) = 12
			t.Fatalf("void: %+v", v)
		}
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{gpu("3", 1)}); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Reprice(f.ctx, []string{"x"})
		if err != nil || res[0].Err == nil || res[0].Err.Code != abacus.CodeConflict || !strings.Contains(res[0].Err.Message, "holds 3 more units") {
			t.Fatalf("x alone: %+v %v", res, err)
		}
		if got := f.balances(acct); got != "cash 18 bonus 0 voucher 0" {
			t.Fatalf("after the refused reprice: %s", got)
		}
		res, err = f.e.Reprice(f.ctx, []string{"x", "y"})
		if err != nil || res[0].Err != nil || res[1].Err != nil || res[1].Charged.String() != "9" { // C(3) = 9 now
			t.Fatalf("x and y: %+v %v", res, err)
		}
		if got := f.balances(acct); got != "cash 21 bonus 0 voucher 0" {
			t.Fatalf("after the month's reprice: %s", got)
		}
		mustVerify(t, f.st)
	})
}

// TestARepriceGivesNoBucketMoreThanItsMonthPaid: what a cheaper month
// gives back is bounded by what each bucket still has paid for the month,
// not only by what the call's events paid: a volume credit to events of
// another price had already given the voucher part of it back (it had
// ended at 10.67 of the 10 granted). The CLI passes the flat event alone,
// since it shares no price with the others.
func TestARepriceGivesNoBucketMoreThanItsMonthPaid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("flat", "1", month),
			tieredPrice("gpu", abacus.ModelVolume, month, tier{10, "2"}, tier{0, "1"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.voucher(acct, "10")
		f.ingest(spaceEvent("p", acct, "flat", 10, t0)) // the voucher's 10
		f.fund(acct, abacus.TxTopup, "16")
		f.ingest(spaceEvent("a", acct, "gpu", 8, t0.Add(time.Hour)))   // cash 16
		f.ingest(spaceEvent("b", acct, "gpu", 6, t0.Add(2*time.Hour))) // 2 back, 16:10
		fixed := perMinute("flat", "0.01", month)
		fixed.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"p"}); err != nil || res[0].Err != nil || res[0].Charged.String() != "0.1" {
			t.Fatalf("reprice: %+v %v", res, err)
		}
		if v := wallet(t, f.st, acct, abacus.BucketVoucher, "USD").Balance; v.Cmp(amt(t, "10")) > 0 {
			t.Fatalf("the voucher holds %s, more than the 10 granted (%s)", v, f.balances(acct))
		}
		mustVerify(t, f.st)
	})
}

// TestARepriceLeavesNoCountedUsageOut: an event whose graduated tokens
// share a counter with a later event is not repriced without it (moved
// above it, it had been charged 4 less than its month then cost, and the
// voids after gave back 4 never paid); with it, the month is exact and
// voiding everything gives back exactly what was paid in.
func TestARepriceLeavesNoCountedUsageOut(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		tokens := func(kind int, model abacus.PriceModel, revision int, tiers ...tier) abacus.Price {
			p := tieredPrice("llm", model, month, tiers...)
			p.SKUKind, p.UnitType, p.Unit, p.Revision = kind, "token", 1_000_000, revision
			if model == abacus.ModelPerUnit {
				p.UnitPrice, p.Tiers = p.Tiers[0].UnitPrice, nil
			}
			return p
		}
		prompt := func(price string, revision int) abacus.Price {
			return tokens(4, abacus.ModelPerUnit, revision, tier{0, price})
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, prompt("2", 0), tokens(5, abacus.ModelGraduated, 0, tier{3_000_000, "3"}, tier{0, "1"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "20")
		tok := func(id string, value int64, extra string, at time.Duration) abacus.UsageEvent {
			return abacus.UsageEvent{ID: id, Account: acct, Value: value, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "llm", Time: t0.Add(at), Extra: extra}
		}
		f.ingest(tok("t1", 3_000_000, `{"prompt_token_num":1000000,"completion_token_num":2000000}`, time.Hour)) // 2 + 6
		f.ingest(tok("t3", 4_000_000, `{"completion_token_num":4000000}`, 2*time.Hour))                          // C(6) − C(2) = 6
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{prompt("1", 1)}); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Reprice(f.ctx, []string{"t1"})
		if err != nil || res[0].Err == nil || res[0].Err.Code != abacus.CodeConflict || !strings.Contains(res[0].Err.Message, "holds 4000000 more units") {
			t.Fatalf("t1 alone: %+v %v", res, err)
		}
		if got := f.balances(acct); got != "cash 6 bonus 0 voucher 0" {
			t.Fatalf("after the refused reprice: %s", got)
		}
		if res, err = f.e.Reprice(f.ctx, []string{"t1", "t3"}); err != nil || res[0].Err != nil || res[0].Charged.String() != "7" || res[1].Charged.String() != "6" {
			t.Fatalf("t1 and t3: %+v %v", res, err)
		}
		mustVerify(t, f.st)
		for _, id := range []string{"t3", "t1"} {
			if v := f.void(id); v.Err != nil {
				t.Fatalf("void %s: %+v", id, v)
			}
		}
		if got := f.balances(acct); got != "cash 20 bonus 0 voucher 0" {
			t.Fatalf("after voiding everything: %s", got)
		}
		mustVerify(t, f.st)
	})
}

// TestARepricedMonthThatNetsToNothingKeepsItsBuckets: a month whose
// volume credit cancels its charge is split, after its reprice, as its
// events' charges were (here the voucher), not to cash, so a void then
// takes the credit back from the voucher (it had asked cash, which paid
// nothing, for 24, and a floor of 0 refused it).
func TestARepricedMonthThatNetsToNothingKeepsItsBuckets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		gpu := func(first string, revision int) abacus.Price {
			p := tieredPrice("gpu", abacus.ModelVolume, month, tier{10, first}, tier{0, "0"})
			p.Revision = revision
			return p
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu("2", 0))
		acct := f.account(abacus.Overdraft{}, nil)
		f.voucher(acct, "30")
		f.ingest(spaceEvent("a", acct, "gpu", 8, t0))                // 16 from the voucher
		f.ingest(spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour))) // C(14) = 0: the 16 back
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{gpu("3", 1)}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"a", "b"}); err != nil || res[0].Err != nil || res[0].Charged.String() != "24" {
			t.Fatalf("reprice: %+v %v", res, err)
		}
		if a := f.stored("a"); a.Drawn != (abacus.Drawn{Voucher: amt(t, "24")}) {
			t.Fatalf("a's buckets: %+v", a.Drawn)
		}
		if v := f.void("b"); v.Err != nil || v.Refunded.String() != "-24" { // the month costs C(8) = 24 without b
			t.Fatalf("void of b: %+v", v)
		}
		if got := f.balances(acct); got != "cash 0 bonus 0 voucher 6" {
			t.Fatal(got)
		}
		mustVerify(t, f.st)
	})
}
