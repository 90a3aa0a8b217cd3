package ledger_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// tier is a band of a tiered price: minutes up to upTo (0: the last
// band) at price each.
type tier struct {
	upTo  int64
	price string
}

// tieredPrice prices minutes of resource from from by tiers.
func tieredPrice(resource string, model abacus.PriceModel, from time.Time, tiers ...tier) abacus.Price {
	p := perMinute(resource, "0", from)
	p.Model, p.UnitPrice = model, decimal.Zero
	for _, t := range tiers {
		p.Tiers = append(p.Tiers, abacus.PriceTier{UpTo: t.upTo, UnitPrice: decimal.RequireFromString(t.price)})
	}
	return p
}

func (f *usageFixture) void(id string) abacus.IngestResult {
	f.t.Helper()
	res, err := f.e.VoidEvents(f.ctx, []string{id})
	if err != nil {
		f.t.Fatal(err)
	}
	return res[0]
}

func (f *usageFixture) balances(acct abacus.AccountID) string {
	f.t.Helper()
	return fmt.Sprintf("cash %s bonus %s voucher %s", wallet(f.t, f.st, acct, abacus.BucketCash, "USD").Balance,
		wallet(f.t, f.st, acct, abacus.BucketBonus, "USD").Balance, wallet(f.t, f.st, acct, abacus.BucketVoucher, "USD").Balance)
}

func (f *usageFixture) voucher(acct abacus.AccountID, amount string) {
	f.t.Helper()
	f.grant(acct, abacus.BucketVoucher, amount)
}

func (f *usageFixture) grant(acct abacus.AccountID, bucket abacus.Bucket, amount string) {
	f.t.Helper()
	if _, err := f.e.Submit(f.ctx, string(newAccountID()), &abacus.Move{Type: abacus.TxGrant, Account: acct, Currency: "USD",
		Amount: amt(f.t, amount), Bucket: bucket}); err != nil {
		f.t.Fatal(err)
	}
}

