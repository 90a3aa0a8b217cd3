package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
	"github.com/abacus-billing/abacus/store/postgres"
)

// TestUsageProperty runs short random programs of usage against the engine
// and checks what they leave against an exact oracle of its own: one or two
// counted prices (graduated, volume or package, drawn) and a per-unit one;
// two or three accounts, one with a floor of 0 (so that charges, voids and
// reprices are sometimes refused), one unlimited; and a mix of events (at
// random times over one or two months, so many arrive late), voids of
// earlier events, corrections of the book (revisions, and new versions:
// counted ones only where rating.CheckCountedVersions lets them, as the CLI
// does), reprices of a month's events of a key (chosen as `abacus prices
// import --correct` chooses them), of every month at once, top-ups and
// grants to the bonus and voucher buckets.
//
// After every step:
//   - a refused operation changed nothing (balances, stored events), and
//     an accepted one moved the account's buckets, together, by exactly
//     what it answered;
//   - each account holds what was put in it (top-ups, and grants to its
//     bonus and voucher buckets) less what its events were charged net of
//     what voids gave back, no bucket more than was put in it (cash a
//     micro-unit per event more, the carry's documented exception) and
//     none below zero but cash, and its carry, read from the store, is
//     exactly its events' exact costs less that, in [0, 1µ);
//   - every account-month of a key whose events all name the versions in
//     force at their times has exact costs adding up to what the oracle
//     makes of the book: C(total standing usage) at the month's counted
//     version, plus each per-unit event's price;
//   - Verify finds nothing but events charged at a version since replaced
//     (exactly those the oracle counts), never a month that came to less
//     than nothing or a counter that disagrees with its events.
//
// At the end every account can pay, every month is repriced, and then every
// account-month is exact, the account's charges are the oracle's exact
// costs less a carry in [0, 1µ), and Verify is clean.
//
// Each check starts from an empty store (a new SQLite file, or the
// PostgreSQL schema emptied), so a failure shrinks to a minimal program.
func TestUsageProperty(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		first := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			st := checkStore(t, rt, first, open)
			if st != first {
				defer st.Close()
			}
			p := newUsageProgram(rt, st)
			defer p.e.Close()
			for i, n := 0, rapid.IntRange(1, 24).Draw(rt, "steps"); i < n; i++ {
				switch rapid.SampledFrom([]string{"ingest", "ingest", "ingest", "void", "void", "correct", "correct",
					"reprice", "repriceAll", "topup", "grant"}).Draw(rt, "action") {
				case "ingest":
					p.ingest()
				case "void":
					p.void()
				case "correct":
					p.correct()
				case "reprice":
					p.repriceOne()
				case "repriceAll":
					p.reprice(p.groups())
				case "topup":
					a := p.accts[rapid.IntRange(0, len(p.accts)-1).Draw(rt, "topupAccount")]
					p.topup(a, rapid.Int64Range(1, 100_000_000).Draw(rt, "topupMicros"))
				case "grant":
					a := p.accts[rapid.IntRange(0, len(p.accts)-1).Draw(rt, "grantAccount")]
					p.grant(a, rapid.SampledFrom([]abacus.Bucket{abacus.BucketBonus, abacus.BucketVoucher}).Draw(rt, "grantBucket"),
						rapid.Int64Range(1, 100_000_000).Draw(rt, "grantMicros"))
				}
				p.check(false)
			}
			p.finish()
		})
	})
}

// checkStore gives a rapid check a store of its own, so that what earlier
// checks stored (a price book they corrected, above all) cannot change
// its outcome and a failure replays: a new SQLite file, or first, a
// PostgreSQL store, emptied. The caller closes a SQLite one.
func checkStore(t *testing.T, rt *rapid.T, first abacus.Store, open func(testing.TB) abacus.Store) abacus.Store {
	if pg, ok := first.(*postgres.Store); ok {
		emptyPostgresUsage(rt, pg)
		return first
	}
	return open(t)
}

