package rating

// Differential tests: the integer cost functions and Rate against the
// exact big.Rat implementation they replaced (oracle_test.go), digit for
// digit.

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

var (
	diffJan1  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	diffJan10 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	diffAlice = abacus.AccountID("5b7e0c1a-9f3e-4a57-8d2c-0a1b2c3d4e5f")
)

// genCoef draws a non-negative coefficient: small, int64-sized or wider.
func genCoef(t *rapid.T, label string) *big.Int {
	switch rapid.IntRange(0, 9).Draw(t, label+"_size") {
	case 0, 1, 2:
		return big.NewInt(rapid.Int64Range(0, 100).Draw(t, label+"_small"))
	case 3, 4, 5:
		return big.NewInt(rapid.Int64Range(0, 100_000_000).Draw(t, label+"_mid"))
	case 6, 7:
		return big.NewInt(rapid.Int64Range(0, math.MaxInt64).Draw(t, label+"_int64"))
	case 8:
		// 1 followed by zeros, or 99…9: the edges of a digit count
		n := rapid.IntRange(0, 25).Draw(t, label+"_digits")
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
		if rapid.Bool().Draw(t, label+"_nines") {
			p.Sub(p, big.NewInt(1))
		}
		return p
	default:
		// up to about 10³⁸
		hi := rapid.Int64Range(0, math.MaxInt64).Draw(t, label+"_hi")
		lo := rapid.Uint64().Draw(t, label+"_lo")
		x := new(big.Int).Lsh(big.NewInt(hi), 64)
		return x.Add(x, new(big.Int).SetUint64(lo))
	}
}

// genDec draws a decimal price: up to 20 fraction digits, now and then
// more (which takes the fast path's extra scale) or a positive exponent.
func genDec(t *rapid.T, label string) decimal.Decimal {
	c := genCoef(t, label)
	var exp int32
	switch rapid.IntRange(0, 9).Draw(t, label+"_expkind") {
	case 0:
		exp = int32(rapid.IntRange(-26, -21).Draw(t, label+"_longexp"))
	case 1:
		exp = int32(rapid.IntRange(1, 3).Draw(t, label+"_posexp"))
	default:
		exp = int32(-rapid.IntRange(0, 20).Draw(t, label+"_exp"))
	}
	return decimal.NewFromBigInt(c, exp)
}

func genDiffUnit(t *rapid.T) int64 {
	return rapid.OneOf(
		rapid.SampledFrom([]int64{1, 2, 3, 4, 5, 7, 8, 9, 16, 21, 25, 49, 60, 63, 1000, 3600, 43200, 86400,
			604800, 1_000_000, 3_600_000, 2_187 * 343, 3 * 7 * 1_000_000_007, 2_783_138_807_808_000, math.MaxInt64}),
		rapid.Int64Range(1, 1_000_000),
		rapid.Int64Range(1, math.MaxInt64),
	).Draw(t, "unit")
}

func genDiffTiers(t *rapid.T) []abacus.PriceTier {
	n := rapid.IntRange(1, 5).Draw(t, "tiers")
	out := make([]abacus.PriceTier, n)
	bound := int64(0)
	for i := range out {
		out[i].UnitPrice = genDec(t, "tier_price")
		if rapid.Bool().Draw(t, "has_fee") {
			out[i].FlatFee = genDec(t, "flat_fee")
		}
		if i < n-1 {
			w := rapid.OneOf(rapid.Int64Range(1, 3000), rapid.Int64Range(1, 1_000_000_000_000)).Draw(t, "tier_width")
			bound += w
			out[i].UpTo = bound
		}
	}
	return out
}