// TestVoidGivesBackTheMonthsTop: a void leaves the month charged C(what
// stands), whatever the tiers, and the money goes back where it came from.
func TestVoidGivesBackTheMonthsTop(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		month := t0.AddDate(0, -1, 0)

		t.Run("graduated, cheaper by volume: a smaller refund, in proportion", func(t *testing.T) {
			// 10 minutes at 2, then 1: C(6) = 12, C(14) = 24.
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelGraduated, month, tier{10, "2"}, tier{0, "1"}))
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			f.voucher(acct, "10")
			res := f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour)))
			if res[0].Charged.String() != "16" || res[1].Charged.String() != "8" {
				t.Fatalf("charges %+v", res) // a: voucher 10, cash 6; b: cash 8
			}
			if v := f.void("a"); v.Err != nil || v.Refunded.String() != "12" {
				t.Fatalf("void: %+v", v) // C(14) − C(6), 10:6 to voucher and cash
			}
			if got := f.balances(acct); got != "cash -9.5 bonus 0 voucher 7.5" {
				t.Fatal(got)
			}
			// The month now stands at C(6) = 12, and goes on from there.
			if res := f.ingest(spaceEvent("c", acct, "gpu", 4, t0.Add(2*time.Hour))); res[0].Charged.String() != "8" {
				t.Fatalf("after the void: %+v", res[0])
			}
			evs, err := f.st.Events(f.ctx, abacus.EventQuery{IDs: []string{"a"}, Limit: 2})
			if err != nil || len(evs) != 1 || evs[0].Status != abacus.EventVoided || evs[0].Charged.String() != "16" || evs[0].Refunded.String() != "12" {
				t.Fatalf("stored: %+v %v", evs, err)
			}
			// The rollup of a's quarter hour keeps what the void left of its charge.
			rs := testdb.Rollups(t, f.st, abacus.RollupQuery{Account: acct, From: t0, To: t0.Add(15 * time.Minute)})
			if len(rs) != 1 || rs[0].Quantity != 0 || rs[0].Events != 0 || rs[0].Amount.String() != "4" {
				t.Fatalf("rollup: %+v", rs)
			}
			mustVerify(t, f.st)
			// A refund the ledger did not make is caught.
			corrupt(t, f.st, `UPDATE usage_events SET refunded = refunded + 1 WHERE id = 'a'`)
			if rep, err := ledger.Verify(f.ctx, f.st); err != nil || rep.OK() {
				t.Fatalf("verify after corrupting a refund: %v\n%s", err, rep)
			}
		})

		t.Run("graduated, dearer by volume: the excess as the month was paid", func(t *testing.T) {
			// 10 minutes at 1, then 2: C(6) = 6, C(14) = 18.
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelGraduated, month, tier{10, "1"}, tier{0, "2"}))
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			f.voucher(acct, "10")
			f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour))) // a: voucher 8; b: voucher 2, cash 8
			// C(14) − C(6) = 12: a's 8 to the voucher, and the 4 beyond as the
			// rest of the month was paid, 2:8, so 0.8 to the voucher and 3.2 to cash.
			if v := f.void("a"); v.Refunded.String() != "12" || v.Back != (abacus.Drawn{Cash: amt(t, "3.2"), Voucher: amt(t, "8.8")}) {
				t.Fatalf("void: %+v", v)
			}
			if got := f.balances(acct); got != "cash -4.8 bonus 0 voucher 8.8" {
				t.Fatal(got)
			}
			mustVerify(t, f.st)
		})

		t.Run("volume: a void can cost, and then the floor holds", func(t *testing.T) {
			// All minutes at 2 up to 10, all at 1 beyond: C(8) = 16, C(14) = 14.
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelVolume, month, tier{10, "2"}, tier{0, "1"}))
			acct := f.account(abacus.Overdraft{}, nil)
			f.fund(acct, abacus.TxTopup, "16")
			res := f.ingest(spaceEvent("a", acct, "gpu", 8, t0), spaceEvent("b", acct, "gpu", 6, t0.Add(time.Hour)))
			if res[0].Charged.String() != "16" || res[1].Charged.String() != "-2" {
				t.Fatalf("charges %+v", res)
			}
			// Without b the month costs C(8) = 16 again: 2 more than the 14
			// paid, and cash holds 2 only after b's credit.
			f.fund(acct, abacus.TxAdjust, "-2")
			if v := f.void("b"); v.Err == nil || v.Err.Code != abacus.CodeInsufficientFunds || v.Err.Field != "uuid" {
				t.Fatalf("a void beyond the floor: %+v", v)
			}
			f.fund(acct, abacus.TxTopup, "2")
			if v := f.void("b"); v.Err != nil || v.Refunded.String() != "-2" {
				t.Fatalf("void: %+v", v)
			}
			if got := f.balances(acct); got != "cash 0 bonus 0 voucher 0" {
				t.Fatal(got)
			}
			mustVerify(t, f.st)
		})

		t.Run("a refund goes through the carry", func(t *testing.T) {
			f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0.0000004", month))
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			// 1.2 µ: charged 0, 0 and 1 µ, 0.2 µ carried.
			f.ingest(spaceEvent("a", acct, "gpu", 1, t0), spaceEvent("b", acct, "gpu", 1, t0), spaceEvent("c", acct, "gpu", 1, t0))
			// Without a: 0.8 µ. Giving back 1 µ leaves 0 charged and 0.8 µ carried,
			// so the next 0.4 µ is charged 1 µ.
			if v := f.void("a"); v.Refunded.String() != "0.000001" {
				t.Fatalf("void: %+v", v)
			}
			if res := f.ingest(spaceEvent("d", acct, "gpu", 1, t0)); res[0].Charged.String() != "0.000001" {
				t.Fatalf("after: %+v", res[0])
			}
			mustVerify(t, f.st)
		})
	})
}

