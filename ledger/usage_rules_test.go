package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// usageFixture is an engine over a fresh store with per-minute prices.
type usageFixture struct {
	t    *testing.T
	st   abacus.Store
	gate *writeGate // the engine's store
	e    *ledger.Engine
	t0   time.Time
	ctx  context.Context
}

func newUsageFixture(t *testing.T, st abacus.Store, cfg ledger.UsageConfig, prices ...abacus.Price) *usageFixture {
	t.Helper()
	return newEngineFixture(t, st, ledger.Config{Usage: cfg}, prices...)
}

// newEngineFixture is newUsageFixture with the engine's whole
// configuration.
func newEngineFixture(t *testing.T, st abacus.Store, cfg ledger.Config, prices ...abacus.Price) *usageFixture {
	t.Helper()
	f := &usageFixture{t: t, st: st, t0: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ctx: context.Background()}
	if cfg.Usage.MaxAhead == 0 {
		cfg.Usage.MaxAhead = -1 // the tests' events are in and after November 2026, whatever the day they run
	}
	f.gate = newWriteGate(st)
	f.e = ledger.New(f.gate, cfg)
	t.Cleanup(func() { f.e.Close() })
	if len(prices) > 0 {
		if err := st.PriceBookAdd(f.ctx, prices, nil); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *usageFixture) ingest(evs ...abacus.UsageEvent) []abacus.IngestResult {
	f.t.Helper()
	res, err := f.e.Ingest(f.ctx, evs)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *usageFixture) account(od abacus.Overdraft, low *abacus.Amount) abacus.AccountID {
	f.t.Helper()
	id := newAccountID()
	if _, _, err := f.st.AccountCreate(f.ctx, abacus.Account{ID: id, Kind: abacus.KindUser, Currency: "USD", Overdraft: od, LowBalance: low, CreatedAt: f.t0}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *usageFixture) fund(acct abacus.AccountID, typ abacus.TxType, amount string) {
	f.t.Helper()
	if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.Move{Type: typ, Account: acct, Currency: "USD", Amount: amt(f.t, amount)}); err != nil {
		f.t.Fatal(err)
	}
}

func TestUsageRules(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		gpu := perMinute("gpu", "1", t0.AddDate(0, -1, 0))

		t.Run("unknown accounts are rejected when auto-create is off", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{NoAutoCreate: true}, gpu)
			res := f.ingest(spaceEvent("e1", newAccountID(), "gpu", 1, f.t0))
			// It says what to do (QA: only that the account did not exist).
			if res[0].Status != abacus.IngestRejected || res[0].Err.Code != abacus.CodeNotFound || res[0].Err.Field != "user_uuid" ||
				!strings.HasSuffix(res[0].Err.Message, "does not exist, and this abacus makes none for events (--auto-create=false): create it first (POST /api/v1/accounts)") {
				t.Fatalf("%+v", res[0])
			}
			// A copy under another unknown account is not found either, not a
			// conflict with the first, which was never stored (QA).
			res = f.ingest(spaceEvent("e2", newAccountID(), "gpu", 1, f.t0), spaceEvent("e2", newAccountID(), "gpu", 1, f.t0))
			for _, r := range res {
				if r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeNotFound {
					t.Fatalf("%+v", r)
				}
			}
		})

		t.Run("an id stored under another account, or an unratable event, creates no account", func(t *testing.T) {
			st := open(t)
			f := newUsageFixture(t, st, ledger.UsageConfig{}, gpu)
			if res := f.ingest(spaceEvent("first", newAccountID(), "gpu", 1, f.t0)); res[0].Status != abacus.IngestAccepted {
				t.Fatalf("%+v", res[0])
			}
			again, tokens := newAccountID(), newAccountID()
			bad := abacus.UsageEvent{ID: "tokens", Account: tokens, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "llm", Time: f.t0,
				Extra: `{"prompt_token_num":"abc"}`}
			if err := bad.Validate(); err != nil {
				t.Fatal(err)
			}
			// A producer that got the account wrong, then right, under one id:
			// told, not dropped as a duplicate.
			res := f.ingest(spaceEvent("first", again, "gpu", 1, f.t0), bad)
			if res[0].Status != abacus.IngestRejected || res[0].Err.Code != abacus.CodeConflict || res[0].Err.Field != "uuid" ||
				!strings.Contains(res[0].Err.Message, "user_uuid") {
				t.Fatalf("the id under another account: %+v", res[0])
			}
			if res[1].Status != abacus.IngestRejected || !strings.HasPrefix(res[1].Err.Field, "extra") {
				t.Fatalf("the unratable event: %+v", res[1])
			}
			for _, acct := range []abacus.AccountID{again, tokens} {
				if _, err := st.AccountGet(f.ctx, acct); abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
					t.Fatalf("account %s: %v", acct, err)
				}
			}
			strict := newUsageFixture(t, st, ledger.UsageConfig{NoAutoCreate: true})
			if res := strict.ingest(spaceEvent("first", again, "gpu", 1, f.t0)); res[0].Status != abacus.IngestRejected || res[0].Err.Code != abacus.CodeConflict {
				t.Fatalf("the id under another account, auto-create off: %+v", res[0])
			}
		})

		t.Run("an event ahead of the clock is rejected and creates no account", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{MaxAhead: ledger.DefaultMaxAhead}, gpu)
			now := time.Now()
			acct := newAccountID()
			res := f.ingest(spaceEvent("ahead", acct, "gpu", 1, now.Add(time.Hour)), spaceEvent("skewed", newAccountID(), "gpu", 1, now.Add(time.Minute)))
			if res[0].Status != abacus.IngestRejected || res[0].Err.Code != abacus.CodeInvalid || res[0].Err.Field != "created_at" ||
				!strings.Contains(res[0].Err.Message, "more than 5m0s after abacus's clock") {
				t.Fatalf("an hour ahead: %+v", res[0])
			}
			if res[1].Status != abacus.IngestAccepted {
				t.Fatalf("a minute ahead, within the room for clocks: %+v", res[1])
			}
			if _, err := f.st.AccountGet(f.ctx, acct); abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
				t.Fatalf("the rejected event's account: %v", err)
			}
			unbounded := newUsageFixture(t, f.st, ledger.UsageConfig{MaxAhead: -1}) // the price is stored already
			if res := unbounded.ingest(spaceEvent("ahead", acct, "gpu", 1, now.AddDate(1, 0, 0))); res[0].Status != abacus.IngestAccepted {
				t.Fatalf("without a bound, a year ahead: %+v", res[0])
			}
			mustVerify(t, f.st)
		})

		t.Run("an event older than the horizon is rejected; a repeat of a stored one is a duplicate", func(t *testing.T) {
			const month = 30 * 24 * time.Hour
			st := open(t)
			now := time.Now()
			unbounded := newUsageFixture(t, st, ledger.UsageConfig{}, gpu)
			known := unbounded.account(abacus.Overdraft{Unlimited: true}, nil)
			if res := unbounded.ingest(spaceEvent("stored", known, "gpu", 3, now.Add(-40*24*time.Hour))); res[0].Status != abacus.IngestAccepted {
				t.Fatalf("without a horizon, 40 days late: %+v", res[0])
			}
			f := newUsageFixture(t, st, ledger.UsageConfig{MaxAge: month})
			fresh := newAccountID()
			res := f.ingest(
				spaceEvent("stored", known, "gpu", 3, now.Add(-40*24*time.Hour)),   // sent again
				spaceEvent("late", known, "gpu", 5, now.Add(-31*24*time.Hour)),     // new, past the horizon
				spaceEvent("late-new", fresh, "gpu", 5, now.Add(-31*24*time.Hour)), // and its account unknown
				spaceEvent("in-time", known, "gpu", 2, now.Add(-29*24*time.Hour)))  // within it
			if res[0].Status != abacus.IngestDuplicate {
				t.Fatalf("a repeat of a stored event past the horizon: %+v", res[0])
			}
			for _, r := range res[1:3] {
				if r.Status != abacus.IngestRejected || r.Err.Code != abacus.CodeInvalid || r.Err.Field != "created_at" ||
					!strings.Contains(r.Err.Message, "more than 30 days before abacus's clock") || !strings.HasSuffix(r.Err.Message, "(--max-event-age; 0 takes any, to load history)") {
					t.Fatalf("past the horizon: %+v", r)
				}
			}
			if res[3].Status != abacus.IngestAccepted || res[3].Charged.String() != "2" {
				t.Fatalf("within the horizon: %+v", res[3])
			}
			if _, err := st.AccountGet(f.ctx, fresh); abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
				t.Fatalf("the rejected event's account: %v", err)
			}
			if b := wallet(t, st, known, abacus.BucketCash, "USD").Balance; b.String() != "-5" {
				t.Fatalf("cash %s, want -5: the 3 stored and the 2 within the horizon", b)
			}
			if evs, err := st.Events(f.ctx, abacus.EventQuery{IDs: []string{"late", "late-new"}, Limit: 10}); err != nil || len(evs) != 0 {
				t.Fatalf("rejected events stored: %+v %v", evs, err)
			}
			// The horizon bounds what producers send, not what operators correct.
			if res, err := f.e.VoidEvents(f.ctx, []string{"stored"}); err != nil || res[0].Err != nil || res[0].Refunded.String() != "3" {
				t.Fatalf("voiding an event past the horizon: %+v %v", res, err)
			}
			mustVerify(t, st)
		})

		t.Run("a floor that refuses rejects the event and changes nothing", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu)
			acct := f.account(abacus.Overdraft{}, nil)
			f.fund(acct, abacus.TxTopup, "2")
			res := f.ingest(spaceEvent("a", acct, "gpu", 2, f.t0), spaceEvent("b", acct, "gpu", 1, f.t0.Add(time.Minute)))
			if res[0].Status != abacus.IngestAccepted || res[1].Status != abacus.IngestRejected || res[1].Err.Code != abacus.CodeInsufficientFunds || res[1].Err.Field != "value" {
				t.Fatalf("%+v", res)
			}
			// The refused event left no trace: sent again after a top-up, it is charged.
			f.fund(acct, abacus.TxTopup, "1")
			if res := f.ingest(spaceEvent("b", acct, "gpu", 1, f.t0.Add(time.Minute))); res[0].Status != abacus.IngestAccepted {
				t.Fatalf("retry after top-up: %+v", res[0])
			}
			mustVerify(t, f.st)
		})

		t.Run("draw order and the overdraft on cash", func(t *testing.T) {
			f := newEngineFixture(t, open(t), ledger.Config{DrawOrder: []abacus.Bucket{abacus.BucketBonus, abacus.BucketCash, abacus.BucketVoucher}}, gpu)
			acct := f.account(abacus.Overdraft{Limit: amt(t, "5")}, nil)
			f.fund(acct, abacus.TxGrant, "3")
			f.fund(acct, abacus.TxTopup, "4")
			f.ingest(spaceEvent("a", acct, "gpu", 10, f.t0)) // bonus 3, cash 4, then cash 3 into the overdraft
			if b, c := wallet(t, f.st, acct, abacus.BucketBonus, "USD").Balance, wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "0" || c.String() != "-3" {
				t.Fatalf("bonus %s cash %s", b, c)
			}
			// The ledger's charges and holds draw in the same order (QA: they
			// took the voucher first whatever the configuration said).
			other := f.account(abacus.Overdraft{}, nil)
			for _, bk := range abacus.CustomerBuckets {
				if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.Move{Type: abacus.TxGrant, Account: other, Currency: "USD", Amount: amt(t, "2"), Bucket: bk}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.Move{Type: abacus.TxCharge, Account: other, Currency: "USD", Amount: amt(t, "1")}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.HoldCreate{Account: other, Currency: "USD", Amount: amt(t, "2")}); err != nil {
				t.Fatal(err)
			}
			for bk, want := range map[abacus.Bucket]string{abacus.BucketBonus: "0", abacus.BucketCash: "1", abacus.BucketVoucher: "2"} {
				w := wallet(t, f.st, other, bk, "USD")
				if avail, _ := w.Available(); avail.String() != want {
					t.Errorf("%s: %s available, want %s (bonus first, then cash)", bk, avail, want)
				}
			}
			mustVerify(t, f.st)
		})

		t.Run("crossing the low-balance threshold writes one message", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu)
			low := amt(t, "5")
			acct := f.account(abacus.Overdraft{Unlimited: true}, &low)
			f.fund(acct, abacus.TxTopup, "7")
			f.ingest(spaceEvent("a", acct, "gpu", 1, f.t0)) // 6: above
			f.ingest(spaceEvent("b", acct, "gpu", 2, f.t0)) // 4: crosses
			f.ingest(spaceEvent("c", acct, "gpu", 1, f.t0)) // 3: already below
			msgs, err := f.st.Outbox(f.ctx, 0, 10)
			if err != nil || len(msgs) != 1 || msgs[0].Kind != abacus.OutboxLowBalance || msgs[0].Account != acct {
				t.Fatalf("%+v %v", msgs, err)
			}
		})

		t.Run("a charge or a hold crossing the threshold writes the message too", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu)
			low := amt(t, "10")
			acct := f.account(abacus.Overdraft{Unlimited: true}, &low)
			f.fund(acct, abacus.TxTopup, "12")
			f.fund(acct, abacus.TxCharge, "3")              // 9: crosses
			f.ingest(spaceEvent("a", acct, "gpu", 1, f.t0)) // 8: below already
			f.fund(acct, abacus.TxTopup, "10")              // 18
			if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: amt(t, "9")}); err != nil {
				t.Fatal(err) // 9 available: crosses again
			}
			msgs, err := f.st.Outbox(f.ctx, 0, 10)
			if err != nil || len(msgs) != 2 {
				t.Fatalf("%+v %v, want a message for the charge and one for the hold", msgs, err)
			}
			for i, want := range []string{`"available":"9"`, `"available":"9"`} {
				if msgs[i].Kind != abacus.OutboxLowBalance || msgs[i].Account != acct || !strings.Contains(msgs[i].Payload, want) {
					t.Fatalf("message %d: %+v, want %s", i, msgs[i], want)
				}
			}
		})

		t.Run("minute-level dedupe for the scenes it is on for", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{MinuteDedupe: map[int]bool{11: true}}, gpu)
			acct := newAccountID()
			a := spaceEvent("a", acct, "gpu", 1, f.t0.Add(10*time.Second))
			b := spaceEvent("b", acct, "gpu", 1, f.t0.Add(50*time.Second)) // same instance, same minute
			c := spaceEvent("c", acct, "gpu", 1, f.t0.Add(70*time.Second)) // next minute
			res := f.ingest(a, b, c, a)
			if res[0].Status != abacus.IngestAccepted || res[1].Status != abacus.IngestDuplicate || res[2].Status != abacus.IngestAccepted {
				t.Fatalf("%+v", res)
			}
			if res[1].DuplicateOf != "a" || res[3].Status != abacus.IngestDuplicate || res[3].DuplicateOf != "" {
				t.Fatalf("b %+v and a again %+v: want b dropped for a's minute, and a a repeat of its id", res[1], res[3])
			}
			// A later batch: one slot taken by a, one by c, one free.
			d := spaceEvent("d", acct, "gpu", 1, f.t0.Add(30*time.Second))
			e := spaceEvent("e", acct, "gpu", 1, f.t0.Add(80*time.Second))
			g := spaceEvent("g", acct, "gpu", 1, f.t0.Add(130*time.Second))
			res = f.ingest(d, e, g)
			if res[0].Status != abacus.IngestDuplicate || res[1].Status != abacus.IngestDuplicate || res[2].Status != abacus.IngestAccepted {
				t.Fatalf("across batches: %+v", res)
			}
			if res[0].DuplicateOf != "a" || res[1].DuplicateOf != "c" {
				t.Fatalf("across batches: d for %q and e for %q, want a and c", res[0].DuplicateOf, res[1].DuplicateOf)
			}
			// Voiding a frees its minute for a corrected event under a new id;
			// a's own id stays taken.
			if res, err := f.e.VoidEvents(f.ctx, []string{"a"}); err != nil || res[0].Err != nil {
				t.Fatal(res, err)
			}
			again := spaceEvent("a", acct, "gpu", 1, f.t0.Add(10*time.Second))
			fixed := spaceEvent("a-fixed", acct, "gpu", 1, f.t0.Add(20*time.Second))
			late := spaceEvent("a-late", acct, "gpu", 1, f.t0.Add(40*time.Second))
			res = f.ingest(again, fixed, late)
			if res[0].Status != abacus.IngestDuplicate || res[1].Status != abacus.IngestAccepted || res[2].Status != abacus.IngestDuplicate {
				t.Fatalf("after the void: %+v", res)
			}
			// Events that name no instance are not one instance: each counts.
			var anon []abacus.UsageEvent
			for i, acct := range []abacus.AccountID{acct, acct, newAccountID()} {
				ev := spaceEvent(fmt.Sprintf("anon-%d", i), acct, "gpu", 1, f.t0.Add(5*time.Minute))
				ev.CustomerID = ""
				anon = append(anon, ev)
			}
			for _, r := range f.ingest(anon...) {
				if r.Status != abacus.IngestAccepted {
					t.Fatalf("an event without customer_id: %+v, want accepted", r)
				}
			}
			// A token event is one request, not a minute of an instance's
			// time: CSGHub checks minutes only for other value types, and
			// dropping the second of two requests in a minute lost its usage (QA).
			var tokens []abacus.UsageEvent
			for i := range 2 {
				ev := spaceEvent(fmt.Sprintf("tokens-%d", i), acct, "gpu", 1, f.t0.Add(9*time.Minute))
				ev.ValueType = abacus.ValueTokens
				tokens = append(tokens, ev)
			}
			for _, r := range f.ingest(tokens...) {
				if r.Status != abacus.IngestAccepted {
					t.Fatalf("two token events of one instance in a minute: %+v, want each accepted", r)
				}
			}
			mustVerify(t, f.st)
		})

		t.Run("a price change in the middle of a period and a late event", func(t *testing.T) {
			cheap := perMinute("gpu", "0.5", t0.Add(10*24*time.Hour)) // from the 11th
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu, cheap)
			acct := newAccountID()
			res := f.ingest(spaceEvent("before", acct, "gpu", 10, t0.Add(24*time.Hour)), spaceEvent("after", acct, "gpu", 10, t0.Add(20*24*time.Hour)))
			if res[0].Charged.String() != "10" || res[1].Charged.String() != "5" {
				t.Fatalf("each at its own time's price: %+v", res)
			}
			// A late event for the 2nd, sent after both, still pays the old price
			// and lands in the rollup of its own quarter hour.
			late := spaceEvent("late", acct, "gpu", 4, t0.Add(24*time.Hour+7*time.Minute))
			if res := f.ingest(late); res[0].Charged.String() != "4" {
				t.Fatalf("late: %+v", res[0])
			}
			rs := testdb.Rollups(t, f.st, abacus.RollupQuery{Account: acct, From: t0.Add(24 * time.Hour), To: t0.Add(24*time.Hour + 15*time.Minute)})
			if len(rs) != 1 || rs[0].Quantity != 14 || rs[0].Amount.String() != "14" || rs[0].Events != 2 {
				t.Fatalf("rollup of the 2nd 00:00-00:15: %+v", rs)
			}
			// Voiding corrects the rollup of the event's own period, once.
			if res, err := f.e.VoidEvents(f.ctx, []string{"late"}); err != nil || res[0].Err != nil || res[0].Refunded.String() != "4" {
				t.Fatal(res, err)
			}
			rs = testdb.Rollups(t, f.st, abacus.RollupQuery{Account: acct, From: t0.Add(24 * time.Hour), To: t0.Add(24*time.Hour + 15*time.Minute)})
			if rs[0].Quantity != 10 || rs[0].Amount.String() != "10" || rs[0].Events != 1 {
				t.Fatalf("rollup after the void: %+v", rs)
			}
			mustVerify(t, f.st)
		})

		t.Run("graduated tiers count per account and period", func(t *testing.T) {
			tiered := tieredPrice("gpu", abacus.ModelGraduated, t0.AddDate(0, -1, 0), tier{10, "2"}, tier{0, "1"})
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tiered)
			acct, other := newAccountID(), newAccountID()
			// 8 minutes at 2, then 6 crossing the boundary: 2×2 + 4×1; another
			// account starts at the first tier; December starts over.
			res := f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour)),
				spaceEvent("c", other, "gpu", 1, t0), spaceEvent("d", acct, "gpu", 1, t0.AddDate(0, 1, 0)))
			got := []string{res[0].Charged.String(), res[1].Charged.String(), res[2].Charged.String(), res[3].Charged.String()}
			if got[0] != "16" || got[1] != "8" || got[2] != "2" || got[3] != "2" {
				t.Fatalf("charges %v", got)
			}
			mustVerify(t, f.st)
		})
	})
}