// emptyPostgresUsage deletes everything but the system accounts from a
// PostgreSQL store, usage and the price book too (its version goes on
// counting up, as engines expect).
func emptyPostgresUsage(t tb, s *postgres.Store) {
	t.Helper()
	_, err := s.Pool().Exec(context.Background(), `SET LOCAL session_replication_role = replica; -- past the append-only triggers on prices and commitments
		DELETE FROM usage_reprices; DELETE FROM usage_events; DELETE FROM usage_rollups;
		DELETE FROM usage_paid; DELETE FROM usage_carry; DELETE FROM usage_carry_periods; DELETE FROM usage_counters; DELETE FROM usage_minutes;
		DELETE FROM price_uses; DELETE FROM prices; DELETE FROM commitment_ends; DELETE FROM commitments; DELETE FROM outbox`)
	if err != nil {
		t.Fatalf("emptying the usage tables: %v", err)
	}
	emptyPostgres(t, s)
}

var (
	upBase  = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC) // the first versions' valid_from
	upStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) // the first month with events
)

type upAccount struct {
	id      abacus.AccountID
	floored bool  // cash floor 0; otherwise unlimited
	topups  int64 // µ paid in
	bonus   int64 // µ granted to the bonus bucket
	voucher int64 // µ granted to the voucher bucket
}

type upEvent struct {
	id     string
	acct   *upAccount
	key    string // the resource, which is the price key
	value  int64
	at     time.Time
	voided bool
}

type upGroup struct {
	acct  *upAccount
	month time.Time
	key   string
}

type usageProgram struct {
	t      *rapid.T
	st     abacus.Store
	e      *ledger.Engine
	ctx    context.Context
	months int
	keys   []string
	accts  []*upAccount
	book   []abacus.Price // every version and revision stored, with the store's ids
	events []*upEvent     // those accepted, in the order they were
	seq    int
}

func newUsageProgram(t *rapid.T, st abacus.Store) *usageProgram {
	p := &usageProgram{t: t, st: st, ctx: context.Background(), months: rapid.IntRange(1, 2).Draw(t, "months")}
	p.e = ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1}})
	p.keys = []string{"c1", "pu"}
	if rapid.Bool().Draw(t, "twoCounted") {
		p.keys = []string{"c1", "c2", "pu"}
	}
	var prices []abacus.Price
	for _, k := range p.keys {
		prices = append(prices, p.drawPrice(k, upBase, k != "pu"))
	}
	if err := st.PriceBookAdd(p.ctx, prices, nil); err != nil {
		t.Fatalf("the first book: %v", err)
	}
	p.reload()
	for i, n := 0, rapid.IntRange(2, 3).Draw(t, "accounts"); i < n; i++ {
		// The first has a floor of 0, the second none, a third either.
		floored := i == 0 || i == 2 && rapid.Bool().Draw(t, "floored")
		od := abacus.Overdraft{Unlimited: true}
		if floored {
			od = abacus.Overdraft{}
		}
		a := &upAccount{id: createAccount(t, st, od), floored: floored}
		p.accts = append(p.accts, a)
		if floored {
			if m := rapid.Int64Range(0, 200_000_000).Draw(t, "funds"); m > 0 {
				p.topup(a, m)
			}
		}
		// Promotional money from the start, so that months are paid from
		// more than one bucket.
		if b := rapid.SampledFrom([]abacus.Bucket{"", abacus.BucketBonus, abacus.BucketVoucher}).Draw(t, "grantFirst"); b != "" {
			p.grant(a, b, rapid.Int64Range(1, 200_000_000).Draw(t, "grantFirstMicros"))
		}
		t.Logf("account %d: %s, floored %v", i, a.id, floored)
	}
	for _, v := range p.book {
		t.Logf("price %d: %s", v.ID, spellPrice(&v))
	}
	return p
}

// drawDecimal draws a price: a few digits, from whole units to 10⁻⁷ (below
// a micro-unit, so that the carry has work).
func drawDecimal(t *rapid.T, label string) decimal.Decimal {
	n := rapid.Int64Range(0, 30).Draw(t, label)
	return decimal.New(n, rapid.SampledFrom([]int32{-2, -1, -3, -7, 0}).Draw(t, label+"Exp"))
}