// TestVoidsKeepTheMonthExact: after any mix of events and voids, an
// account's charges less its refunds are C(what stands) to within the
// carry, for graduated and volume prices.
func TestVoidsKeepTheMonthExact(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		tiers := []tier{{10, "7"}, {25, "3"}, {0, "2"}}
		prices := map[string]abacus.Price{}
		var book []abacus.Price
		for _, m := range []abacus.PriceModel{abacus.ModelGraduated, abacus.ModelVolume} {
			p := tieredPrice(string(m), m, t0.AddDate(0, -1, 0), tiers...)
			p.Unit = 3 // prices per 3 minutes: costs in thirds, so the carry works
			prices[string(m)] = p
			book = append(book, p)
		}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, book...)
		rapid.Check(t, func(rt *rapid.T) {
			model := rapid.SampledFrom([]string{string(abacus.ModelGraduated), string(abacus.ModelVolume)}).Draw(rt, "model")
			acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
			var standing []string
			value := map[string]int64{}
			for i, n := 0, rapid.IntRange(1, 12).Draw(rt, "steps"); i < n; i++ {
				if len(standing) > 0 && rapid.Bool().Draw(rt, "void") {
					k := rapid.IntRange(0, len(standing)-1).Draw(rt, "which")
					if v := f.void(standing[k]); v.Err != nil {
						rt.Fatalf("void: %+v", v)
					}
					standing = append(standing[:k], standing[k+1:]...)
					continue
				}
				id := string(newAccountID())
				value[id] = rapid.Int64Range(1, 20).Draw(rt, "minutes")
				if res := f.ingest(spaceEvent(id, acct, model, value[id], t0.Add(time.Duration(i)*time.Minute))); res[0].Status != abacus.IngestAccepted {
					rt.Fatalf("ingest: %+v", res[0])
				}
				standing = append(standing, id)
			}
			var q int64
			for _, id := range standing {
				q += value[id]
			}
			p := prices[model]
			unit := decimal.NewFromInt(p.Unit)
			want := tierCost(p, q) // C × unit, exactly
			paid := decimal.Zero
			for _, b := range []abacus.Bucket{abacus.BucketCash, abacus.BucketBonus, abacus.BucketVoucher} {
				paid = paid.Sub(wallet(rt, f.st, acct, b, "USD").Balance.Decimal())
			}
			// Charges round down and carry the rest: paid ≤ C < paid + 1 µ.
			if paid.Mul(unit).GreaterThan(want) || paid.Add(decimal.New(1, -6)).Mul(unit).LessThanOrEqual(want) {
				rt.Fatalf("%s: %d minutes stand, C = %s/%d, paid %s", model, q, want, p.Unit, paid)
			}
		})
		mustVerify(t, f.st)
	})
}

// tierCost is the oracle: C(q) of a graduated or volume price, times its
// unit, so that it is exact.
func tierCost(p abacus.Price, q int64) decimal.Decimal {
	cost, below := decimal.Zero, int64(0)
	for _, t := range p.Tiers {
		top := t.UpTo
		if top == 0 || top > q {
			top = q
		}
		if p.Model == abacus.ModelVolume {
			if t.UpTo == 0 || q <= t.UpTo {
				cost = t.UnitPrice.Mul(decimal.NewFromInt(q))
				break
			}
			continue
		}
		if top > below {
			cost = cost.Add(t.UnitPrice.Mul(decimal.NewFromInt(top - below)))
		}
		below = top
		if below >= q {
			break
		}
	}
	return cost
}