// genDiffPrice draws a valid price of model.
func genDiffPrice(t *rapid.T, model abacus.PriceModel) abacus.Price {
	p := abacus.Price{ID: 1, SKUType: 1, SKUKind: 1, ResourceID: "r", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: model, ValidFrom: diffJan1}
	switch model {
	case abacus.ModelPerUnit:
		p.Unit = genDiffUnit(t)
		p.UnitPrice = genDec(t, "price")
	case abacus.ModelGraduated, abacus.ModelVolume:
		p.Unit = genDiffUnit(t)
		p.Tiers = genDiffTiers(t)
	case abacus.ModelPackage:
		p.Package = rapid.OneOf(rapid.Int64Range(1, 500), rapid.Int64Range(1, math.MaxInt64)).Draw(t, "package")
		p.UnitPrice = genDec(t, "price")
	case abacus.ModelBurst:
		p.Unit = genDiffUnit(t)
		for l := range rapid.IntRange(1, 4).Draw(t, "levels") {
			p.Levels = append(p.Levels, abacus.BurstPrice{Level: l + 1, UnitPrice: genDec(t, "level_price")})
		}
	}
	return p
}

// genQuantity draws a quantity: small, up to 10¹⁵, next to a tier bound,
// or anything up to the largest int64.
func genQuantity(t *rapid.T, p *abacus.Price, label string) int64 {
	switch rapid.IntRange(0, 5).Draw(t, label+"_kind") {
	case 0:
		return rapid.Int64Range(0, 100).Draw(t, label)
	case 1, 2:
		return rapid.Int64Range(0, 1_000_000_000_000_000).Draw(t, label)
	case 3:
		if len(p.Tiers) > 1 {
			b := rapid.SampledFrom(p.Tiers[:len(p.Tiers)-1]).Draw(t, label+"_tier").UpTo
			return max(0, b+rapid.Int64Range(-2, 2).Draw(t, label+"_off"))
		}
		if p.Package > 0 {
			k := rapid.Int64Range(0, 1000).Draw(t, label+"_packages")
			if k <= math.MaxInt64/p.Package {
				return max(0, k*p.Package+rapid.Int64Range(-1, 1).Draw(t, label+"_off"))
			}
		}
		return rapid.Int64Range(0, 10_000).Draw(t, label)
	case 4:
		return math.MaxInt64 - rapid.Int64Range(0, 3).Draw(t, label+"_top")
	default:
		return rapid.Int64Range(0, math.MaxInt64).Draw(t, label)
	}
}

// sameDecimal reports whether a and b are the same decimal: the same
// coefficient and exponent, so that they print, compare and store alike.
func sameDecimal(a, b decimal.Decimal) bool {
	return a.Exponent() == b.Exponent() && a.Coefficient().Cmp(b.Coefficient()) == 0
}

func checkCumulative(t *rapid.T, p *abacus.Price, q int64) {
	got, ok := Cumulative(p, q)
	want, wantOK := oldCumulative(p, q)
	if ok != wantOK {
		t.Fatalf("C(%d): defined %v, the exact code says %v", q, ok, wantOK)
	}
	// reflect.DeepEqual: the same coefficient, exponent and even the same
	// nil-or-not big.Int inside, as the exact code built it.
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("C(%d) = %s (%s e%d), the exact code says %s (%s e%d)", q,
			got, got.Coefficient(), got.Exponent(), want, want.Coefficient(), want.Exponent())
	}
}

// TestDiffCumulative: for random valid prices of every counted model and
// random quantities up to 10¹⁵ (and beyond), the fast Cumulative equals
// the exact big.Rat code digit for digit.
func TestDiffCumulative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		model := rapid.SampledFrom([]abacus.PriceModel{abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage}).Draw(t, "model")
		p := genDiffPrice(t, model)
		if err := Validate(&p); err != nil {
			t.Fatalf("generated an invalid price: %v", err)
		}
		for range rapid.IntRange(1, 8).Draw(t, "points") {
			checkCumulative(t, &p, genQuantity(t, &p, "q"))
		}
		checkCumulative(t, &p, 0)
	})
}

