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
)

// TestCreditsGoBackToTheBucketsThatPaid: money usage gives back goes to
// the buckets that paid for the month, never more to one than it paid, so
// a voucher spent on usage never comes back as cash.
func TestCreditsGoBackToTheBucketsThatPaid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		// All minutes at 2 up to 10, all at 1 beyond: C(8) = 16, C(14) = 14.
		gpu := tieredPrice("gpu", abacus.ModelVolume, month, tier{10, "2"}, tier{0, "1"})
		cpu := perMinute("cpu", "1", month)

		t.Run("a volume credit goes back to the voucher that paid", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu)
			acct := f.account(abacus.Overdraft{}, nil)
			f.voucher(acct, "100")
			res := f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour)))
			if res[0].Charged.String() != "16" || res[1].Charged.String() != "-2" {
				t.Fatalf("charges %+v", res)
			}
			if got := f.balances(acct); got != "cash 0 bonus 0 voucher 86" {
				t.Fatal(got)
			}
			if b := f.stored("b"); b.Drawn != (abacus.Drawn{Voucher: amt(t, "-2")}) {
				t.Fatalf("b's buckets: %+v", b.Drawn)
			}
			mustVerify(t, f.st)
			// Voided, b's credit comes back from the voucher it went to.
			if v := f.void("b"); v.Err != nil || v.Refunded.String() != "-2" {
				t.Fatalf("void: %+v", v)
			}
			if got := f.balances(acct); got != "cash 0 bonus 0 voucher 84" {
				t.Fatal(got)
			}
			if b := f.stored("b"); b.Drawn != (abacus.Drawn{}) {
				t.Fatalf("b's buckets after its void: %+v", b.Drawn)
			}
			mustVerify(t, f.st)

			// Records that put a's voucher money in cash disagree with the
			// postings; ones that give the voucher back more than it paid
			// are caught as well.
			corrupt(t, f.st, `UPDATE usage_events SET drawn_voucher = drawn_voucher - 20000000, drawn_cash = drawn_cash + 20000000 WHERE id = 'a'`)
			rep, err := ledger.Verify(f.ctx, f.st)
			if err != nil || rep.OK() || !strings.Contains(rep.String(), "took 16 USD from its voucher bucket but its events say it paid -4") ||
				!strings.Contains(rep.String(), "its voucher bucket got back 4 USD more for the usage of 2026-11 than it paid for it") {
				t.Fatalf("verify after moving a's voucher money to cash: %v\n%s", err, rep)
			}
		})

		t.Run("a month paid by voucher and cash shares a credit as it paid", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu)
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			f.voucher(acct, "10")
			f.ingest(spaceEvent("a", acct, "gpu", 8, t0)) // voucher 10, cash 6
			f.ingest(spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour)))
			// The credit of 2 goes back 10:6.
			if got := f.balances(acct); got != "cash -5.25 bonus 0 voucher 1.25" {
				t.Fatal(got)
			}
			mustVerify(t, f.st)
			// The month's sums, which bound its credits, are checked too.
			corrupt(t, f.st, `UPDATE usage_paid SET voucher = voucher + 1000000`)
			rep, err := ledger.Verify(f.ctx, f.st)
			if err != nil || rep.OK() || !strings.Contains(rep.String(), "its events say its voucher bucket paid 8.75 USD for the usage of resource \"gpu\" in 2026-11, but the store keeps 9.75") {
				t.Fatalf("verify after changing the month's sums: %v\n%s", err, rep)
			}
		})

		t.Run("a credit the voucher has spent is reclaimed in cash, within the floor", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu, cpu)
			acct := f.account(abacus.Overdraft{}, nil)
			f.voucher(acct, "16")
			f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour))) // voucher 0, then 2
			f.ingest(spaceEvent("c", acct, "cpu", 2, t0.Add(2*time.Hour)))                                    // voucher 0
			f.grant(acct, abacus.BucketBonus, "5")                                                            // no help: what the voucher spent is owed in cash
			// The refusal says what cash lacks, not what every bucket holds
			// (QA: "can spend 5 USD; 2 is needed").
			if v := f.void("b"); v.Err == nil || v.Err.Code != abacus.CodeInsufficientFunds || v.Err.Field != "uuid" ||
				!strings.Contains(v.Err.Message, "needs 2 USD from cash") || !strings.Contains(v.Err.Message, "has 0 USD above its floor of 0") {
				t.Fatalf("a reclaim beyond the floor: %+v", v)
			}
			if got := f.balances(acct); got != "cash 0 bonus 5 voucher 0" {
				t.Fatal(got)
			}
			f.fund(acct, abacus.TxTopup, "2")
			if v := f.void("b"); v.Err != nil || v.Refunded.String() != "-2" {
				t.Fatalf("void: %+v", v)
			}
			if got := f.balances(acct); got != "cash 0 bonus 5 voucher 0" {
				t.Fatal(got)
			}
			if b := f.stored("b"); b.Drawn != (abacus.Drawn{Cash: amt(t, "2"), Voucher: amt(t, "-2")}) {
				t.Fatalf("b's buckets after its void: %+v", b.Drawn)
			}
			mustVerify(t, f.st)
		})
	})
}