// TestVoidAndRerateByAnySpelling: ingestion stores a UUID event id in
// lowercase, so voids and rerates find it by the capitals the producer
// may have sent, and answer with the id as stored, as ingestion does.
func TestVoidAndRerateByAnySpelling(t *testing.T) {
	st := testdb.SQLite(t)
	e := ledger.New(st, ledger.Config{})
	defer e.Close()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	acct := newAccountID()
	const upper, lower = "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent(upper, acct, "gpu", 4, t0)})
	if err != nil || res[0].ID != lower || res[0].Status != abacus.IngestAccepted || !res[0].Unpriced {
		t.Fatalf("ingest: %+v %v, want accepted unpriced", res, err)
	}
	if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "0.5", t0)}, nil); err != nil {
		t.Fatal(err)
	}
	rr, err := e.Rerate(ctx, []string{upper})
	if err != nil || rr[0].ID != lower || rr[0].Status != abacus.IngestAccepted || rr[0].Charged.String() != "2" {
		t.Fatalf("rerate by %s: %+v %v, want charged 2", upper, rr, err)
	}
	vs, err := e.VoidEvents(ctx, []string{upper})
	if err != nil || vs[0].ID != lower || vs[0].Status != abacus.IngestAccepted || vs[0].Refunded.String() != "2" {
		t.Fatalf("void by %s: %+v %v, want refunded 2", upper, vs, err)
	}
	if w := wallet(t, st, acct, abacus.BucketCash, "USD"); !w.Balance.IsZero() {
		t.Fatalf("cash %s after the void, want 0", w.Balance)
	}
	mustVerify(t, st)
}

// TestVoidAndRerateOfIdsNoEventCanHave: an id that is not UTF-8 or holds
// a NUL names no event, on either store, and the other ids of the call
// are voided. PostgreSQL refuses such text outright, and that had failed
// the whole call as "the ledger is unreachable; try again" (QA).
func TestVoidAndRerateOfIdsNoEventCanHave(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		ctx := t.Context()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("ok", newAccountID(), "gpu", 4, t0)}); err != nil || res[0].Status != abacus.IngestAccepted {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		bad := []string{"\xff", "a\x00b", "caf\xe9"}
		for name, call := range map[string]func(context.Context, []string) ([]abacus.IngestResult, error){"void": e.VoidEvents, "rerate": e.Rerate} {
			res, err := call(ctx, append(slices.Clone(bad), "ok"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for i := range bad {
				if res[i].Status != abacus.IngestRejected || res[i].Err == nil || res[i].Err.Code != abacus.CodeNotFound {
					t.Errorf("%s of %q: %+v (%v), want not found", name, bad[i], res[i], res[i].Err)
				}
			}
			if name == "void" && (res[3].Status != abacus.IngestAccepted || res[3].Err != nil) {
				t.Errorf("void of ok beside them: %+v (%v)", res[3], res[3].Err)
			}
		}
		mustVerify(t, st)
	})
}

// TestExtraKeyInAnotherCaseComingInOrStored: an event coming in with a key
// of extra rating reads in another case is refused naming it, and makes
// no account; one stored before that rule (unpriced, here) is rerated as
// it was stored, where refused it would stay unpriced for good (QA).
func TestExtraKeyInAnotherCaseComingInOrStored(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		ctx := t.Context()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		tokens := func(id string, acct abacus.AccountID, extra string) abacus.UsageEvent {
			return abacus.UsageEvent{ID: id, Account: acct, Value: 1_000_000, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "llm",
				CustomerID: "c", Time: t0.Add(time.Hour), Extra: extra}
		}
		newcomer := newAccountID()
		res, err := e.Ingest(ctx, []abacus.UsageEvent{tokens("in", newcomer, `{"PROMPT_TOKEN_NUM":1000000}`)})
		if err != nil || res[0].Status != abacus.IngestRejected || res[0].Err.Field != "extra.PROMPT_TOKEN_NUM" {
			t.Fatalf("coming in: %+v %v, want refused naming extra.PROMPT_TOKEN_NUM", res, err)
		}
		if ws, err := st.Wallets(ctx, []abacus.AccountID{newcomer}); err != nil || len(ws) != 0 {
			t.Fatalf("the refused event made its account: %d wallets, %v", len(ws), err)
		}
		acct := newAccountID()
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{tokens("first", acct, "")}); err != nil || !res[0].Unpriced {
			t.Fatalf("%+v %v", res, err)
		}
		storeUnpriced(t, st, tokens("legacy", acct, `{"PROMPT_TOKEN_NUM":1000000}`))
		if err := st.PriceBookAdd(ctx, tokenPrices(t0), nil); err != nil {
			t.Fatal(err)
		}
		rr, err := e.Rerate(ctx, []string{"legacy"})
		if err != nil || rr[0].Status != abacus.IngestAccepted || rr[0].Charged.String() != "2" {
			t.Fatalf("rerate of the stored event: %+v %v, want charged 2 for its value, as it was stored", rr, err)
		}
	})
}