// TestDiffCumulativeTies: prices of 20 and more fraction digits over
// units with factors 2 and 5 put many values exactly half-way between two
// 20-place decimals: they round to the even one, as before.
func TestDiffCumulativeTies(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		model := rapid.SampledFrom([]abacus.PriceModel{abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume}).Draw(t, "model")
		price := func(label string) decimal.Decimal {
			return decimal.New(rapid.Int64Range(0, 1000).Draw(t, label), -int32(rapid.IntRange(18, 22).Draw(t, label+"_places")))
		}
		p := abacus.Price{Model: model, Unit: rapid.SampledFrom([]int64{1, 2, 4, 8, 10, 16, 20, 40, 50, 80, 250, 1000}).Draw(t, "unit")}
		if model == abacus.ModelPerUnit {
			p.UnitPrice = price("price")
		} else {
			p.Tiers = []abacus.PriceTier{
				{UpTo: rapid.Int64Range(1, 20).Draw(t, "bound"), UnitPrice: price("low"), FlatFee: price("fee")},
				{UnitPrice: price("high")},
			}
		}
		for range 10 {
			checkCumulative(t, &p, rapid.Int64Range(0, 50).Draw(t, "q"))
		}
	})
}

// TestDiffCumulativeInvalidPrices: Cumulative is public and may be given
// prices Validate refuses (negative prices or units, unordered or
// unbounded tiers, a zero unit or package): it still agrees with the
// exact code.
func TestDiffCumulativeInvalidPrices(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		model := rapid.SampledFrom([]abacus.PriceModel{abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage, abacus.ModelBurst, "other"}).Draw(t, "model")
		p := genDiffPrice(t, model)
		if rapid.Bool().Draw(t, "bad_unit") {
			p.Unit = rapid.Int64Range(-10, 0).Draw(t, "unit")
		}
		if rapid.Bool().Draw(t, "negative_price") {
			p.UnitPrice = p.UnitPrice.Neg()
		}
		if model == abacus.ModelPackage && rapid.Bool().Draw(t, "bad_package") {
			p.Package = rapid.Int64Range(-2, 0).Draw(t, "package")
		}
		for i := range p.Tiers {
			if rapid.Bool().Draw(t, "mangle_tier") {
				p.Tiers[i].UpTo = rapid.Int64Range(-5, 10_000).Draw(t, "up_to")
				if rapid.Bool().Draw(t, "negative_tier") {
					p.Tiers[i].UnitPrice = p.Tiers[i].UnitPrice.Neg()
					p.Tiers[i].FlatFee = p.Tiers[i].FlatFee.Neg()
				}
			}
		}
		for range rapid.IntRange(1, 5).Draw(t, "points") {
			checkCumulative(t, &p, rapid.OneOf(rapid.Int64Range(-2, 20_000), rapid.Int64Range(0, 1_000_000_000_000_000)).Draw(t, "q"))
		}
	})
}