// TestARepriceGivesEachBucketWhatItPaid: a month repriced whole gives
// each bucket back what it paid for the month, net of the credits a
// volume price gave back, so a correction that leaves the month's cost as
// it was moves no money from one bucket to another.
func TestARepriceGivesEachBucketWhatItPaid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		// All minutes at 4 up to 5, all at 1 beyond: C(4) = 16, C(7) = 7.
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelVolume, month, tier{5, "4"}, tier{0, "1"}))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.fund(acct, abacus.TxTopup, "2")
		f.grant(acct, abacus.BucketBonus, "16")
		f.ingest(spaceEvent("a", acct, "gpu", 4, t0))                // cash 2, bonus 14
		f.ingest(spaceEvent("b", acct, "gpu", 3, t0.Add(time.Hour))) // 9 back 2:14
		want := "cash 1.125 bonus 9.875 voucher 0"
		if got := f.balances(acct); got != want {
			t.Fatal(got)
		}
		// Corrected, C(4) = 8 and C(7) is still 7.
		corrected := tieredPrice("gpu", abacus.ModelVolume, month, tier{5, "2"}, tier{0, "1"})
		corrected.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{corrected}); err != nil {
			t.Fatal(err)
		}
		res, err := f.e.Reprice(f.ctx, []string{"a", "b"})
		if err != nil || res[0].Err != nil || res[1].Err != nil || res[0].Charged.String() != "8" || res[1].Charged.String() != "-1" {
			t.Fatalf("reprice: %+v %v", res, err)
		}
		// Before, a's 16 came back first, bounded by the month's net with
		// b's credit still out, and the 9 beyond went to cash: cash, which
		// had paid 0.875, ended at 4.9375.
		if got := f.balances(acct); got != want {
			t.Fatalf("after a reprice to the same cost: %s", got)
		}
		mustVerify(t, f.st)
	})
}