// TestRerateAndVoidInOneBatch: a void of an event that its batch is
// charging by rerate is refused (its charge and refund would net to no
// transaction at all), and the rerate stands.
func TestRerateAndVoidInOneBatch(t *testing.T) {
	st := testdb.SQLite(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := newUsageFixture(t, st, ledger.UsageConfig{})
	acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
	if r := f.ingest(spaceEvent("e", acct, "gpu", 10, t0.Add(24*time.Hour))); !r[0].Unpriced {
		t.Fatalf("%+v", r[0])
	}
	if err := st.PriceBookAdd(f.ctx, []abacus.Price{perMinute("gpu", "1", t0)}, nil); err != nil {
		t.Fatal(err)
	}
	rerated, voided := inOneBatch(t, f, acct,
		func() ([]abacus.IngestResult, error) { return f.e.Rerate(f.ctx, []string{"e"}) },
		func() ([]abacus.IngestResult, error) { return f.e.VoidEvents(f.ctx, []string{"e"}) })
	if len(rerated) != 1 || rerated[0].Charged.String() != "10" || len(voided) != 1 || voided[0].Status != abacus.IngestRejected {
		t.Fatalf("rerate %+v, void %+v", rerated, voided)
	}
	mustVerify(t, st)
}

// inOneBatch runs first and then second so that they join one usage batch:
// while an ingest for acct waits at the engine's write gate, first and
// second queue behind it, and then all go.
func inOneBatch(t *testing.T, f *usageFixture, acct abacus.AccountID, first, second func() ([]abacus.IngestResult, error)) (a, b []abacus.IngestResult) {
	t.Helper()
	arrived, release := f.gate.hold()
	busy := make(chan struct{})
	go func() {
		f.e.Ingest(f.ctx, []abacus.UsageEvent{spaceEvent(string(newAccountID()), acct, "gpu", 1, f.t0.Add(24*time.Hour))})
		close(busy)
	}()
	<-arrived
	var errA, errB error
	done := make(chan struct{}, 2)
	go func() { a, errA = first(); done <- struct{}{} }()
	waitQueued(t, f.e, 1)
	go func() { b, errB = second(); done <- struct{}{} }()
	waitQueued(t, f.e, 2)
	batches, _, _ := f.e.Stats()
	release()
	<-busy
	<-done
	<-done
	if errA != nil || errB != nil {
		t.Fatalf("%v, %v", errA, errB)
	}
	if after, _, _ := f.e.Stats(); after != batches+2 {
		t.Fatalf("%d batches after the held one, want 2: its own and the one first and second share", after-batches)
	}
	return a, b
}

// TestBatchThatNetsToNothing: a batch whose money nets to nothing (an event
// charged 5 and another voided for 5, on one account) writes no
// transaction, and verify still holds: the events name the batch's
// transaction id, under which nothing moved.
func TestBatchThatNetsToNothing(t *testing.T) {
	st := testdb.SQLite(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := newUsageFixture(t, st, ledger.UsageConfig{}, perMinute("gpu", "1", t0))
	acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
	f.ingest(spaceEvent("old", acct, "gpu", 5, t0.Add(time.Hour)))
	charged, voided := inOneBatch(t, f, acct,
		func() ([]abacus.IngestResult, error) {
			return f.e.Ingest(f.ctx, []abacus.UsageEvent{spaceEvent("new", acct, "gpu", 5, t0.Add(2*time.Hour))})
		},
		func() ([]abacus.IngestResult, error) { return f.e.VoidEvents(f.ctx, []string{"old"}) })
	if charged[0].Charged.String() != "5" || voided[0].Refunded.String() != "5" {
		t.Fatalf("%+v %+v", charged, voided)
	}
	mustVerify(t, st)
}

// TestUsageIsNotReverted: a usage transaction is taken back by voiding its
// events, which record what they were charged and what each bucket paid.
// A revert of it had given the money back outside them, and a void then
// gave it back again.
func TestUsageIsNotReverted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", t0.AddDate(0, -1, 0)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("e", acct, "gpu", 2, t0))
		tx := storedEvent(t, f.st, "e").TxID
		_, err := f.e.Submit(f.ctx, "revert-usage", &abacus.Revert{TxID: tx})
		if abacus.ErrorCodeOf(err) != abacus.CodeConflict || !strings.Contains(err.Error(), "voiding its events") {
			t.Fatalf("a revert of usage transaction %d: %v, want it refused", tx, err)
		}
		if b := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; b.String() != "-2" {
			t.Fatalf("cash %s, want -2 as charged", b)
		}
		mustVerify(t, f.st)
	})
}

