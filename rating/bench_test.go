package rating_test

import (
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// BenchmarkRate rates one event per iteration for each model. The usage
// counters are fixed (the engine is not advanced), so every iteration
// prices the same step of C.
func BenchmarkRate(b *testing.B) {
	tok := func(kind int, p abacus.Price) abacus.Price {
		p.SKUKind, p.ResourceID, p.UnitType, p.Unit = kind, "m", "token", 1_000_000
		return p
	}
	three := tiers("1000:0.01", "5000:0.008:2", ":0.005:5")
	disc := perUnit("disc", "0.05", 1)
	disc.Discounts = []abacus.CommitmentDiscount{{Months: 12, Fraction: d("0.2")}}
	book := mustBook(b, []abacus.Price{
		perUnit("r", "0.05", 1),
		perUnit("cpu-h", "0.014", 3_600_000),
		graduated("g", three...),
		volume("v", three...),
		pkg("p", "5", 100),
		burst("cpu", 3_600_000, map[int]string{0: "0.01", 1: "0.014", 3: "0.0199", 4: "0.021"}),
		disc,
		tok(4, graduated("m", tiers("1000000:0.5", "10000000:0.4", ":0.3")...)),
		tok(5, perUnit("m", "1.2", 1)),
	}, []abacus.BurstLevel{{Resource: "cpu", Level: 3, EffectiveFrom: jan1}},
		[]abacus.Commitment{{Account: bob, Months: 12, From: jan1, Until: mar1}})
	// The usage so far, by resource: "g" and "v" within a tier (123 → 223)
	// or across a boundary (950 → 1050).
	within := func(c rating.Counter) int64 { return 123 }
	across := func(c rating.Counter) int64 { return 950 }
	tokensUsed := func(c rating.Counter) int64 { return 123456 }
	committed := event("disc", 37, jan10)
	committed.Account = bob
	for _, bc := range []struct {
		name string
		e    *abacus.UsageEvent
		used func(rating.Counter) int64
	}{
		{"per_unit", event("r", 37, jan10), nil},
		{"per_unit/non_terminating", event("cpu-h", 4000*300, jan10), nil},
		{"per_unit/discount", committed, nil},
		{"graduated/within_tier", event("g", 100, jan10), within},
		{"graduated/crossing", event("g", 100, jan10), across},
		{"volume", event("v", 100, jan10), within},
		{"volume/crossing", event("v", 100, jan10), across},
		{"package", event("p", 100, jan10), within},
		{"burst", event("cpu", 4000*300, jan10), nil},
		{"tokens", &abacus.UsageEvent{Account: alice, Value: 300, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: "m", Time: jan10,
			Extra: `{"prompt_token_num":"200","completion_token_num":"100","owner_type":"3"}`}, tokensUsed},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := book.Rate(bc.e, "USD", bc.used)
				if err != nil || r.Unpriced {
					b.Fatal(err, r.Reason)
				}
			}
		})
	}
}

// BenchmarkCumulative evaluates C(q) of a graduated price directly.
func BenchmarkCumulative(b *testing.B) {
	p := graduated("g", tiers("1000:0.01", "5000:0.008:2", ":0.005:5")...)
	p.Unit = 3_600_000
	for _, q := range []struct {
		name string
		q    int64
	}{{"small", 950}, {"large", 123_456_789_012_345}} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := rating.Cumulative(&p, q.q); !ok {
					b.Fatal("undefined")
				}
			}
		})
	}
}