// TestDiffRate: Rate equals the former Rate (on the exact cost functions)
// for random books and events: the same lines, counters, costs
// (coefficient and exponent), errors and unpriced reasons.
func TestDiffRate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var prices []abacus.Price
		resources := []string{"pu", "gr", "vo", "pk", "bu"}
		for i, m := range []abacus.PriceModel{abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage, abacus.ModelBurst} {
			p := genDiffPrice(t, m)
			p.ID = int64(i + 1)
			p.ResourceID = resources[i]
			if rapid.Bool().Draw(t, "discounted") {
				p.Discounts = []abacus.CommitmentDiscount{{Months: 1, Fraction: decimal.New(rapid.Int64Range(0, 9999).Draw(t, "fraction"), -4)}}
			}
			if rapid.IntRange(0, 3).Draw(t, "licensed") == 0 {
				p.License = &abacus.License{Name: "l", Type: rapid.SampledFrom([]string{LicenseInstall, LicenseInstance, LicenseStub}).Draw(t, "licence"),
					UserMetric: "users", Burstable: rapid.Bool().Draw(t, "burstable")}
			}
			prices = append(prices, p)
			// The same price for prompt and completion tokens.
			for _, kind := range []int{KindPrompt, KindCompletion} {
				tp := p
				tp.ID = int64(10*(i+1) + kind)
				tp.SKUKind, tp.UnitType = kind, "token"
				tp.License = nil
				prices = append(prices, tp)
			}
		}
		levels := []abacus.BurstLevel{{Resource: "bu", Level: rapid.IntRange(1, 5).Draw(t, "level"), EffectiveFrom: diffJan1}}
		var commitments []abacus.Commitment
		if rapid.Bool().Draw(t, "committed") {
			commitments = []abacus.Commitment{{Account: diffAlice, Months: 1, From: diffJan1, Until: diffJan1.AddDate(0, 2, 0)}}
		}
		b, err := NewBook(nil, prices, levels, commitments)
		if err != nil {
			t.Fatalf("NewBook: %v", err)
		}
		counters := map[Counter]int64{}
		used := func(c Counter) int64 {
			if _, ok := counters[c]; !ok {
				counters[c] = genQuantity(t, b.prices[priceKey{c.Key, c.Currency}][0].price, "used")
			}
			return counters[c]
		}
		for range rapid.IntRange(1, 10).Draw(t, "events") {
			res := rapid.SampledFrom(resources).Draw(t, "resource")
			p := b.prices[priceKey{Key{SKUType: 1, SKUKind: 1, ResourceID: res, UnitType: "minute"}, "USD"}][0].price
			e := &abacus.UsageEvent{ID: "e", Account: diffAlice, Value: genQuantity(t, p, "value"), Scene: 11, ResourceID: res, Time: diffJan10}
			if rapid.Bool().Draw(t, "tokens") {
				e.ValueType, e.Scene = abacus.ValueTokens, 15
				e.Extra = fmt.Sprintf(`{"prompt_token_num":%d,"completion_token_num":"%d"}`,
					genQuantity(t, p, "prompt"), genQuantity(t, p, "completion"))
			} else if rapid.Bool().Draw(t, "extra") {
				e.Extra = fmt.Sprintf(`{"running":%v,"users":%d}`, rapid.Bool().Draw(t, "running"), rapid.Int64Range(0, 1000).Draw(t, "users"))
			}
			got, gotErr := b.Rate(e, "USD", used)
			want, wantErr := oldRate(b, e, "USD", used)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("error %v, the former Rate says %v", gotErr, wantErr)
			}
			compareRatings(t, got, want)
			if gotErr == nil && !got.Unpriced {
				for _, l := range got.Lines {
					if l.Counter != nil {
						counters[*l.Counter] += l.Quantity
					}
				}
			}
		}
	})
}

func compareRatings(t *rapid.T, got, want Rating) {
	t.Helper()
	if got.Unpriced != want.Unpriced || got.Reason != want.Reason || got.Uncommitted != want.Uncommitted || len(got.Lines) != len(want.Lines) {
		t.Fatalf("rating %+v, the former Rate says %+v", got, want)
	}
	if !sameDecimal(got.Cost, want.Cost) {
		t.Fatalf("cost %s (%s e%d), the former Rate says %s (%s e%d)", got.Cost, got.Cost.Coefficient(), got.Cost.Exponent(),
			want.Cost, want.Cost.Coefficient(), want.Cost.Exponent())
	}
	for i := range got.Lines {
		g, w := got.Lines[i], want.Lines[i]
		if g.Key != w.Key || g.PriceID != w.PriceID || g.Quantity != w.Quantity || g.Level != w.Level || g.Uncommitted != w.Uncommitted ||
			(g.Counter == nil) != (w.Counter == nil) || (g.Counter != nil && *g.Counter != *w.Counter) {
			t.Fatalf("line %d: %+v, the former Rate says %+v", i, g, w)
		}
		for _, f := range []struct {
			name string
			g, w decimal.Decimal
		}{{"cost", g.Cost, w.Cost}, {"regular cost", g.RegularCost, w.RegularCost}, {"discount", g.Discount, w.Discount}} {
			if !sameDecimal(f.g, f.w) {
				t.Fatalf("line %d: %s %s (%s e%d), the former Rate says %s (%s e%d)", i, f.name, f.g, f.g.Coefficient(), f.g.Exponent(),
					f.w, f.w.Coefficient(), f.w.Exponent())
			}
		}
	}
}