// TestNonNFCIDComingInOrStored: an event coming in under an id not in
// Unicode NFC is refused naming uuid, before its account is made; one
// stored under such an id before the rule, sent again, is a duplicate as
// ever (QA: a redelivery of it over NATS would have been dead-lettered).
func TestNonNFCIDComingInOrStored(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		ctx := t.Context()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		minutes := func(id string, acct abacus.AccountID) abacus.UsageEvent {
			return abacus.UsageEvent{ID: id, Account: acct, Value: 5, ValueType: abacus.ValueDuration, Scene: 11, ResourceID: "gpu", Time: t0.Add(time.Hour)}
		}
		newcomer := newAccountID()
		res, err := e.Ingest(ctx, []abacus.UsageEvent{minutes("cafe\u0301-1", newcomer)})
		if err != nil || res[0].Status != abacus.IngestRejected || res[0].Err.Field != "uuid" {
			t.Fatalf("coming in for a new account: %+v %v, want refused naming uuid", res, err)
		}
		if ws, err := st.Wallets(ctx, []abacus.AccountID{newcomer}); err != nil || len(ws) != 0 {
			t.Fatalf("the refused event made its account: %d wallets, %v", len(ws), err)
		}
		acct := newAccountID()
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{minutes("caf\u00e9-1", acct)}); err != nil || res[0].Status != abacus.IngestAccepted {
			t.Fatalf("the composed id: %+v %v", res, err)
		}
		res, err = e.Ingest(ctx, []abacus.UsageEvent{minutes("cafe\u0301-2", acct)})
		if err != nil || res[0].Status != abacus.IngestRejected || res[0].Err.Field != "uuid" {
			t.Fatalf("coming in: %+v %v, want refused naming uuid", res, err)
		}
		storeUnpriced(t, st, minutes("cafe\u0301-3", acct))
		if res, err := e.Ingest(ctx, []abacus.UsageEvent{minutes("cafe\u0301-3", acct)}); err != nil || res[0].Status != abacus.IngestDuplicate {
			t.Fatalf("sent again once stored before the rule: %+v %v, want duplicate", res, err)
		}
	})
}

