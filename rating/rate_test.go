package rating_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
)

func TestPriceChangeMidPeriodPerUnit(t *testing.T) {
	v1 := perUnit("r", "0.05", 1)
	v2 := perUnit("r", "0.04", 1)
	v2.ValidFrom = mar1
	b := mustBook(t, []abacus.Price{v2, v1}, nil, nil) // any order
	en := newEngine(b, "USD")
	for _, tc := range []struct {
		at     time.Time
		cost   string
		priced bool
	}{
		{jan1.Add(-time.Microsecond), "0", false}, // before the first version
		{jan1, "0.5", true},                       // ValidFrom itself is in force
		{mar1.Add(-time.Microsecond), "0.5", true},
		{mar1, "0.4", true},
		{mar1.Add(24 * time.Hour), "0.4", true},
	} {
		r := en.rate(t, event("r", 10, tc.at))
		if r.Unpriced == tc.priced {
			t.Errorf("at %s: unpriced %v (%s)", tc.at, r.Unpriced, r.Reason)
		}
		wantCost(t, tc.at.String(), r.Cost, tc.cost)
	}
}

// TestPriceChangeMidPeriodGraduated: a new version in the middle of a month
// prices the events after it, counting the month's usage from its start.
func TestPriceChangeMidPeriodGraduated(t *testing.T) {
	v1 := graduated("r", tiers("100:1", ":0.5")...)
	v1.ID = 1
	v2 := graduated("r", tiers("150:2", ":1")...)
	v2.ID = 2
	v2.ValidFrom = jan1.Add(14 * 24 * time.Hour)
	b := mustBook(t, []abacus.Price{v1, v2}, nil, nil)
	en := newEngine(b, "USD")
	r := en.rate(t, event("r", 80, jan10)) // v1: 80 × 1
	wantCost(t, "before the change", r.Cost, "80")
	if r.Lines[0].PriceID != 1 {
		t.Errorf("price %d, want 1", r.Lines[0].PriceID)
	}
	// Out of order: an event from before the change that arrives late still
	// uses v1 and continues the same counter (80 → 120).
	late := en.rate(t, event("r", 40, jan10.Add(time.Hour)))
	wantCost(t, "late event before the change", late.Cost, "30") // 20 × 1 + 20 × 0.5
	r = en.rate(t, event("r", 50, v2.ValidFrom.Add(time.Hour)))  // v2 from 120: 30 × 2 + 20 × 1
	wantCost(t, "after the change", r.Cost, "80")
	if r.Lines[0].PriceID != 2 {
		t.Errorf("price %d, want 2", r.Lines[0].PriceID)
	}
	if got := en.counters[*r.Lines[0].Counter]; got != 170 {
		t.Errorf("counter %d, want 170", got)
	}
}

func TestBookPriceLookup(t *testing.T) {
	usd := perUnit("r", "1", 1)
	eur := perUnit("r", "2", 1)
	eur.Currency = "EUR"
	other := perUnit("s", "3", 1)
	b := mustBook(t, []abacus.Price{usd, eur, other}, nil, nil)
	if p, ok := b.Price(key("r"), "EUR", jan10); !ok || !p.UnitPrice.Equal(d("2")) {
		t.Errorf("EUR price: %v %v", p, ok)
	}
	if _, ok := b.Price(key("r"), "GBP", jan10); ok {
		t.Error("a GBP price was found")
	}
	k := key("r")
	k.SKUKind = 4
	if _, ok := b.Price(k, "USD", jan10); ok {
		t.Error("a price of another kind was found")
	}
	k = key("r")
	k.UnitType = "second"
	if _, ok := b.Price(k, "USD", jan10); ok {
		t.Error("a price of another unit type was found")
	}
	if got := b.Versions(key("r"), "USD"); len(got) != 1 {
		t.Errorf("versions: %d", len(got))
	}
	// An account in a currency without prices gets unpriced events.
	r, err := b.Rate(event("r", 1, jan10), "GBP", nil)
	if err != nil || !r.Unpriced || !strings.Contains(r.Reason, "GBP") {
		t.Errorf("GBP rating: %+v, %v", r, err)
	}
}