// TestScaledDecimal checks the decimal form of scaled integers around the
// powers of ten, signs and the int64 boundary against trim.
func TestScaledDecimal(t *testing.T) {
	check := func(x *big.Int) {
		t.Helper()
		got := bigScaledDecimal(x)
		want := oldTrim(decimal.NewFromBigInt(x, -CostScale))
		if !sameDecimal(got, want) {
			t.Errorf("%s × 10⁻²⁰: %s e%d, want %s e%d", x, got.Coefficient(), got.Exponent(), want.Coefficient(), want.Exponent())
		}
	}
	for n := int64(0); n <= 60; n++ {
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
		for _, d := range []int64{-11, -1, 0, 1, 7, 10, 11} {
			x := new(big.Int).Add(p, big.NewInt(d))
			check(x)
			check(new(big.Int).Neg(x))
			check(new(big.Int).Mul(x, big.NewInt(1000)))
		}
	}
	for _, s := range []string{"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"92233720368547758070", "18446744073709551616", "340282366920938463463374607431768211456",
		"57896044618658097711785492504343953926634992332820282019728792003956564819967", // 2²⁵⁵ − 1
		"57896044618658097711785492504343953926634992332820282019728792003956564819968", // 2²⁵⁵: math/big
		"-57896044618658097711785492504343953926634992332820282019728792003956564819968",
		"115792089237316195423570985008687907853269984665640564039457584007913129639936000"} {
		x, _ := new(big.Int).SetString(s, 10)
		check(x)
		check(new(big.Int).Neg(x))
	}
}

// TestCompiledBounds: prices just inside and outside the fast path's
// bounds are computed alike.
func TestCompiledBounds(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, tc := range []struct {
		name  string
		price decimal.Decimal
		unit  int64
		fast  bool
	}{
		{"small", decimal.RequireFromString("0.05"), 1, true},
		{"scaled price just below 2¹²⁸", decimal.NewFromBigInt(new(big.Int).Sub(two128, big.NewInt(1)), -CostScale), 3, true},
		{"scaled price 2¹²⁸", decimal.NewFromBigInt(two128, -CostScale), 3, false},
		{"21 fraction digits", decimal.RequireFromString("0.000000000000000000025"), 7, true},
		{"40 fraction digits", decimal.New(1, -40), 7, false},
		{"unit × 10^s beyond 64 bits", decimal.New(1, -21), math.MaxInt64, false},
	} {
		p := abacus.Price{Model: abacus.ModelPerUnit, Unit: tc.unit, UnitPrice: tc.price}
		f := compile(&p, nil)
		if f.fast != tc.fast {
			t.Errorf("%s: fast %v, want %v", tc.name, f.fast, tc.fast)
		}
		for _, q := range []int64{0, 1, 2, 3, 7, 1_000_000_000_000_000, math.MaxInt64} {
			got, _ := Cumulative(&p, q)
			want, _ := oldCumulative(&p, q)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: C(%d) = %s, want %s", tc.name, q, got, want)
			}
		}
	}
}

