package rating_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// oracleC is C(q) computed exactly with math/big, written apart from the
// package's code.
func oracleC(p *abacus.Price, q int64) *big.Rat {
	bq := big.NewInt(q)
	per := func(price decimal.Decimal, n *big.Int) *big.Rat {
		r := new(big.Rat).SetFrac(new(big.Int).Mul(price.Coefficient(), n), big.NewInt(p.Unit))
		return scale(r, price.Exponent())
	}
	switch p.Model {
	case abacus.ModelPerUnit:
		return per(p.UnitPrice, bq)
	case abacus.ModelGraduated:
		total := new(big.Rat)
		lo := int64(0)
		for i, t := range p.Tiers {
			hi := t.UpTo
			if i == len(p.Tiers)-1 {
				hi = q
				if q < lo {
					hi = lo
				}
			}
			in := min(q, hi) - lo
			if in > 0 {
				total.Add(total, per(t.UnitPrice, big.NewInt(in)))
				total.Add(total, t.FlatFee.Rat())
			}
			lo = hi
		}
		return total
	case abacus.ModelVolume:
		if q == 0 {
			return new(big.Rat)
		}
		t := p.Tiers[len(p.Tiers)-1]
		for i := len(p.Tiers) - 2; i >= 0; i-- {
			if q <= p.Tiers[i].UpTo {
				t = p.Tiers[i]
			}
		}
		return new(big.Rat).Add(per(t.UnitPrice, bq), t.FlatFee.Rat())
	case abacus.ModelPackage:
		n := new(big.Int).Add(bq, big.NewInt(p.Package-1))
		n.Quo(n, big.NewInt(p.Package))
		return new(big.Rat).Mul(p.UnitPrice.Rat(), new(big.Rat).SetInt(n))
	}
	panic("no oracle for " + p.Model)
}

func scale(r *big.Rat, exp int32) *big.Rat {
	f := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil))
	if exp < 0 {
		return r.Quo(r, f)
	}
	return r.Mul(r, f)
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// roundHalfEven20 rounds r to 20 decimal places, ties to even.
func roundHalfEven20(r *big.Rat) decimal.Decimal {
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)))
	fl := new(big.Int).Div(x.Num(), x.Denom()) // Euclidean: floor, the denominator being positive
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt(fl))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		fl.Add(fl, big.NewInt(1))
	case 0:
		if fl.Bit(0) == 1 {
			fl.Add(fl, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(fl, -20)
}

func genDecimal(t *rapid.T, label string) decimal.Decimal {
	c := rapid.OneOf(rapid.Int64Range(0, 100), rapid.Int64Range(0, 10_000_000)).Draw(t, label+"_coef")
	e := rapid.IntRange(0, 9).Draw(t, label+"_exp")
	return decimal.New(c, int32(-e))
}

func genUnit(t *rapid.T) int64 {
	return rapid.OneOf(
		rapid.SampledFrom([]int64{1, 3, 7, 60, 1000, 43200, 1_000_000, 3_600_000, 2_783_138_807_808_000}),
		rapid.Int64Range(1, 1_000_000),
	).Draw(t, "unit")
}

func genTiers(t *rapid.T, fees bool) []abacus.PriceTier {
	n := rapid.IntRange(1, 4).Draw(t, "tiers")
	var out []abacus.PriceTier
	bound := int64(0)
	for i := 0; i < n; i++ {
		tier := abacus.PriceTier{UnitPrice: genDecimal(t, "tier_price")}
		if i < n-1 {
			bound += rapid.Int64Range(1, 3000).Draw(t, "tier_width")
			tier.UpTo = bound
		}
		if fees && rapid.Bool().Draw(t, "has_fee") {
			tier.FlatFee = genDecimal(t, "flat_fee")
		}
		out = append(out, tier)
	}
	return out
}

func genPrice(t *rapid.T, model abacus.PriceModel) abacus.Price {
	p := abacus.Price{ID: 1, SKUType: 1, SKUKind: 1, ResourceID: "r", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: model, ValidFrom: jan1}
	switch model {
	case abacus.ModelPerUnit:
		p.Unit = genUnit(t)
		p.UnitPrice = genDecimal(t, "price")
	case abacus.ModelGraduated, abacus.ModelVolume:
		p.Unit = genUnit(t)
		p.Tiers = genTiers(t, true)
	case abacus.ModelPackage:
		p.Package = rapid.Int64Range(1, 500).Draw(t, "package")
		p.UnitPrice = genDecimal(t, "price")
	}
	return p
}

// genEvents draws a sequence of event values: one way of splitting their sum.
func genEvents(t *rapid.T) []int64 {
	return rapid.SliceOfN(rapid.OneOf(rapid.Int64Range(0, 50), rapid.Int64Range(0, 4000)), 1, 40).Draw(t, "events")
}

// rateAll rates the values as events of one month and returns the costs.
func rateAll(t *rapid.T, b *rating.Book, values []int64) []decimal.Decimal {
	en := newEngine(b, "USD")
	var out []decimal.Decimal
	for i, v := range values {
		r := en.rate(t, event("r", v, jan10.Add(time.Duration(i)*time.Second)))
		if r.Unpriced {
			t.Fatalf("unpriced: %s", r.Reason)
		}
		out = append(out, r.Cost)
	}
	return out
}

func sum(ds []decimal.Decimal) decimal.Decimal {
	s := decimal.Zero
	for _, x := range ds {
		s = s.Add(x)
	}
	return s
}

func total(vs []int64) int64 {
	var s int64
	for _, v := range vs {
		s += v
	}
	return s
}

// TestPropertyIncrementsSumToTotal: for counted models, however a period's
// usage is split into events, the increments sum to C(total) exactly, each
// increment is C(q+v) − C(q), and with a commitment discount the sum is
// (1 − fraction) × C(total) exactly.
func TestPropertyIncrementsSumToTotal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		model := rapid.SampledFrom([]abacus.PriceModel{abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage}).Draw(t, "model")
		p := genPrice(t, model)
		var commitments []abacus.Commitment
		fraction := decimal.Zero
		if rapid.Bool().Draw(t, "committed") {
			fraction = decimal.New(rapid.Int64Range(0, 9999).Draw(t, "discount"), -4)
			p.Discounts = []abacus.CommitmentDiscount{{Months: 12, Fraction: fraction}}
			commitments = []abacus.Commitment{{Account: alice, Months: 12, From: jan1, Until: feb1}}
		}
		b := mustBook(t, []abacus.Price{p}, nil, commitments)
		values := genEvents(t)
		costs := rateAll(t, b, values)
		keep := decimal.NewFromInt(1).Sub(fraction)
		q := int64(0)
		for i, v := range values {
			want := roundHalfEven20(oracleC(&p, q+v)).Sub(roundHalfEven20(oracleC(&p, q))).Mul(keep)
			if !costs[i].Equal(want) {
				t.Fatalf("event %d (%d → %d) costs %s, want %s", i, q, q+v, costs[i], want)
			}
			q += v
		}
		want := roundHalfEven20(oracleC(&p, total(values))).Mul(keep)
		if got := sum(costs); !got.Equal(want) {
			t.Fatalf("the events sum to %s, C(%d) = %s", got, total(values), want)
		}
		// One event of the total costs the same.
		if one := rateAll(t, b, []int64{total(values)}); !one[0].Equal(want) {
			t.Fatalf("one event of %d costs %s, want %s", total(values), one[0], want)
		}
	})
}