// drawPrice draws a version of key from from: per_unit, or when counted
// graduated, volume or package, with 1 to 3 tiers and perhaps flat fees.
func (p *usageProgram) drawPrice(key string, from time.Time, counted bool) abacus.Price {
	t := p.t
	pr := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: key, UnitType: "minute", Currency: "USD", Unit: 1,
		Model: abacus.ModelPerUnit, ValidFrom: from, CreatedAt: from}
	model := abacus.ModelPerUnit
	if counted {
		model = rapid.SampledFrom([]abacus.PriceModel{abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage}).Draw(t, "model")
	}
	pr.Model = model
	switch model {
	case abacus.ModelPerUnit:
		pr.Unit = rapid.SampledFrom([]int64{1, 1000}).Draw(t, "unit")
		pr.UnitPrice = drawDecimal(t, "unitPrice")
	case abacus.ModelPackage:
		pr.Package = rapid.Int64Range(1, 10).Draw(t, "package")
		pr.UnitPrice = drawDecimal(t, "packagePrice")
	default:
		upTo := int64(0)
		for i, n := 0, rapid.IntRange(1, 3).Draw(t, "tiers"); i < n; i++ {
			tier := abacus.PriceTier{UnitPrice: drawDecimal(t, "tierPrice")}
			if rapid.IntRange(0, 3).Draw(t, "flat") == 3 {
				tier.FlatFee = drawDecimal(t, "flatFee")
			}
			if i+1 < n {
				upTo += rapid.Int64Range(1, 20).Draw(t, "upTo")
				tier.UpTo = upTo
			}
			pr.Tiers = append(pr.Tiers, tier)
		}
		if rapid.Bool().Draw(t, "cheaperByVolume") { // as such prices mostly are: a volume step then credits
			prices := make([]decimal.Decimal, len(pr.Tiers))
			for i, tier := range pr.Tiers {
				prices[i] = tier.UnitPrice
			}
			slices.SortFunc(prices, func(a, b decimal.Decimal) int { return b.Cmp(a) })
			for i := range pr.Tiers {
				pr.Tiers[i].UnitPrice = prices[i]
			}
		}
	}
	if err := rating.Validate(&pr); err != nil {
		t.Fatalf("the test drew an invalid price %s: %v", spellPrice(&pr), err)
	}
	return pr
}

func spellPrice(p *abacus.Price) string {
	s := fmt.Sprintf("%s %s from %s rev %d", p.ResourceID, p.Model, p.ValidFrom.Format(time.RFC3339), p.Revision)
	switch p.Model {
	case abacus.ModelPerUnit:
		s += fmt.Sprintf(" %s per %d", p.UnitPrice, p.Unit)
	case abacus.ModelPackage:
		s += fmt.Sprintf(" %s per %d", p.UnitPrice, p.Package)
	default:
		for _, t := range p.Tiers {
			s += fmt.Sprintf(" [to %d at %s + %s]", t.UpTo, t.UnitPrice, t.FlatFee)
		}
	}
	return s
}

func (p *usageProgram) topup(a *upAccount, micros int64) {
	_, err := p.e.Submit(p.ctx, string(newAccountID()), &abacus.Move{Type: abacus.TxTopup, Account: a.id, Currency: "USD",
		Amount: abacus.AmountFromMicros(micros)})
	if err != nil {
		p.t.Fatalf("top-up: %v", err)
	}
	a.topups += micros
	p.t.Logf("top-up of %s by %s", a.id, abacus.AmountFromMicros(micros))
}

// grant puts micros in a promotional bucket, which usage draws before
// cash and credits give back to in proportion to what it paid.
func (p *usageProgram) grant(a *upAccount, b abacus.Bucket, micros int64) {
	_, err := p.e.Submit(p.ctx, string(newAccountID()), &abacus.Move{Type: abacus.TxGrant, Account: a.id, Currency: "USD",
		Amount: abacus.AmountFromMicros(micros), Bucket: b})
	if err != nil {
		p.t.Fatalf("grant: %v", err)
	}
	if b == abacus.BucketBonus {
		a.bonus += micros
	} else {
		a.voucher += micros
	}
	p.t.Logf("grant to %s's %s bucket of %s", a.id, b, abacus.AmountFromMicros(micros))
}