// TestCompiledTierBounds: graduated and volume prices at the bounds of
// the fast path (flat fee × Unit and tier bases of 2¹⁹² bits) are
// computed alike.
func TestCompiledTierBounds(t *testing.T) {
	two := func(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }
	scaled := func(x *big.Int) decimal.Decimal { return decimal.NewFromBigInt(x, -CostScale) } // x × 10⁻²⁰
	below := func(n uint) *big.Int { return new(big.Int).Sub(two(n), big.NewInt(1)) }
	sum := func(xs ...*big.Int) *big.Int {
		s := new(big.Int)
		for _, x := range xs {
			s.Add(s, x)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		unit  int64
		tiers []abacus.PriceTier
		fast  bool
	}{
		{"fee × unit just below 2¹⁹²", 1, []abacus.PriceTier{{UpTo: 10, FlatFee: scaled(below(192))}, {UnitPrice: decimal.New(1, 0)}}, true},
		{"fee × unit 2¹⁹²", 4, []abacus.PriceTier{{UpTo: 10, FlatFee: scaled(two(190))}, {UnitPrice: decimal.New(1, 0)}}, false},
		{"base 2¹⁹²", 1, []abacus.PriceTier{
			{UpTo: 1 << 62, UnitPrice: scaled(below(128))},
			{UpTo: 1<<62 + 1, FlatFee: scaled(sum(two(191), two(190), two(62)))}, // (2¹²⁸ − 1) × 2⁶² + this = 2¹⁹²
			{UnitPrice: decimal.New(1, 0)}}, false},
		{"base just below 2¹⁹²", 1, []abacus.PriceTier{
			{UpTo: 1 << 62, UnitPrice: scaled(below(128))},
			{UpTo: 1<<62 + 1, FlatFee: scaled(sum(two(191), two(190), two(62), big.NewInt(-1)))},
			{UnitPrice: scaled(below(128))}}, true},
	} {
		for _, model := range []abacus.PriceModel{abacus.ModelGraduated, abacus.ModelVolume} {
			p := abacus.Price{Model: model, Unit: tc.unit, Tiers: tc.tiers}
			f := compile(&p, nil)
			if model == abacus.ModelGraduated && f.fast != tc.fast {
				t.Errorf("%s: fast %v, want %v", tc.name, f.fast, tc.fast)
			}
			for _, q := range []int64{0, 1, 10, 11, 1 << 62, 1<<62 + 1, 1<<62 + 2, math.MaxInt64} {
				got, _ := Cumulative(&p, q)
				want, _ := oldCumulative(&p, q)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s, %s: C(%d) = %s, want %s", tc.name, model, q, got, want)
				}
			}
		}
	}
}

// genExtra draws an event's extra: mostly flat objects of the keys rating
// reads, built from pieces that are valid JSON or almost (escapes,
// non-ASCII, nesting, odd whitespace and numbers, duplicates, trailing
// text).
func genExtra(t *rapid.T) string {
	keys := []string{ExtraPromptTokens, ExtraCompletionTokens, ExtraSKUKind, ExtraSKUType, ExtraSKUUnitType, ExtraRunning, "users", "owner_type", "", "x"}
	values := []string{`1`, `0`, `-0`, `-1`, `12`, `01`, `1.5`, `1e3`, `1E+3`, `1.`, `.5`, `-`, `1e`, `9223372036854775807`, `9223372036854775808`,
		`"12"`, `" 12 "`, `"1\u0032"`, `"\u00e9"`, `"é"`, `"a\"b"`, `""`, `"true"`, `"false"`, `"tru\u0065"`, `"maybe"`,
		`true`, `false`, `null`, `nul`, `truex`, `tRue`, `{}`, `{"a":1}`, `[]`, `[1,2]`, "\"tab\tin\"", `"minute"`, `"\ud800"`}
	ws := []string{"", "", "", " ", "\t", "\n", "\r\n ", "\v", "\u00a0"}
	w := func(label string) string { return rapid.SampledFrom(ws).Draw(t, label) }
	switch rapid.IntRange(0, 9).Draw(t, "shape") {
	case 0:
		return rapid.SampledFrom([]string{"", " ", "null", " null ", "{}", " { } ", "[]", `"x"`, "1", "{", "}", "{,}", `{"a"}`, `{"a":}`, `{"a":1,}`, "\v{}", "{}\u00a0", "{} x"}).Draw(t, "whole")
	case 1:
		return rapid.String().Draw(t, "noise")
	}
	var sb strings.Builder
	sb.WriteString(w("lead") + "{")
	n := rapid.IntRange(0, 5).Draw(t, "members")
	for i := range n {
		if i > 0 {
			sb.WriteString(w("before_comma") + "," + w("after_comma"))
		} else {
			sb.WriteString(w("open"))
		}
		key := rapid.SampledFrom(keys).Draw(t, "key")
		if rapid.IntRange(0, 9).Draw(t, "escape_key") == 0 && key != "" {
			key = `\u00` + fmt.Sprintf("%x", key[0]) + key[1:]
		}
		sb.WriteString(`"` + key + `"` + w("before_colon") + ":" + w("after_colon"))
		sb.WriteString(rapid.SampledFrom(values).Draw(t, "value"))
	}
	sb.WriteString(w("close") + "}" + w("trail"))
	if rapid.IntRange(0, 9).Draw(t, "garbage") == 0 {
		sb.WriteString(rapid.SampledFrom([]string{"x", ",", "}", "{}", " 1"}).Draw(t, "tail"))
	}
	s := sb.String()
	if rapid.IntRange(0, 9).Draw(t, "cut") == 0 && len(s) > 0 {
		s = s[:rapid.IntRange(0, len(s)-1).Draw(t, "cut_at")]
	}
	return s
}