// TestARepriceToTheSameCostMovesNothing: a correction that leaves a
// month's cost as it was moves no money and is never refused, whichever
// way its events get there: a first event dearer than the voucher holds,
// or a volume credit the voucher spent since, or holds, before the
// correction. (Moved event by event, cash had paid part of such months,
// and a floor of 0 refused them.) A reprice that leaves out events of the
// month's tiered price is refused and changes nothing.
func TestARepriceToTheSameCostMovesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		// All minutes at 2 up to 10, all at 1 beyond: C(8) = 16, C(14) = 14.
		gpu := func(first string, revision int) abacus.Price {
			p := tieredPrice("gpu", abacus.ModelVolume, month, tier{10, first}, tier{0, "1"})
			p.Revision = revision
			return p
		}
		for _, tc := range []struct {
			name, voucher, first string
			after                func(f *usageFixture, acct abacus.AccountID)
		}{
			// Corrected, C(8) = 32, more than the voucher's 30; C(14) is 14.
			{"dearer on the way", "30", "4", nil},
			{"a credit spent since", "16", "2", func(f *usageFixture, acct abacus.AccountID) {
				f.ingest(spaceEvent("c", acct, "cpu", 2, t0.Add(2*time.Hour))) // the voucher's last 2
			}},
			{"a credit held since", "16", "2", func(f *usageFixture, acct abacus.AccountID) {
				if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: amt(t, "2"),
					Bucket: abacus.BucketVoucher}); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			for _, od := range []abacus.Overdraft{{}, {Unlimited: true}} {
				f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu("2", 0), perMinute("cpu", "1", month))
				acct := f.account(od, nil)
				f.voucher(acct, tc.voucher)
				f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour)))
				if tc.after != nil {
					tc.after(f, acct)
				}
				before := f.balances(acct)
				if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{gpu(tc.first, 1)}); err != nil {
					t.Fatal(err)
				}
				if res, err := f.e.Reprice(f.ctx, []string{"b"}); err != nil || res[0].Err == nil || res[0].Err.Code != abacus.CodeConflict ||
					!strings.Contains(res[0].Err.Message, "by events this call leaves out") {
					t.Fatalf("%s, floor %v: a reprice of b alone: %+v %v", tc.name, !od.Unlimited, res, err)
				}
				if got := f.balances(acct); got != before {
					t.Fatalf("%s, floor %v: a refused reprice moved %s to %s", tc.name, !od.Unlimited, before, got)
				}
				res, err := f.e.Reprice(f.ctx, []string{"a", "b"})
				if err != nil || res[0].Err != nil || res[1].Err != nil || !res[0].Repriced || res[0].Charged.String() != gpu(tc.first, 1).Tiers[0].UnitPrice.Mul(decimal.NewFromInt(8)).String() {
					t.Fatalf("%s, floor %v: reprice: %+v %v", tc.name, !od.Unlimited, res, err)
				}
				if got := f.balances(acct); got != before {
					t.Fatalf("%s, floor %v: a reprice to the same cost moved %s to %s", tc.name, !od.Unlimited, before, got)
				}
				mustVerify(t, f.st)
			}
		}
	})
}

// TestARefusedVoidMovesNothing: a void that takes back more than its
// event's credit, where the floor refuses the rest, leaves every bucket
// as it was, the part the credit covers included.
func TestARefusedVoidMovesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelVolume, t0.AddDate(0, -1, 0), tier{10, "2"}, tier{0, "1"}))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "19")
		for i, m := range []int64{5, 4, 3, 1} { // 10, then 8 more, 6 back, 1 more: 13 paid
			f.ingest(spaceEvent(string(rune('a'+i)), acct, "gpu", m, t0.Add(time.Duration(i)*time.Hour)))
		}
		if got := f.balances(acct); got != "cash 6 bonus 0 voucher 0" {
			t.Fatal(got)
		}
		// Without c the month costs C(10) = 20: 7 more than paid, of which
		// c's credit covers 6 and the floor refuses the last.
		if v := f.void("c"); v.Err == nil || v.Err.Code != abacus.CodeInsufficientFunds {
			t.Fatalf("void: %+v", v)
		}
		if got := f.balances(acct); got != "cash 6 bonus 0 voucher 0" {
			t.Fatalf("after the refused void: %s", got)
		}
		if c := f.stored("c"); c.Status != abacus.EventCharged || c.Drawn != (abacus.Drawn{Cash: amt(t, "-6")}) {
			t.Fatalf("c after the refused void: %+v", c)
		}
		mustVerify(t, f.st)
	})
}

func (f *usageFixture) stored(id string) abacus.StoredEvent {
	f.t.Helper()
	evs, err := f.st.Events(f.ctx, abacus.EventQuery{IDs: []string{id}, Limit: 2})
	if err != nil || len(evs) != 1 {
		f.t.Fatalf("event %s: %+v %v", id, evs, err)
	}
	return evs[0]
}