func TestBurstLevelHistory(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 10, h, m, 0, 0, time.UTC) }
	levels := []abacus.BurstLevel{
		{Resource: "cpu", Level: 4, EffectiveFrom: at(10, 5)},
		{Resource: "cpu", Level: 3, EffectiveFrom: at(10, 0)},
		{Resource: "cpu", Level: 3, EffectiveFrom: at(10, 0)}, // a repeated record is harmless
		{Resource: "mem", Level: 2, EffectiveFrom: at(9, 0)},
		{Resource: "cpu", Level: 9, EffectiveFrom: at(11, 0)},
	}
	// CloudSigma's cpu: per GHz-hour, amounts in MHz × seconds.
	p := burst("cpu", 3_600_000, map[int]string{0: "0.01", 1: "0.014", 3: "0.0199", 4: "0.021"})
	p.ID = 40
	b := mustBook(t, []abacus.Price{p}, levels, nil)
	for _, tc := range []struct {
		at    time.Time
		level int
		cost  string // 4000 MHz for 300 s
	}{
		{at(9, 59), 1, "0.00466666666666666667"}, // no level known yet: level 1 (0.014 × 1 200 000 / 3 600 000)
		{at(10, 0), 3, "0.00663333333333333333"}, // CloudSigma's ledger example, to the 20th place
		{at(10, 4), 3, "0.00663333333333333333"},
		{at(10, 5), 4, "0.007"},
	} {
		if got := b.Level("cpu", tc.at); got != tc.level {
			t.Errorf("Level at %s: %d, want %d", tc.at, got, tc.level)
		}
		en := newEngine(b, "USD")
		r := en.rate(t, event("cpu", 4000*300, tc.at))
		if r.Unpriced {
			t.Fatalf("at %s: unpriced: %s", tc.at, r.Reason)
		}
		l := r.Lines[0]
		if l.Level != tc.level || l.Counter != nil || l.PriceID != 40 {
			t.Errorf("at %s: line %+v", tc.at, l)
		}
		wantCost(t, tc.at.String(), r.Cost, tc.cost)
	}
	if got := b.Level("mem", at(8, 0)); got != 1 {
		t.Errorf("mem before its first record: level %d", got)
	}
	if got := b.Level("disk", at(8, 0)); got != 1 {
		t.Errorf("unknown resource: level %d", got)
	}
	// Level 9 has no price: unpriced, never priced at another level.
	r, err := b.Rate(event("cpu", 1, at(11, 0)), "USD", nil)
	if err != nil || !r.Unpriced || len(r.Lines) != 0 || !strings.Contains(r.Reason, "level 9") {
		t.Errorf("missing level: %+v, %v", r, err)
	}
}

// TestCloudSigmaStorageExample reproduces the dssd row of CloudSigma's
// ledger: 0.21 per GB-month × 300 s × 10 GiB / the multiplier.
func TestCloudSigmaStorageExample(t *testing.T) {
	p := burst("dssd", 2_783_138_807_808_000, map[int]string{1: "0.21000000000000000000"})
	b := mustBook(t, []abacus.Price{p}, nil, nil)
	r := newEngine(b, "USD").rate(t, event("dssd", 300*10737418240, jan10))
	wantCost(t, "dssd", r.Cost, "0.00024305555555555556")
}

func TestCommitmentDiscounts(t *testing.T) {
	p := perUnit("r", "1", 1)
	p.Discounts = []abacus.CommitmentDiscount{{Months: 12, Fraction: d("0.2")}, {Months: 3, Fraction: d("0.05")}, {Months: 24, Fraction: d("0.35")}}
	q := perUnit("s", "1", 1) // no discounts
	p.ValidFrom = jan1.AddDate(-1, 0, 0)
	commitments := []abacus.Commitment{
		{Account: alice, Months: 12, From: jan1, Until: mar1},
		{Account: alice, Months: 6, From: jan1, Until: mar1},                                  // overlapping: the longer one counts
		{Account: "0D9C8B7A-6F5E-4D3C-2B1A-098765432100", Months: 3, From: feb1, Until: mar1}, // any case
	}
	b := mustBook(t, []abacus.Price{p, q}, nil, commitments)
	for _, tc := range []struct {
		who      abacus.AccountID
		res      string
		at       time.Time
		cost     string
		discount string
	}{
		{alice, "r", jan1, "80", "0.2"},                        // From is inclusive
		{alice, "r", mar1.Add(-time.Microsecond), "80", "0.2"}, //
		{alice, "r", mar1, "100", "0"},                         // Until is exclusive
		{alice, "r", jan1.Add(-time.Microsecond), "100", "0"},  //
		{bob, "r", jan10, "100", "0"},                          // not committed yet
		{bob, "r", feb1, "95", "0.05"},                         // 3 months: 5 %
		{alice, "s", jan10, "100", "0"},                        // the price has no discounts
	} {
		e := event(tc.res, 100, tc.at)
		e.Account = tc.who
		r := newEngine(b, "USD").rate(t, e)
		l := r.Lines[0]
		wantCost(t, string(tc.who)+" "+tc.at.String(), r.Cost, tc.cost)
		if !l.Discount.Equal(d(tc.discount)) || !l.RegularCost.Equal(d("100")) {
			t.Errorf("%s at %s: discount %s, regular %s", tc.who, tc.at, l.Discount, l.RegularCost)
		}
	}
	c, ok := b.Commitment(alice, jan10)
	if !ok || c.Months != 12 {
		t.Errorf("Commitment: %+v %v", c, ok)
	}
	if got := rating.DiscountFor(&p, 11); !got.Equal(d("0.05")) {
		t.Errorf("DiscountFor 11 months: %s", got)
	}
	if got := rating.DiscountFor(&p, 36); !got.Equal(d("0.35")) {
		t.Errorf("DiscountFor 36 months: %s", got)
	}
}