// drawTime draws an event's time: a month's first or last minute, or any
// minute of the months.
func (p *usageProgram) drawTime(label string) time.Time {
	end := upStart.AddDate(0, p.months, 0)
	if rapid.IntRange(0, 3).Draw(p.t, label+"Edge") == 0 {
		var edges []time.Time
		for m := range p.months {
			s := upStart.AddDate(0, m, 0)
			edges = append(edges, s, s.AddDate(0, 1, 0).Add(-time.Minute))
		}
		return rapid.SampledFrom(edges).Draw(p.t, label)
	}
	return upStart.Add(time.Duration(rapid.Int64Range(0, int64(end.Sub(upStart)/time.Minute)-1).Draw(p.t, label)) * time.Minute)
}

func (p *usageProgram) ingest() {
	t := p.t
	var evs []abacus.UsageEvent
	var mine []*upEvent
	for i, n := 0, rapid.IntRange(1, 4).Draw(t, "batch"); i < n; i++ {
		p.seq++
		e := &upEvent{id: fmt.Sprintf("e%d", p.seq)}
		if len(p.events) > 0 && rapid.Bool().Draw(t, "sameMonth") {
			// More of an account's month of a key, so that its tiers fill.
			like := p.events[rapid.IntRange(0, len(p.events)-1).Draw(t, "like")]
			month := monthStart(like.at)
			e.acct, e.key = like.acct, like.key
			e.at = month.Add(time.Duration(rapid.Int64Range(0, int64(month.AddDate(0, 1, 0).Sub(month)/time.Minute)-1).Draw(t, "minute")) * time.Minute)
		} else {
			e.acct, e.key = p.accts[rapid.IntRange(0, len(p.accts)-1).Draw(t, "account")], rapid.SampledFrom(p.keys).Draw(t, "key")
			e.at = p.drawTime("at")
		}
		e.value = rapid.Int64Range(1, 30).Draw(t, "value")
		mine = append(mine, e)
		evs = append(evs, spaceEvent(e.id, e.acct.id, e.key, e.value, e.at))
	}
	before := p.balances()
	res, err := p.e.Ingest(p.ctx, evs)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	after := p.balances()
	want := map[*upAccount]int64{}
	stored := p.stored()
	for i, r := range res {
		e := mine[i]
		switch {
		case r.Status == abacus.IngestAccepted && !r.Unpriced:
			want[e.acct] -= r.Charged.Micros()
			p.events = append(p.events, e)
			t.Logf("event %s: %s, %d of %s at %s: charged %s", e.id, e.acct.id, e.value, e.key, e.at.Format(time.RFC3339), r.Charged)
		case r.Status == abacus.IngestRejected && r.Err.Code == abacus.CodeInsufficientFunds && e.acct.floored:
			if _, ok := stored[e.id]; ok {
				t.Fatalf("event %s was refused (%v) but is stored", e.id, r.Err)
			}
			t.Logf("event %s: %s, %d of %s at %s: refused (%s)", e.id, e.acct.id, e.value, e.key, e.at.Format(time.RFC3339), r.Err.Message)
		default:
			t.Fatalf("event %s: %+v, want it charged, or refused by a floor", e.id, r)
		}
	}
	p.moved("ingest", before, after, want)
}

func (p *usageProgram) void() {
	t := p.t
	if len(p.events) == 0 {
		return
	}
	e := p.events[rapid.IntRange(0, len(p.events)-1).Draw(t, "voidWhich")]
	before, was := p.balances(), p.stored()
	s := was[e.id]
	// A counted price's void is priced at the top of its month, and so
	// refused while the event names a version since replaced.
	refusedStale := !e.voided && p.stale(&s) && countsUsage(p.byID(s.PriceIDs[0]).Model)
	res, err := p.e.VoidEvents(p.ctx, []string{e.id})
	if err != nil {
		t.Fatalf("void: %v", err)
	}
	r := res[0]
	after, now := p.balances(), p.stored()
	want := map[*upAccount]int64{}
	switch {
	case e.voided || refusedStale:
		if r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeConflict {
			t.Fatalf("void of %s (voided %v, stale %v): %+v, want a conflict", e.id, e.voided, refusedStale, r)
		}
		p.unchanged("void", was, now, []string{e.id})
		t.Logf("void of %s: refused (%s)", e.id, r.Err.Message)
	case r.Status == abacus.IngestAccepted:
		e.voided = true
		want[e.acct] = r.Refunded.Micros()
		if n := now[e.id]; n.Status != abacus.EventVoided || n.Refunded != r.Refunded {
			t.Fatalf("void of %s answered %+v but the event is stored as %+v", e.id, r, n)
		}
		t.Logf("void of %s: gave back %s", e.id, r.Refunded)
	case r.Status == abacus.IngestRejected && r.Err.Code == abacus.CodeInsufficientFunds && e.acct.floored:
		p.unchanged("void", was, now, []string{e.id})
		t.Logf("void of %s: refused (%s)", e.id, r.Err.Message)
	default:
		t.Fatalf("void of %s: %+v", e.id, r)
	}
	p.moved("void of "+e.id, before, after, want)
}