// TestControlCharactersComingInOrStored: an event whose key holds a control
// character is refused naming the field, and the rest of its batch is
// charged; one stored with such a key before the rule, sent again, is a
// duplicate as ever.
func TestControlCharactersComingInOrStored(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		stray := spaceEvent("stray-cr", acct, "gpu\r", 5, f.t0)
		res := f.ingest(spaceEvent("before", acct, "gpu", 1, f.t0), stray, spaceEvent("after", acct, "gpu", 2, f.t0))
		if res[0].Status != abacus.IngestAccepted || res[2].Status != abacus.IngestAccepted || res[1].Status != abacus.IngestRejected ||
			res[1].Err.Field != "resource_id" || !strings.Contains(res[1].Err.Message, "U+000D") {
			t.Fatalf("%+v, want the event with a CR after its resource refused naming resource_id, the others charged", res)
		}
		storeUnpriced(t, f.st, spaceEvent("stored-earlier", acct, "gpu\r", 5, f.t0))
		if res := f.ingest(spaceEvent("stored-earlier", acct, "gpu\r", 5, f.t0)); res[0].Status != abacus.IngestDuplicate {
			t.Fatalf("sent again once stored before the rule: %+v, want duplicate", res[0])
		}
		if cash := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; cash.String() != "-3" {
			t.Fatalf("cash %s, want -3", cash)
		}
		// Corrected in the same call, for an account not made yet: the
		// refused copy was never stored, so the good one is no conflict
		// with it (QA: it was, for a new account only).
		for i, who := range [][2]abacus.AccountID{{acct, acct}, {newAccountID(), ""}, {acct, newAccountID()}} {
			id := fmt.Sprintf("fixed-%d", i)
			if who[1] == "" {
				who[1] = who[0]
			}
			// The refused copy's account, then the corrected one's: the
			// same, a new one twice, or an existing one and then a new one
			// (QA: the last was refused as a conflict too).
			res := f.ingest(spaceEvent(id, who[0], "gpu\r", 4, f.t0), spaceEvent(id, who[1], "gpu", 4, f.t0))
			if res[0].Status != abacus.IngestRejected || res[0].Err.Field != "resource_id" || res[1].Status != abacus.IngestAccepted || res[1].Charged.String() != "4" {
				t.Fatalf("a copy corrected in the same call, accounts %v: %+v", who, res)
			}
		}
		mustVerify(t, f.st)
	})
}

// storeUnpriced stores ev unpriced, with its rollup, as an earlier
// release did, past the rules events coming in are held to now.
func storeUnpriced(t *testing.T, st abacus.Store, ev abacus.UsageEvent) {
	t.Helper()
	stored := abacus.StoredEvent{UsageEvent: ev, Status: abacus.EventUnpriced, ReceivedAt: ev.Time, Currency: "USD", Cost: decimal.NullDecimal{Valid: true}}
	rollup := abacus.Rollup{Account: ev.Account, Bucket: ev.Time.UTC().Truncate(15 * time.Minute), Scene: ev.Scene, ResourceID: ev.ResourceID,
		CustomerID: ev.CustomerID, Currency: "USD", Quantity: ev.Value, Events: 1, UnpricedQuantity: ev.Value, UnpricedEvents: 1}
	if err := st.Write(t.Context(), func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Events: []abacus.StoredEvent{stored}, Rollups: []abacus.Rollup{rollup}})
	}); err != nil {
		t.Fatal(err)
	}
}

// TestVoidAtTheTopOfTheCounter: an event whose month's counter stands near
// the top of int64 can still be repriced and voided. Working out which counters it
// counts had rated it once more on top of the counter, which overflowed
// (QA: such events could never be voided).
func TestVoidAtTheTopOfTheCounter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelGraduated, t0.AddDate(0, -1, 0), tier{0, "0"}))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		res := f.ingest(spaceEvent("a", acct, "gpu", math.MaxInt64-10, t0), spaceEvent("b", acct, "gpu", 10, t0.Add(time.Hour)),
			spaceEvent("c", acct, "gpu", 1<<62, t0.AddDate(0, 1, 0)))
		for _, r := range res {
			if r.Status != abacus.IngestAccepted {
				t.Fatalf("ingest: %+v", res)
			}
		}
		// A correction reprices the month: each event comes out of its
		// counter and is counted again.
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{tieredPrice("gpu", abacus.ModelGraduated, t0, tier{0, "0"})}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"a", "b", "c"}); err != nil || !res[0].Repriced || !res[1].Repriced || !res[2].Repriced {
			t.Fatalf("reprice: %+v %v", res, err)
		}
		for _, id := range []string{"b", "a", "c"} {
			if v := f.void(id); v.Status != abacus.IngestAccepted || v.Err != nil {
				t.Fatalf("void %s: %+v", id, v)
			}
		}
		// The month's counter is back at 0: its usage starts over.
		if res := f.ingest(spaceEvent("d", acct, "gpu", math.MaxInt64, t0.Add(2*time.Hour))); res[0].Status != abacus.IngestAccepted {
			t.Fatalf("after the voids: %+v", res[0])
		}
		mustVerify(t, f.st)
	})
}