// TestDiscountIsExact: a discount is applied without rounding, including
// on a volume credit.
func TestDiscountIsExact(t *testing.T) {
	p := volume("r", tiers("1000:0.01", ":0.005")...)
	p.Discounts = []abacus.CommitmentDiscount{{Months: 1, Fraction: d("0.123")}}
	b := mustBook(t, []abacus.Price{p}, nil, []abacus.Commitment{{Account: alice, Months: 1, From: jan1, Until: feb1}})
	en := newEngine(b, "USD")
	wantCost(t, "first", en.rate(t, event("r", 1000, jan10)).Cost, "8.77")
	wantCost(t, "credit", en.rate(t, event("r", 1, jan10)).Cost, "-4.380615") // −4.995 × 0.877
	q := perUnit("s", "1", 3)
	q.Discounts = p.Discounts
	b = mustBook(t, []abacus.Price{q}, nil, []abacus.Commitment{{Account: alice, Months: 1, From: jan1, Until: feb1}})
	wantCost(t, "third", newEngine(b, "USD").rate(t, event("s", 1, jan10)).Cost, "0.29233333333333333333041") // 0.33333333333333333333 × 0.877
}

func licensed(r, typ, metric string, burstable bool) abacus.Price {
	p := perUnit(r, "0.5", 1)
	p.License = &abacus.License{Name: r, Type: typ, UserMetric: metric, Burstable: burstable}
	return p
}