// TestUsageNeverGivesABucketMoreThanItPaid: whatever usage, voids,
// funding and price corrections come in any order, under tiers cheaper and
// dearer by volume, no bucket ends up holding more than was put in it.
func TestUsageNeverGivesABucketMoreThanItPaid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		revision := 0
		prices := func(a, b, c string) []abacus.Price {
			ps := []abacus.Price{
				tieredPrice("cheaper", abacus.ModelVolume, month, tier{5, a}, tier{12, b}, tier{0, c}),
				tieredPrice("dearer", abacus.ModelGraduated, month, tier{10, c}, tier{0, a}),
				perMinute("flat", b, month),
			}
			for i := range ps {
				ps[i].Revision = revision
			}
			return ps
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, prices("3", "2", "1")...)
		buckets := []abacus.Bucket{abacus.BucketCash, abacus.BucketBonus, abacus.BucketVoucher}
		var accounts []abacus.AccountID
		var all []string
		rapid.Check(t, func(rt *rapid.T) {
			price := func(label string) string { return strconv.Itoa(rapid.IntRange(1, 4).Draw(rt, label)) }
			correct := func() {
				revision++
				if err := f.st.PriceBookCorrect(f.ctx, prices(price("a"), price("b"), price("c"))); err != nil {
					rt.Fatal(err)
				}
			}
			// Each check starts from prices of its own, so that a failure
			// replays: the book is shared by every check.
			correct()
			acct := f.account(abacus.Overdraft{Unlimited: rapid.Bool().Draw(rt, "overdraft")}, nil)
			accounts = append(accounts, acct)
			put := map[abacus.Bucket]int64{}
			var standing, mine []string
			for i, n := 0, rapid.IntRange(1, 14).Draw(rt, "steps"); i < n; i++ {
				switch rapid.IntRange(0, 4).Draw(rt, "step") {
				case 4: // a correction of every price, and this account's events repriced
					correct()
					res, err := f.e.Reprice(f.ctx, mine)
					if err != nil {
						rt.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil && r.Err.Code != abacus.CodeInsufficientFunds {
							rt.Fatalf("reprice: %+v", r)
						}
					}
				case 0:
					b := rapid.SampledFrom(buckets).Draw(rt, "bucket")
					units := rapid.Int64Range(1, 30).Draw(rt, "units")
					a := abacus.AmountFromMicros(units * 1_000_000)
					if b == abacus.BucketCash {
						f.fund(acct, abacus.TxTopup, a.String())
					} else {
						f.grant(acct, b, a.String())
					}
					put[b] += units
				case 1:
					if len(standing) == 0 {
						continue
					}
					k := rapid.IntRange(0, len(standing)-1).Draw(rt, "which")
					// A void is refused by the floor, or in a month a correction
					// could not reprice (the floor refused that) until it is.
					if v := f.void(standing[k]); v.Err == nil {
						standing = append(standing[:k], standing[k+1:]...)
					} else if v.Err.Code != abacus.CodeInsufficientFunds && !(v.Err.Code == abacus.CodeConflict && strings.Contains(v.Err.Message, "reprice its month first")) {
						rt.Fatalf("void: %+v", v)
					}
				default:
					id := string(newAccountID())
					resource := rapid.SampledFrom([]string{"cheaper", "dearer", "flat"}).Draw(rt, "resource")
					at := t0.Add(time.Duration(rapid.IntRange(0, 39).Draw(rt, "day")) * 24 * time.Hour) // November, and some of December
					res := f.ingest(spaceEvent(id, acct, resource, rapid.Int64Range(1, 8).Draw(rt, "minutes"), at))
					switch {
					case res[0].Status == abacus.IngestAccepted:
						standing, mine, all = append(standing, id), append(mine, id), append(all, id)
					case res[0].Err == nil || res[0].Err.Code != abacus.CodeInsufficientFunds:
						rt.Fatalf("ingest: %+v", res[0])
					}
				}
			}
			for _, b := range buckets {
				w := wallet(rt, f.st, acct, b, "USD")
				if w.Balance.Cmp(abacus.AmountFromMicros(put[b]*1_000_000)) > 0 {
					rt.Fatalf("the %s bucket holds %s, more than the %d put in it", b, w.Balance, put[b])
				}
			}
		})
		// Earlier accounts' events, after later corrections, with the money
		// to pay them.
		for _, a := range accounts {
			f.fund(a, abacus.TxTopup, "1000")
		}
		if _, err := f.e.Reprice(f.ctx, all); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, f.st)
	})
}