// correct stores a correction of one key: a revision of a version, or a
// new version (counted ones only where CheckCountedVersions allows them,
// as `abacus prices import --correct` refuses the others).
func (p *usageProgram) correct() {
	t := p.t
	key := rapid.SampledFrom(p.keys).Draw(t, "correctKey")
	var froms []time.Time
	for _, v := range p.book {
		if v.ResourceID == key && !slices.ContainsFunc(froms, v.ValidFrom.Equal) {
			froms = append(froms, v.ValidFrom)
		}
	}
	var from time.Time
	switch rapid.IntRange(0, 3).Draw(t, "correctFrom") {
	case 0: // a stored version, replaced from its own start
		from = rapid.SampledFrom(froms).Draw(t, "revise")
	case 1: // a month's first instant
		from = upStart.AddDate(0, rapid.IntRange(0, p.months-1).Draw(t, "correctMonth"), 0)
	case 2: // an event's time
		if len(p.events) > 0 {
			from = p.events[rapid.IntRange(0, len(p.events)-1).Draw(t, "correctAtEvent")].at
		} else {
			from = upStart
		}
	default:
		from = p.drawTime("correctAt")
	}
	// A counted key now and then takes a per-unit version, which may come
	// at any time; the per-unit key stays per-unit.
	counted := key != "pu" && rapid.IntRange(0, 4).Draw(t, "correctCounted") > 0
	np := p.drawPrice(key, from, counted)
	for _, v := range p.book {
		if v.ResourceID == key && v.ValidFrom.Equal(from) && v.Revision >= np.Revision {
			np.Revision = v.Revision + 1
		}
	}
	if err := rating.CheckCountedVersions(nil, p.book, []abacus.Price{np}); err != nil {
		t.Logf("correction %s: refused by the rule on counted versions", spellPrice(&np))
		return
	}
	if _, err := rating.NewBook(nil, append(slices.Clone(p.book), np), nil, nil); err != nil {
		t.Fatalf("the corrected book: %v", err)
	}
	before, was := p.balances(), p.stored()
	if err := p.st.PriceBookCorrect(p.ctx, []abacus.Price{np}); err != nil {
		t.Fatalf("correction %s: %v", spellPrice(&np), err)
	}
	p.reload()
	t.Logf("correction: price %d: %s", p.book[len(p.book)-1].ID, spellPrice(&np))
	after, now := p.balances(), p.stored()
	p.moved("a correction", before, after, nil)
	ids := make([]string, 0, len(was))
	for id := range was {
		ids = append(ids, id)
	}
	p.unchanged("a correction", was, now, ids)
}