func TestLicences(t *testing.T) {
	b := mustBook(t, []abacus.Price{
		licensed("inst", rating.LicenseInstall, "", true),
		licensed("run", rating.LicenseInstance, "smp", true),
		licensed("stub", rating.LicenseStub, "users", true),
		licensed("strict", rating.LicenseInstance, "", false),
		func() abacus.Price {
			p := licensed("gstub", rating.LicenseStub, "users", true)
			p.Model = abacus.ModelGraduated
			p.UnitPrice = decimal.Zero
			p.Tiers = tiers("100:1", ":0")
			return p
		}(),
	}, nil, []abacus.Commitment{{Account: bob, Months: 1, From: jan1, Until: mar1}})
	for _, tc := range []struct {
		name        string
		res         string
		extra       map[string]any
		who         abacus.AccountID
		qty         int64
		cost        string
		uncommitted bool
		message     string // of the error, where it matters
		err         string // the field of the expected error
	}{
		{name: "install, running", res: "inst", qty: 10, cost: "5"},
		{name: "install, stopped", res: "inst", extra: map[string]any{"running": false}, qty: 10, cost: "5"},
		{name: "instance, no flag", res: "run", qty: 10, cost: "5"},
		{name: "instance, running", res: "run", extra: map[string]any{"running": true}, qty: 10, cost: "5"},
		{name: "instance, running string", res: "run", extra: map[string]any{"running": "true"}, qty: 10, cost: "5"},
		{name: "instance, stopped", res: "run", extra: map[string]any{"running": false}, qty: 0, cost: "0"},
		{name: "instance, stopped string", res: "run", extra: map[string]any{"running": "false"}, qty: 0, cost: "0"},
		{name: "instance, running null", res: "run", extra: map[string]any{"running": nil}, qty: 10, cost: "5"},
		{name: "instance, bad running", res: "run", extra: map[string]any{"running": "maybe"}, err: "extra.running", message: `"maybe" is not true or false`},
		{name: "instance, numeric running", res: "run", extra: map[string]any{"running": 0}, err: "extra.running"},
		{name: "stub, number", res: "stub", extra: map[string]any{"users": 25}, qty: 250, cost: "125"},
		{name: "stub, string", res: "stub", extra: map[string]any{"users": "25"}, qty: 250, cost: "125"},
		{name: "stub, zero users", res: "stub", extra: map[string]any{"users": 0}, qty: 0, cost: "0"},
		{name: "stub, missing", res: "stub", err: "extra.users"},
		{name: "stub, negative", res: "stub", extra: map[string]any{"users": -1}, err: "extra.users"},
		{name: "stub, fraction", res: "stub", extra: map[string]any{"users": json.Number("2.5")}, err: "extra.users"},
		{name: "stub, overflow", res: "stub", extra: map[string]any{"users": "9223372036854775807"}, err: "value"},
		{name: "stub, counted", res: "gstub", extra: map[string]any{"users": 20}, qty: 200, cost: "100"},
		{name: "stub, count in capitals", res: "stub", extra: map[string]any{"USERS": 25}, err: "extra.USERS"},
		{name: "stub, count twice in two cases", res: "stub", extra: map[string]any{"users": 1, "Users": 25}, err: "extra.Users"},
		{name: "instance, running in capitals", res: "run", extra: map[string]any{"Running": false}, err: "extra.Running"},
		{name: "install, another key in capitals", res: "inst", extra: map[string]any{"OWNER": "x"}, qty: 10, cost: "5"},
		{name: "not burstable, no commitment", res: "strict", qty: 10, cost: "5", uncommitted: true},
		{name: "not burstable, stopped: nothing of it used", res: "strict", extra: map[string]any{"running": false}, qty: 0, cost: "0"},
		{name: "not burstable, committed", res: "strict", who: bob, qty: 10, cost: "5"},
	} {
		e := event(tc.res, 10, jan10)
		if tc.extra != nil {
			withExtra(e, tc.extra)
		}
		if tc.who != "" {
			e.Account = tc.who
		}
		r, err := b.RateIncoming(e, "USD", func(rating.Counter) int64 { return 0 })
		if tc.err != "" {
			var ae *abacus.Error
			if !errors.As(err, &ae) || ae.Field != tc.err || (tc.message != "" && ae.Message != tc.message) {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || r.Unpriced {
			t.Errorf("%s: %+v, %v", tc.name, r, err)
			continue
		}
		l := r.Lines[0]
		wantCost(t, tc.name, r.Cost, tc.cost)
		if l.Quantity != tc.qty || l.Uncommitted != tc.uncommitted || r.Uncommitted != tc.uncommitted {
			t.Errorf("%s: quantity %d uncommitted %v/%v, want %d %v", tc.name, l.Quantity, l.Uncommitted, r.Uncommitted, tc.qty, tc.uncommitted)
		}
	}
	// A stored event, rated again (rerate, a void) as it was stored, with
	// its count only in another case: refused as at ingestion, saying so
	// (QA: rerate said "is required" of a count sent as SEATS).
	e := withExtra(event("stub", 10, jan10), map[string]any{"USERS": 25})
	_, err := b.Rate(e, "USD", func(rating.Counter) int64 { return 0 })
	if ae, ok := errors.AsType[*abacus.Error](err); !ok || ae.Field != "extra.USERS" || !strings.Contains(ae.Message, "is users spelled in another case") {
		t.Errorf("a stored event's count in capitals: %v", err)
	}
}

func TestUnpricedCountsNothing(t *testing.T) {
	// The prompt price exists, the completion price does not.
	prompt := abacus.Price{SKUType: 1, SKUKind: rating.KindPrompt, ResourceID: "m", UnitType: "token", Currency: "USD",
		Unit: 1000, Model: abacus.ModelGraduated, Tiers: tiers("1000:1", ":0.5"), ValidFrom: jan1}
	b := mustBook(t, []abacus.Price{prompt}, nil, nil)
	e := &abacus.UsageEvent{ID: "t", Account: alice, Value: 300, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10,
		Extra: `{"prompt_token_num":"200","completion_token_num":"100"}`}
	en := newEngine(b, "USD")
	r := en.rate(t, e)
	if !r.Unpriced || len(r.Lines) != 0 || !r.Cost.IsZero() || !strings.Contains(r.Reason, "sku_kind 5") {
		t.Fatalf("rating %+v", r)
	}
	if len(en.counters) != 0 {
		t.Errorf("counted %v", en.counters)
	}
	// Prompt tokens alone are priced.
	e.Extra = `{"prompt_token_num":2000}`
	r = en.rate(t, e)
	wantCost(t, "prompt only", r.Cost, "1.5")
}

func TestTokenEventTwoLines(t *testing.T) {
	mk := func(kind int, price string) abacus.Price {
		return abacus.Price{SKUType: 1, SKUKind: kind, ResourceID: "m", UnitType: "token", Currency: "USD",
			Unit: 1_000_000, Model: abacus.ModelPerUnit, UnitPrice: d(price), ValidFrom: jan1}
	}
	b := mustBook(t, []abacus.Price{mk(4, "0.5"), mk(5, "1.5")}, nil, nil)
	e := &abacus.UsageEvent{ID: "t", Account: alice, Value: 1, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10,
		Extra: `{"prompt_token_num":"1000","completion_token_num":500}`}
	r := newEngine(b, "USD").rate(t, e)
	if len(r.Lines) != 2 || r.Lines[0].Quantity != 1000 || r.Lines[1].Quantity != 500 || r.Lines[1].Key.SKUKind != 5 {
		t.Fatalf("lines %+v", r.Lines)
	}
	wantCost(t, "tokens", r.Cost, "0.00125")
}

// TestExtraKeysInAnotherCase: a key of extra that rating reads, spelled
// in another case, is refused naming it, where it had been ignored: a
// producer decoding extra with encoding/json into a struct reads it as the
// key, and would bill 900 prompt tokens where abacus billed 100 (QA). An
// event stored before the rule is rated again as it was (RateWith, Rate),
// so that it can be voided, repriced and rerated: refused, it would hold
// back every correction of its prices for good (QA).
func TestExtraKeysInAnotherCase(t *testing.T) {
	mk := func(kind int, price string) abacus.Price {
		return abacus.Price{SKUType: 1, SKUKind: kind, ResourceID: "m", UnitType: "token", Currency: "USD",
			Unit: 1000, Model: abacus.ModelPerUnit, UnitPrice: d(price), ValidFrom: jan1}
	}
	b := mustBook(t, []abacus.Price{mk(4, "1"), mk(5, "10")}, nil, nil)
	none := func(rating.Counter) int64 { return 0 }
	for extra, field := range map[string]string{
		`{"PROMPT_TOKEN_NUM":100,"COMPLETION_TOKEN_NUM":900}`:                      "extra.PROMPT_TOKEN_NUM",
		`{"prompt_token_num":100,"Prompt_Token_Num":900,"completion_token_num":0}`: "extra.Prompt_Token_Num",
		`{"prompt_token_num":100,"completion_token_num":900,"SKU_KIND":4}`:         "extra.SKU_KIND",
	} {
		e := &abacus.UsageEvent{ID: "t", Account: alice, Value: 1000, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10, Extra: extra}
		_, err := b.RateIncoming(e, "USD", none)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != field || ae.Code != abacus.CodeInvalid {
			t.Errorf("%s: %v, want refused naming %s", extra, err, field)
		}
		if _, err := b.RateWith(e, "USD", none, []int64{1, 2}); err != nil {
			t.Errorf("%s, as stored: %v", extra, err)
		}
		if _, err := b.Rate(e, "USD", none); err != nil {
			t.Errorf("%s, stored and rated again: %v", extra, err)
		}
	}
	e := &abacus.UsageEvent{ID: "t", Account: alice, Value: 1000, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10,
		Extra: `{"prompt_token_num":100,"completion_token_num":900,"Owner_Type":"3"}`}
	if r, err := b.RateIncoming(e, "USD", none); err != nil || r.Cost.String() != "9.1" {
		t.Fatalf("with a key rating does not read: %+v %v, want 9.1", r, err)
	}
}

// TestTokenSplitMustAddUpToValue: an incoming token event whose prompt and
// completion tokens in extra do not add up to its value is refused naming
// value (QA: value 0 with 100 tokens was charged for 100 and counted as
// 0 in its rollups; value 100 with only 40 completion tokens was charged
// for 40). An event stored before the rule is rated again as it was.
func TestTokenSplitMustAddUpToValue(t *testing.T) {
	mk := func(kind int, price string) abacus.Price {
		return abacus.Price{SKUType: 1, SKUKind: kind, ResourceID: "m", UnitType: "token", Currency: "USD",
			Unit: 1000, Model: abacus.ModelPerUnit, UnitPrice: d(price), ValidFrom: jan1}
	}
	b := mustBook(t, []abacus.Price{mk(4, "1"), mk(5, "10")}, nil, nil)
	none := func(rating.Counter) int64 { return 0 }
	for _, c := range []struct {
		value int64
		extra string
	}{
		{0, `{"prompt_token_num":60,"completion_token_num":40}`},
		{100, `{"prompt_token_num":60,"completion_token_num":50}`},
		{100, `{"completion_token_num":40}`},
		{100, `{"prompt_token_num":"100","completion_token_num":"9223372036854775807"}`},
		{1, `{"prompt_token_num":0,"completion_token_num":0}`},
	} {
		e := &abacus.UsageEvent{ID: "t", Account: alice, Value: c.value, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10, Extra: c.extra}
		_, err := b.RateIncoming(e, "USD", none)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != "value" || ae.Code != abacus.CodeInvalid || !strings.Contains(ae.Message, "add up to") {
			t.Errorf("value %d, extra %s: %v, want refused naming value", c.value, c.extra, err)
		}
		if _, err := b.Rate(e, "USD", none); err != nil {
			t.Errorf("value %d, extra %s, stored and rated again: %v", c.value, c.extra, err)
		}
	}
	for value, extra := range map[int64]string{
		100: `{"prompt_token_num":60,"completion_token_num":40,"prompt_token_cache_num":20}`,
		40:  `{"completion_token_num":"40"}`,
		0:   `{"prompt_token_num":0,"completion_token_num":0}`,
		7:   `{"sku_kind":4,"prompt_token_num":60}`, // an explicit kind prices the value: no split
		5:   `{}`,
	} {
		e := &abacus.UsageEvent{ID: "t", Account: alice, Value: value, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10, Extra: extra}
		if _, err := b.RateIncoming(e, "USD", none); err != nil {
			t.Errorf("value %d, extra %s: %v", value, extra, err)
		}
	}
}

// TestLinesShareACounter: two components under one key (an override can
// make that happen) see each other's quantity.
func TestLinesShareACounter(t *testing.T) {
	p := abacus.Price{SKUType: 1, SKUKind: 9, ResourceID: "m", UnitType: "token", Currency: "USD",
		Unit: 1, Model: abacus.ModelPackage, UnitPrice: d("1"), Package: 10, ValidFrom: jan1}
	b := mustBook(t, []abacus.Price{p}, nil, nil)
	en := newEngine(b, "USD")
	e := &abacus.UsageEvent{ID: "t", Account: alice, Value: 6, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10,
		Extra: `{"sku_kind":9}`}
	wantCost(t, "first", en.rate(t, e).Cost, "1")
	wantCost(t, "second", en.rate(t, e).Cost, "1") // 6 → 12 opens a second package
	wantCost(t, "third", en.rate(t, e).Cost, "0")  // 12 → 18
}

func TestRateErrors(t *testing.T) {
	b := mustBook(t, []abacus.Price{graduated("r", tiers("10:1", ":1")...)}, nil, nil)
	for _, tc := range []struct {
		name  string
		e     *abacus.UsageEvent
		used  int64
		field string
		code  abacus.ErrorCode
	}{
		{"bad extra", &abacus.UsageEvent{Account: alice, Value: 1, Scene: 11, ResourceID: "r", Time: jan10, Extra: "{"}, 0, "extra", abacus.CodeInvalid},
		{"negative value", &abacus.UsageEvent{Account: alice, Value: -1, Scene: 11, ResourceID: "r", Time: jan10}, 0, "value", abacus.CodeInvalid},
		{"bad value type", &abacus.UsageEvent{Account: alice, Value: 1, ValueType: 7, Scene: 11, ResourceID: "r", Time: jan10}, 0, "value_type", abacus.CodeInvalid},
		{"overflow", event("r", 2, jan10), 1<<63 - 1, "value", abacus.CodeOverflow},
		{"negative counter", event("r", 2, jan10), -1, "counter", abacus.CodeInternal},
		{"no counters", event("r", 2, jan10), -2, "counter", abacus.CodeInternal},
	} {
		used := func(rating.Counter) int64 { return tc.used }
		if tc.used == -2 {
			used = nil
		}
		_, err := b.Rate(tc.e, "USD", used)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != tc.field || ae.Code != tc.code {
			t.Errorf("%s: %v, want %s on %s", tc.name, err, tc.code, tc.field)
		}
	}
}

// TestRateConcurrently: a Book is shared by many goroutines (run with -race).
func TestRateConcurrently(t *testing.T) {
	b := mustBook(t, []abacus.Price{graduated("r", tiers("10:1", ":0.5")...), burst("cpu", 1, map[int]string{1: "1"})}, nil, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, err := b.Rate(event("r", 3, jan10), "USD", func(rating.Counter) int64 { return int64(j) }); err != nil {
					t.Error(err)
					return
				}
				if _, err := b.Rate(event("cpu", 3, jan10), "USD", nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestVolumeDiscountIsTheMonths: a volume price, as every price that counts
// usage, takes the discount in force at its month's first instant for the
// whole month. A step into a cheaper
// tier credits the month's earlier usage; had it been at the discount of the
// credit's own time, a commitment ending mid-month would credit at full
// price what was paid at half, and the month would end below zero.
func TestVolumeDiscountIsTheMonths(t *testing.T) {
	p := volume("v", abacus.PriceTier{UpTo: 100, UnitPrice: d("1")}, abacus.PriceTier{UnitPrice: d("0.1")})
	p.Discounts = []abacus.CommitmentDiscount{{Months: 12, Fraction: d("0.5")}}
	per := perUnit("u", "1", 1)
	per.Discounts = p.Discounts
	grad := graduated("g", abacus.PriceTier{UpTo: 100, UnitPrice: d("1")}, abacus.PriceTier{UnitPrice: d("0.1")})
	grad.Discounts = p.Discounts
	nov := func(day int) time.Time { return time.Date(2026, 11, day, 10, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name        string
		from, until time.Time
		ended       time.Time // an early end, or zero
		first, then string    // costs of 90 minutes on the 5th, then 11 on the 20th
		perUnitOn20 string    // a per-unit price keeps the discount of the event's time
		graduated   string    // 11 minutes after 90 under a graduated price: the month's discount too
	}{
		{"a commitment ending mid-month", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), nov(15), time.Time{}, "45", "-39.95", "11", "5.05"},
		{"a commitment starting mid-month", nov(15), time.Date(2027, 11, 15, 0, 0, 0, 0, time.UTC), time.Time{}, "90", "-79.9", "5.5", "10.1"},
		{"a commitment from the month's start", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), nov(15), time.Time{}, "45", "-39.95", "11", "5.05"},
		// Ended early, mid-month, it ends there as one whose term did.
		{"a commitment ended early mid-month", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC), nov(15), "45", "-39.95", "11", "5.05"},
		{"a commitment ended early before the month", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC), "90", "-79.9", "11", "10.1"},
	} {
		b := mustBook(t, []abacus.Price{p, per, grad}, nil, []abacus.Commitment{{Account: alice, Months: 12, From: tc.from, Until: tc.until, Ended: tc.ended}})
		en := newEngine(b, "USD")
		first, then := en.rate(t, event("v", 90, nov(5))), en.rate(t, event("v", 11, nov(20)))
		wantCost(t, tc.name+": the first 90 minutes", first.Cost, tc.first)
		wantCost(t, tc.name+": 11 more", then.Cost, tc.then)
		// The month is (1 − f) × C(101), f its first instant's discount.
		if total := first.Cost.Add(then.Cost); total.Sign() < 0 || !total.Equal(d("10.1").Mul(d("1").Sub(first.Lines[0].Discount))) {
			t.Errorf("%s: the month came to %s", tc.name, total)
		}
		wantCost(t, tc.name+": per unit", en.rate(t, event("u", 11, nov(20))).Cost, tc.perUnitOn20)
		en.rate(t, event("g", 90, nov(5)))
		wantCost(t, tc.name+": graduated", en.rate(t, event("g", 11, nov(20))).Cost, tc.graduated)
	}
}

// TestCachedPromptTokens: a prompt-token price with a sku_cached_price
// prices the prompt tokens served from the cache at it and the rest at
// sku_price, in one exact sum rounded once; without one, cached tokens
// cost what the others do.
func TestCachedPromptTokens(t *testing.T) {
	prompt := func(r, price string, unit int64, cached string) abacus.Price {
		p := perUnit(r, price, unit)
		p.SKUKind, p.UnitType = rating.KindPrompt, "token"
		if cached != "" {
			p.CachedPrice = decimal.NewNullDecimal(d(cached))
		}
		return p
	}
	seats := prompt("seats", "1", 1, "0.5")
	seats.License = &abacus.License{Name: "seats", Type: rating.LicenseStub, UserMetric: "users", Burstable: true}
	b := mustBook(t, []abacus.Price{prompt("llm", "0.5", 1_000_000, "0.125"), prompt("thirds", "1", 3, "0.25"), prompt("plain", "0.5", 1_000_000, ""), seats}, nil, nil)
	for _, tc := range []struct {
		res, extra, cost string
	}{
		{"llm", `{"prompt_token_num":"1000000","prompt_token_cache_num":"400000"}`, "0.35"},
		{"llm", `{"prompt_token_num":"1000000","prompt_token_cache_num":"0"}`, "0.5"},
		{"llm", `{"prompt_token_num":"1000000","prompt_token_cache_num":"1000000"}`, "0.125"},
		// 1/3 + 0.25/3, rounded once: rounding each term would give …666.
		{"thirds", `{"prompt_token_num":"2","prompt_token_cache_num":"1"}`, "0.41666666666666666667"},
		{"plain", `{"prompt_token_num":"1000000","prompt_token_cache_num":"400000"}`, "0.5"},
		// Without the split the cached tokens are of the value (1 here).
		{"llm", `{"prompt_token_cache_num":"1"}`, "0.000000125"},
		// A stub licence's count multiplies the cached tokens as the rest: 30 cached at 0.5.
		{"seats", `{"prompt_token_num":"10","prompt_token_cache_num":"10","users":3}`, "15"},
	} {
		e := &abacus.UsageEvent{ID: "e", Account: alice, Value: 1, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: tc.res, Time: jan10, Extra: tc.extra}
		r, err := b.Rate(e, "USD", nil)
		if err != nil || r.Unpriced {
			t.Fatalf("%s %s: %+v %v", tc.res, tc.extra, r, err)
		}
		wantCost(t, tc.res+" "+tc.extra, r.Cost, tc.cost)
	}
}

// TestIncomingUnitTypeIsAKey: a sku_unit_type an incoming event names in
// its extra is a key of its price, held to the rules of the event's own
// keys; a stored event with one is still rated (QA: "minute" and a CR was
// stored unpriced, and printed raw).
func TestIncomingUnitTypeIsAKey(t *testing.T) {
	b, err := rating.NewBook(nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"minute\r", "min\u00a0ute", "minu\u200bte", "cafe\u0301"} {
		e := &abacus.UsageEvent{ID: "e", Account: "a", Value: 1, Scene: 11, ResourceID: "gpu", Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
		withExtra(e, map[string]any{"sku_unit_type": unit})
		var ae *abacus.Error
		if _, err := b.RateIncoming(e, "USD", func(rating.Counter) int64 { return 0 }); !errors.As(err, &ae) || ae.Field != "extra.sku_unit_type" {
			t.Errorf("%q coming in: %v, want refused naming extra.sku_unit_type", unit, err)
		}
		if r, err := b.Rate(e, "USD", func(rating.Counter) int64 { return 0 }); err != nil || !r.Unpriced {
			t.Errorf("%q stored: %+v %v, want rated (unpriced, in a book without prices)", unit, r, err)
		}
	}
}

// TestUnpricedWithoutResourceSaysToVoid: an event stored before events had
// to name a resource can never be priced (a price's resource_id is
// required), and its reason says so, where rerate had listed it as
// waiting for a price (QA).
func TestUnpricedWithoutResourceSaysToVoid(t *testing.T) {
	en := newEngine(mustBook(t, []abacus.Price{perUnit("r", "0.05", 1)}, nil, nil), "USD")
	if r := en.rate(t, event("", 10, jan1)); !r.Unpriced || !strings.HasSuffix(r.Reason, "none can be written for an empty resource_id: void the event") {
		t.Errorf("unpriced %v, reason %q", r.Unpriced, r.Reason)
	}
	if r := en.rate(t, event("gpu", 10, jan1)); !r.Unpriced || strings.Contains(r.Reason, "void") {
		t.Errorf("an event of a resource without a price: unpriced %v, reason %q", r.Unpriced, r.Reason)
	}
}
