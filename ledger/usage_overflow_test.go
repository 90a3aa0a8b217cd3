package ledger_test

import (
	"cmp"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

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
			rs := testdb.Rollups(t, st, abacus.RollupQuery{Account: acct, From: t0, To: t0.Add(15 * time.Minute)})
			if len(rs) != 1 || rs[0].Quantity != want[0] || rs[0].Events != want[1] {
				t.Fatalf("%s's first quarter hour: %+v, want %d minutes in %d event", acct, rs, want[0], want[1])
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

// TestUsageTokenOverflowNamesTheCount: a token event whose cost is too
// large for an amount, or for the balance it is drawn from, is rejected
// as an overflow naming the token count in extra that the cost grows with,
// not value, which a split leaves unpriced; the event beside it is charged
// and the refused ones change nothing.
func TestUsageTokenOverflowNamesTheCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1}})
		defer e.Close()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, tokenPrices(t0), nil); err != nil {
			t.Fatal(err)
		}
		acct := createAccount(t, st, abacus.Overdraft{Unlimited: true})
		tokens := func(id string, value int64, extra string) abacus.UsageEvent {
			return abacus.UsageEvent{ID: id, Account: acct, Value: value, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "llm",
				Time: t0.Add(10 * time.Hour), Extra: extra}
		}
		res, err := e.Ingest(ctx, []abacus.UsageEvent{
			tokens("b-maxp", math.MaxInt64, `{"prompt_token_num":9223372036854775807}`),
			tokens("b-maxc", math.MaxInt64, `{"prompt_token_num":0,"completion_token_num":9223372036854775807}`),
			tokens("b-ok", 2_000_000, `{"prompt_token_num":1000000,"completion_token_num":1000000}`),
		})
		if err != nil || len(res) != 3 {
			t.Fatalf("%+v %v", res, err)
		}
		wantOverflowOf(t, res[0], "extra.prompt_token_num")
		wantOverflowOf(t, res[1], "extra.completion_token_num")
		if res[2].Status != abacus.IngestAccepted || res[2].Charged.String() != "4" {
			t.Fatalf("the event beside them: %+v, want charged 4", res[2])
		}
		// A cost an amount holds (9223372036854.775806), but the balance,
		// already at -4, cannot take.
		res, err = e.Ingest(ctx, []abacus.UsageEvent{tokens("b-floor", 4611686018427387903, `{"prompt_token_num":4611686018427387903,"completion_token_num":0}`)})
		if err != nil || len(res) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		wantOverflowOf(t, res[0], "extra.prompt_token_num")
		ws, err := st.Wallets(ctx, []abacus.AccountID{acct})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if want := map[abacus.Bucket]string{abacus.BucketCash: "-4"}[w.Bucket]; w.Balance.String() != cmp.Or(want, "0") {
				t.Fatalf("%s balance %s, want only the event beside charged", w.Bucket, w.Balance)
			}
		}
		evs, err := st.Events(ctx, abacus.EventQuery{IDs: []string{"b-maxp", "b-maxc", "b-floor"}, Limit: 3})
		if err != nil || len(evs) != 0 {
			t.Fatalf("refused events were stored: %+v %v", evs, err)
		}
		mustVerify(t, st)
	})
}

// tokenPrices prices an LLM's prompt (sku_kind 4) and completion (5)
// tokens at 2 a million each, from t0.
func tokenPrices(t0 time.Time) []abacus.Price {
	var prices []abacus.Price
	for _, kind := range []int{4, 5} {
		prices = append(prices, abacus.Price{SKUType: 1, SKUKind: kind, ResourceID: "llm", UnitType: "token", Currency: "USD", Unit: 1_000_000,
			Model: abacus.ModelPerUnit, UnitPrice: decimal.RequireFromString("2"), ValidFrom: t0, CreatedAt: t0})
	}
	return prices
}

func wantOverflowOf(t *testing.T, r abacus.IngestResult, field string) {
	t.Helper()
	if r.Status != abacus.IngestRejected || abacus.ErrorCodeOf(r.Err) != abacus.CodeOverflow || r.Err.Field != field {
		t.Fatalf("%s: %+v (%v), want rejected as an overflow naming %s", r.ID, r, r.Err, field)
	}
}