// TestRepriceMovesOnlyTheDifference: a reprice gives an event back what it
// paid and charges it again; the new charge comes first from where the
// refund went, so a voucher granted since pays only what the corrected
// price adds, never what cash had paid.
func TestRepriceMovesOnlyTheDifference(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "2", month))
		acct := f.account(abacus.Overdraft{}, nil)
		f.fund(acct, abacus.TxTopup, "20")
		f.ingest(spaceEvent("a", acct, "gpu", 10, t0)) // 20 from cash
		f.voucher(acct, "50")
		for i, step := range []struct{ price, charged, balances string }{
			{"1", "10", "cash 10 bonus 0 voucher 50"}, // 10 of the 20 back to cash
			{"3", "30", "cash 10 bonus 0 voucher 30"}, // cash's 10 again, and 20 more in the draw order: voucher first
		} {
			fixed := perMinute("gpu", step.price, month)
			fixed.Revision = i + 1
			if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fixed}); err != nil {
				t.Fatal(err)
			}
			res, err := f.e.Reprice(f.ctx, []string{"a"})
			if err != nil || !res[0].Repriced || res[0].Charged.String() != step.charged {
				t.Fatalf("reprice at %s: %+v %v", step.price, res, err)
			}
			if got := f.balances(acct); got != step.balances {
				t.Fatalf("after the reprice at %s: %s, want %s", step.price, got, step.balances)
			}
		}
		mustVerify(t, f.st)
	})
}

// TestACarryIsItsMonths: what rounding to micro-units leaves over is kept
// per account and month, so that a void gives back through the carry only
// what its own month was charged. With one carry across months, a void in
// a month its buckets had paid nothing for gave back a micro-unit another
// month's voucher had paid, and it came back as cash.
func TestACarryIsItsMonths(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		dec := nov.AddDate(0, 1, 0)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0.0000004", nov.AddDate(0, -1, 0)))
		acct := f.account(abacus.Overdraft{}, nil)
		f.voucher(acct, "1")
		// 0.4µ a minute: November carries 0.4µ, then December its own
		// 0.4µ, then November's second minute makes 0.8µ, still nothing to
		// charge. (One carry would have charged the third a micro-unit.)
		res := f.ingest(spaceEvent("n1", acct, "gpu", 1, nov), spaceEvent("d1", acct, "gpu", 1, dec), spaceEvent("n2", acct, "gpu", 1, nov.Add(time.Hour)))
		for _, r := range res {
			if r.Status != abacus.IngestAccepted || !r.Charged.IsZero() {
				t.Fatalf("charges %+v, want each event charged nothing yet", res)
			}
		}
		// A third November minute makes 1.2µ: a micro-unit, from the
		// voucher, and 0.2µ carried.
		if r := f.ingest(spaceEvent("n3", acct, "gpu", 1, nov.Add(2*time.Hour))); r[0].Charged.String() != "0.000001" {
			t.Fatalf("n3: %+v, want charged a micro-unit", r[0])
		}
		// December's void gives back its own 0.4µ from December's carry:
		// nothing moves.
		if v := f.void("d1"); v.Err != nil || !v.Refunded.IsZero() {
			t.Fatalf("void of d1: %+v, want nothing given back", v)
		}
		if got := f.balances(acct); got != "cash 0 bonus 0 voucher 0.999999" {
			t.Fatalf("balances %s, want the voucher's micro-unit spent on November and no cash", got)
		}
		// November's voids give back its 1.2µ through its carry of 0.2µ:
		// the first a micro-unit, to the voucher that paid it, the others
		// nothing, and the carry ends at zero.
		for _, id := range []string{"n1", "n2", "n3"} {
			if v := f.void(id); v.Err != nil {
				t.Fatalf("void of %s: %+v", id, v)
			}
		}
		if got := f.balances(acct); got != "cash 0 bonus 0 voucher 1" {
			t.Fatalf("balances %s, want everything back where it came from", got)
		}
		mustVerify(t, f.st)
	})
}