// TestPropertyGraduatedNeverNegative: graduated increments are never
// negative, and never more than the increment at the dearest tier price
// plus every flat fee.
func TestPropertyGraduatedNeverNegative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPrice(t, abacus.ModelGraduated)
		b := mustBook(t, []abacus.Price{p}, nil, nil)
		for i, c := range rateAll(t, b, genEvents(t)) {
			if c.IsNegative() {
				t.Fatalf("event %d costs %s", i, c)
			}
		}
	})
}

// TestPropertyVolumeTotal: a period's volume charges add up to the price of
// the tier its total falls in × the total, plus that tier's flat fee.
func TestPropertyVolumeTotal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPrice(t, abacus.ModelVolume)
		b := mustBook(t, []abacus.Price{p}, nil, nil)
		values := genEvents(t)
		q := total(values)
		var tier abacus.PriceTier
		for i := len(p.Tiers) - 1; i >= 0; i-- {
			if i == len(p.Tiers)-1 || q <= p.Tiers[i].UpTo {
				tier = p.Tiers[i]
			}
		}
		want := decimal.Zero
		if q > 0 {
			exact := new(big.Rat).Mul(tier.UnitPrice.Rat(), big.NewRat(q, p.Unit))
			want = roundHalfEven20(exact.Add(exact, tier.FlatFee.Rat()))
		}
		if got := sum(rateAll(t, b, values)); !got.Equal(want) {
			t.Fatalf("volume total %s for %d units, want %s (tier %+v)", got, q, want, tier)
		}
	})
}

// TestPropertyPerUnit: per-unit events need no counter; each costs
// UnitPrice × v / Unit rounded on its own, so the period's sum is exact
// when that division terminates within 20 places, and otherwise within
// half a unit of the 20th place per event.
func TestPropertyPerUnit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPrice(t, abacus.ModelPerUnit)
		b := mustBook(t, []abacus.Price{p}, nil, nil)
		values := genEvents(t)
		got := sum(rateAll(t, b, values))
		exact := oracleC(&p, total(values))
		diff := new(big.Rat).Sub(got.Rat(), exact)
		bound := new(big.Rat).Mul(big.NewRat(int64(len(values)), 2), new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)))
		if diff.Abs(diff).Cmp(bound) > 0 {
			t.Fatalf("per-unit sum %s is %s from the exact %s", got, diff.FloatString(25), exact.FloatString(25))
		}
		if terminates(p.Unit) && !got.Equal(roundHalfEven20(exact)) {
			t.Fatalf("per-unit sum %s, want exactly %s", got, exact.FloatString(25))
		}
	})
}

// terminates reports whether unit divides a power of ten small enough that
// a 9-place price divided by it has at most 20 places.
func terminates(unit int64) bool {
	for _, u := range []int64{1, 10, 100, 1000, 10000, 100000, 1000000, 2, 4, 5, 8, 20, 25, 50} {
		if unit == u {
			return true
		}
	}
	return false
}