// checkExtra compares the reading of one extra with encoding/json's.
func checkExtra(t interface {
	Fatalf(string, ...any)
}, s string) {
	got, err := parseExtra(s, nil)
	want, wantErr := oldParseExtra(s)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("extra %q: error %v, encoding/json says %v", s, err, wantErr)
	}
	if err != nil {
		return
	}
	asMap := map[string]string{}
	for _, f := range got {
		asMap[f.key] = f.raw // the last one of a key, as in a map
	}
	wantMap := map[string]string{}
	for k, v := range want {
		wantMap[k] = string(v)
	}
	if !reflect.DeepEqual(asMap, wantMap) {
		t.Fatalf("extra %q: %q, encoding/json says %q", s, asMap, wantMap)
	}
	for _, key := range []string{ExtraPromptTokens, ExtraCompletionTokens, ExtraSKUKind, ExtraSKUType, ExtraRunning, "users", "", "x"} {
		n, set, err := extraInt(got, key)
		wn, wset, werr := oldExtraInt(want, key)
		if n != wn || set != wset || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("extra %q: int %s: %d %v %v, before %d %v %v", s, key, n, set, err, wn, wset, werr)
		}
		b, set, err := extraBool(got, key)
		wb, wset, werr := oldExtraBool(want, key)
		if b != wb || set != wset || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("extra %q: bool %s: %v %v %v, before %v %v %v", s, key, b, set, err, wb, wset, werr)
		}
	}
	for _, vt := range []int{abacus.ValueDuration, abacus.ValueTokens} {
		e := &abacus.UsageEvent{Value: 7, ValueType: vt, Scene: 15, ResourceID: "m", Extra: s}
		cs, err := Components(e)
		wcs, werr := oldComponents(e, want)
		if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(slicesOrNil(cs), slicesOrNil(wcs)) {
			t.Fatalf("extra %q: components %+v %v, before %+v %v", s, cs, err, wcs, werr)
		}
	}
}

func slicesOrNil(cs []Component) []Component {
	if len(cs) == 0 {
		return nil
	}
	return cs
}

// TestDiffExtra: the direct scan of extra reads every string as
// encoding/json does: the same members, the same errors, the same
// components and licence fields.
func TestDiffExtra(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		for range 100 { // extras are cheap: many per check
			checkExtra(t, genExtra(t))
		}
	})
}

// FuzzParseExtra is TestDiffExtra for the fuzzer.
func FuzzParseExtra(f *testing.F) {
	for _, s := range []string{"", "null", "{}", `{"prompt_token_num":"200","completion_token_num":100,"owner_type":"3"}`,
		`{"running":false,"users":"3"}`, `{"sku_kind":"6","sku_type":2,"sku_unit_type":"second"}`, `{"a":1,"a":"2"}`,
		`{"a":{"b":1}}`, `{"a":"\u0031"}`, `{"a":01}`, "{\"a\":1}\u00a0", `{"a":-0.5e+10}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkExtra(t, s) })
}