// TestCreditsStayWithTheirResource: what a resource's usage gives back
// goes to the buckets that paid for that resource's usage of the month,
// not to those that paid for another's, so a voucher that paid one
// resource never comes back as cash another resource paid (QA: a voucher
// of 10 that paid only voided usage ended as 4.375 cash and 5.625
// voucher, or as 10 voucher, by the order of the voids).
func TestCreditsStayWithTheirResource(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		// All minutes at 2 up to 10, all at 1 beyond: C(6) = 12, C(8) = 16, C(14) = 14.
		gpu := tieredPrice("gpu", abacus.ModelVolume, month, tier{10, "2"}, tier{0, "1"})
		cpu := perMinute("cpu", "1", month)
		// The voucher pays gpu's a, cash pays cpu's c, then gpu's b steps
		// the month's gpu minutes down a tier: its credit of 2 is gpu's.
		setUp := func(t *testing.T) (*usageFixture, abacus.AccountID) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu, cpu)
			acct := f.account(abacus.Overdraft{}, nil)
			f.voucher(acct, "16")
			f.fund(acct, abacus.TxTopup, "10")
			f.ingest(spaceEvent("a", acct, "gpu", 8, t0))
			f.ingest(spaceEvent("c", acct, "cpu", 5, t0.Add(time.Hour)))
			if res := f.ingest(spaceEvent("b", acct, "gpu", 6, t0.Add(2*time.Hour))); res[0].Err != nil || res[0].Charged.String() != "-2" {
				t.Fatalf("b: %+v", res[0])
			}
			if got := f.balances(acct); got != "cash 5 bonus 0 voucher 2" {
				t.Fatal(got)
			}
			mustVerify(t, f.st)
			return f, acct
		}
		for _, order := range [][]string{{"b", "a"}, {"a", "b"}} {
			t.Run("voiding gpu's events "+strings.Join(order, ", then "), func(t *testing.T) {
				f, acct := setUp(t)
				f.voidAll(order)
				if got := f.balances(acct); got != "cash 5 bonus 0 voucher 16" {
					t.Fatal(got)
				}
				mustVerify(t, f.st)
			})
		}
	})
}

// TestCarriesAcrossResourcesComeBackToTheMonthsBuckets: a month's carry
// is the month's, not a resource's, so with prices below a millionth one
// resource's events can pay nothing, their cost carried into another's
// charges. What their voids give back beyond what their resource paid is
// then the month's: it goes to the buckets that paid for the month, never
// to cash that paid none of it (QA: 400 such events moved 100 micro-units
// of voucher money to cash once voided).
func TestCarriesAcrossResourcesComeBackToTheMonthsBuckets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		// The events alternate between the resources: those of one first.
		resourceFirst := func(ids []string, first int) []string {
			var a, b []string
			for i, id := range ids {
				if i%2 == first {
					a = append(a, id)
				} else {
					b = append(b, id)
				}
			}
			return append(a, b...)
		}
		for _, c := range []struct {
			name  string
			order func(ids []string) []string
		}{
			{"in the order charged", func(ids []string) []string { return ids }},
			{"one resource first", func(ids []string) []string { return resourceFirst(ids, 0) }},
			{"the other first", func(ids []string) []string { return resourceFirst(ids, 1) }},
			{"backwards", func(ids []string) []string {
				out := slices.Clone(ids)
				slices.Reverse(out)
				return out
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("a", "0.0000005", month), perMinute("b", "0.0000005", month))
				acct := f.account(abacus.Overdraft{}, nil)
				f.fund(acct, abacus.TxTopup, "1")
				f.voucher(acct, "1")
				var ids []string
				for i := range 40 {
					id := "e" + strconv.Itoa(i)
					ids = append(ids, id)
					f.ingest(spaceEvent(id, acct, []string{"a", "b"}[i%2], 1, t0.Add(time.Duration(i)*time.Minute)))
				}
				if got := f.balances(acct); got != "cash 1 bonus 0 voucher 0.99998" {
					t.Fatal(got)
				}
				f.voidAll(c.order(ids))
				if got := f.balances(acct); got != "cash 1 bonus 0 voucher 1" {
					t.Fatal(got)
				}
				mustVerify(t, f.st)
			})
		}
	})
}