// TestUsageTokenFloorNamesTheCount: a token split that the account's
// floor refuses names the count that costs the most, not value, and
// changes nothing.
func TestUsageTokenFloorNamesTheCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1}})
		defer e.Close()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, tokenPrices(t0), nil); err != nil {
			t.Fatal(err)
		}
		acct := createAccount(t, st, abacus.Overdraft{}) // no credit: refused at zero
		res, err := e.Ingest(ctx, []abacus.UsageEvent{{ID: "t-floor", Account: acct, Value: 2_001_000, ValueType: abacus.ValueTokens, Scene: 15,
			ResourceID: "llm", Time: t0.Add(time.Hour), Extra: `{"prompt_token_num":1000,"completion_token_num":2000000}`}})
		if err != nil || len(res) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		if r := res[0]; r.Status != abacus.IngestRejected || abacus.ErrorCodeOf(r.Err) != abacus.CodeInsufficientFunds || r.Err.Field != "extra.completion_token_num" {
			t.Fatalf("%+v (%v), want rejected for insufficient funds naming extra.completion_token_num", r, r.Err)
		}
		evs, err := st.Events(ctx, abacus.EventQuery{IDs: []string{"t-floor"}, Limit: 1})
		if err != nil || len(evs) != 0 {
			t.Fatalf("the refused event was stored: %+v %v", evs, err)
		}
		mustVerify(t, st)
	})
}

// TestRevenueFullIsNamed: a charge that would take the revenue account's
// balance past the largest amount is refused saying so, not as if the
// event's own value were too large (QA: after one account's huge event,
// every other account's were rejected as "value: does not fit"). Nothing
// moves, and the ledger API's charges say the same.
func TestRevenueFullIsNamed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		ctx := context.Background()
		e := ledger.New(st, ledger.Config{Workers: 1})
		defer e.Close()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(ctx, []abacus.Price{perMinute("gpu", "1", t0)}, nil); err != nil {
			t.Fatal(err)
		}
		big, small := createAccount(t, st, abacus.Overdraft{Unlimited: true}), createAccount(t, st, abacus.Overdraft{Unlimited: true})
		// 9,223,372,036,854,775,807 µ: the revenue wallet is full.
		res, err := e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("huge", big, "gpu", 9_223_372_036_854, t0), spaceEvent("rest", big, "gpu", 1, t0.Add(time.Minute))})
		if err != nil || res[0].Status != abacus.IngestAccepted {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := e.Submit(ctx, "top-up-small", &abacus.Move{Type: abacus.TxTopup, Account: small, Currency: "USD", Amount: units(t, 5), Bucket: abacus.BucketCash}); err != nil {
			t.Fatal(err)
		}
		res, err = e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("other", small, "gpu", 1, t0)})
		if err != nil {
			t.Fatal(err)
		}
		if r := res[0]; r.Status != abacus.IngestRejected || abacus.ErrorCodeOf(r.Err) != abacus.CodeOverflow || !strings.Contains(r.Err.Error(), "revenue") {
			t.Fatalf("a charge revenue cannot take: %+v", r)
		}
		_, err = e.Submit(ctx, "charge-small", &abacus.Move{Type: abacus.TxCharge, Account: small, Currency: "USD", Amount: units(t, 1)})
		if abacus.ErrorCodeOf(err) != abacus.CodeOverflow || !strings.Contains(err.Error(), "revenue") {
			t.Fatalf("a ledger charge revenue cannot take: %v", err)
		}
		if b := wallet(t, st, small, abacus.BucketCash, "USD").Balance; b.String() != "5" {
			t.Fatalf("the refused charges moved money: cash %s", b)
		}
		// What a customer's wallet holds, and has available, are named too
		// (QA: a second huge hold, or a charge beside one, said "amount:
		// the result does not fit").
		other := createAccount(t, st, abacus.Overdraft{Unlimited: true})
		huge := units(t, 9_000_000_000_000)
		if _, err := e.Submit(ctx, "hold-1", &abacus.HoldCreate{Account: other, Currency: "USD", Amount: huge}); err != nil {
			t.Fatal(err)
		}
		_, err = e.Submit(ctx, "hold-2", &abacus.HoldCreate{Account: other, Currency: "USD", Amount: huge})
		if abacus.ErrorCodeOf(err) != abacus.CodeOverflow || !strings.Contains(err.Error(), "the held amount of account "+string(other)+"'s cash wallet in USD") {
			t.Fatalf("a second huge hold: %v", err)
		}
		res, err = e.Ingest(ctx, []abacus.UsageEvent{spaceEvent("beside-the-hold", other, "gpu", 300_000_000_000, t0)})
		if err != nil || res[0].Status != abacus.IngestRejected || !strings.Contains(res[0].Err.Error(), "the available amount (balance less held) of account "+string(other)) {
			t.Fatalf("usage beside a huge hold: %+v %v", res, err)
		}
	})
}