// monthIDs lists, as `abacus prices import --correct` does, the events of
// an account's month that name a version of key, in event-time order.
func (p *usageProgram) monthIDs(g upGroup, stored map[string]abacus.StoredEvent) []string {
	var evs []abacus.StoredEvent
	for _, s := range stored {
		if s.Account == g.acct.id && monthStart(s.Time).Equal(g.month) && len(s.PriceIDs) > 0 && p.byID(s.PriceIDs[0]).ResourceID == g.key {
			evs = append(evs, s)
		}
	}
	slices.SortFunc(evs, func(a, b abacus.StoredEvent) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	ids := make([]string, len(evs))
	for i, s := range evs {
		ids[i] = s.ID
	}
	return ids
}

func (p *usageProgram) repriceOne() {
	gs := p.groups()
	if len(gs) == 0 {
		return
	}
	p.reprice([]upGroup{gs[rapid.IntRange(0, len(gs)-1).Draw(p.t, "repriceWhich")]})
}

// reprice reprices the groups' months in one call, and checks that each
// account's month of a resource was repriced whole where any of the call's
// events of it was stale (the engine reprices an account's month of a
// resource, whatever the key), left alone where none was, or refused whole
// by a floor, changing nothing.
func (p *usageProgram) reprice(gs []upGroup) bool {
	t := p.t
	before, was := p.balances(), p.stored()
	type acctMonth struct {
		acct     *upAccount
		month    time.Time
		resource string
	}
	var ids []string
	var order []acctMonth
	of := map[string]acctMonth{}
	stale := map[acctMonth]bool{}
	for _, g := range gs {
		for _, id := range p.monthIDs(g, was) {
			m := acctMonth{g.acct, g.month, was[id].ResourceID}
			if !slices.Contains(order, m) {
				order = append(order, m)
			}
			ids = append(ids, id)
			of[id] = m
			if s := was[id]; p.stale(&s) {
				stale[m] = true
			}
		}
	}
	if len(ids) == 0 {
		return true
	}
	res, err := p.e.Reprice(p.ctx, ids)
	if err != nil {
		t.Fatalf("reprice: %v", err)
	}
	after, now := p.balances(), p.stored()
	want := map[*upAccount]int64{}
	all := true
	for _, m := range order {
		var part []abacus.IngestResult
		var mine []string
		for i, id := range ids {
			if of[id] == m {
				part, mine = append(part, res[i]), append(mine, id)
			}
		}
		if len(part) == 0 {
			continue
		}
		if part[0].Status == abacus.IngestRejected {
			all = false
			for _, r := range part {
				if r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeInsufficientFunds || !m.acct.floored || !stale[m] {
					t.Fatalf("reprice of %s %s (stale %v): %+v, want the month refused whole by the floor, or repriced", m.acct.id,
						m.month.Format("2006-01"), stale[m], part)
				}
			}
			p.unchanged("reprice", was, now, mine)
			t.Logf("reprice of %s %s: refused (%s)", m.acct.id, m.month.Format("2006-01"), part[0].Err.Message)
			continue
		}
		for _, r := range part {
			if r.Status != abacus.IngestAccepted || r.Repriced != stale[m] {
				t.Fatalf("reprice of %s %s (stale %v): %+v, want every event repriced where any is stale, and none where none is",
					m.acct.id, m.month.Format("2006-01"), stale[m], part)
			}
			if r.Repriced {
				want[m.acct] -= r.Charged.Micros() - r.Refunded.Micros()
			}
		}
		for _, id := range mine {
			if s := now[id]; p.stale(&s) {
				t.Fatalf("event %s still names %v after its month's reprice", id, s.PriceIDs)
			}
		}
		t.Logf("reprice of %s %s: stale %v, %+v", m.acct.id, m.month.Format("2006-01"), stale[m], part)
	}
	p.moved("reprice", before, after, want)
	return all
}

// finish gives every account what it needs, reprices every month, and
// checks the outcome against the book.
func (p *usageProgram) finish() {
	t := p.t
	for _, a := range p.accts {
		if a.floored {
			p.topup(a, 10_000_000*1_000_000)
		}
	}
	gs := p.groups()
	if rapid.Bool().Draw(t, "finalOneCall") {
		if !p.reprice(gs) {
			t.Fatalf("the final reprice was refused")
		}
	} else {
		for _, g := range gs {
			if !p.reprice([]upGroup{g}) {
				t.Fatalf("the final reprice was refused")
			}
		}
	}
	p.check(true)
	var spelled []string
	for _, g := range gs {
		spelled = append(spelled, fmt.Sprintf("%s %s %s: %s", g.acct.id, g.key, g.month.Format("2006-01"), p.groupCost(g).FloatString(8)))
	}
	t.Logf("final: %s", strings.Join(spelled, "; "))
}