// TestCreditsSharedAcrossResourcesBeforeMigration0025: until 0025 a
// credit was shared with the buckets that paid the month's other
// resources, so a resource's sums can hold what a bucket got back for
// another. What a bucket gets back is bounded by the month too, so voiding
// such a month, in any order, brings each bucket back exactly what it
// paid (QA: cash ended 0.769231 up and the voucher as much down after an
// upgrade, by the order of the voids).
func TestCreditsSharedAcrossResourcesBeforeMigration0025(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)
		// All minutes at 1 up to 10, all at 0.5 beyond: C(8) = 8, C(12) = 6.
		gpu := tieredPrice("gpu", abacus.ModelVolume, month, tier{10, "1"}, tier{0, "0.5"})
		cpu := perMinute("cpu", "1", month)
		for _, order := range [][]string{{"e1", "e2", "e3"}, {"e1", "e3", "e2"}, {"e2", "e1", "e3"}, {"e2", "e3", "e1"}, {"e3", "e1", "e2"}, {"e3", "e2", "e1"}} {
			t.Run(strings.Join(order, ","), func(t *testing.T) {
				f := newUsageFixture(t, open(t), ledger.UsageConfig{}, gpu, cpu)
				acct := f.account(abacus.Overdraft{}, nil)
				f.fund(acct, abacus.TxTopup, "100")
				f.voucher(acct, "8")
				f.ingest(spaceEvent("e1", acct, "gpu", 8, t0))                  // voucher 8
				f.ingest(spaceEvent("e2", acct, "cpu", 5, t0.Add(time.Hour)))   // cash 5
				f.ingest(spaceEvent("e3", acct, "gpu", 4, t0.Add(2*time.Hour))) // 2 back to the voucher
				// As an earlier release could have split it: 1 of gpu's
				// credit went to cash, and the voucher got 1 back for cpu.
				// Each bucket's sums stay as they were, and so do its
				// postings.
				corrupt(t, f.st, `UPDATE usage_events SET drawn_cash = 6000000, drawn_voucher = -1000000 WHERE id = 'e2'`)
				corrupt(t, f.st, `UPDATE usage_events SET drawn_cash = -1000000, drawn_voucher = -1000000 WHERE id = 'e3'`)
				corrupt(t, f.st, `UPDATE usage_paid SET cash = -1000000, voucher = 7000000 WHERE resource_id = 'gpu'`)
				corrupt(t, f.st, `UPDATE usage_paid SET cash = 6000000, voucher = -1000000 WHERE resource_id = 'cpu'`)
				mustVerify(t, f.st)
				f.voidAll(order)
				if got := f.balances(acct); got != "cash 100 bonus 0 voucher 8" {
					t.Fatal(got)
				}
				mustVerify(t, f.st)
			})
		}
	})
}

// voidAll voids ids in turn, each of which must be voided.
func (f *usageFixture) voidAll(ids []string) {
	f.t.Helper()
	for _, id := range ids {
		if v := f.void(id); v.Err != nil {
			f.t.Fatalf("void %s: %+v", id, v)
		}
	}
}
