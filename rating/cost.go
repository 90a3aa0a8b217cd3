package rating

import (
	"math/big"
	"math/bits"
	"strings"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

// CostScale is the number of decimal places a value of a cost function is
// rounded to (half-even) when it is not a shorter decimal. It is
// CloudSigma's precision; the ledger keeps fewer places and carries the
// rest. See the package documentation on exactness.
const CostScale = 20

// Cumulative returns C(q), the cost of q base units used in a period under
// a counted or per-unit price: per_unit, graduated, volume or package,
// rounded half-even to CostScale places. It is what Rate takes
// differences of. A burst price has no cumulative function (its price
// moves with the level); Cumulative reports false for it, and for a
// negative q.
func Cumulative(p *abacus.Price, q int64) (decimal.Decimal, bool) {
	if q < 0 {
		return decimal.Zero, false
	}
	switch p.Model {
	case abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage:
	default:
		return decimal.Zero, false
	}
	var tiers [4]costTier
	f := compile(p, tiers[:0])
	if f.fast {
		n := f.numerator(q)
		if n.isZero() {
			// C is exactly 0. (A non-nil zero, where a value that rounds
			// to 0 is decimal.Zero: as the former code built them.)
			return decimal.New(0, 0), true
		}
		return scaledDecimal(roundDiv(n, f.den)), true
	}
	x, zero, ok := generalScaled(p, q)
	if !ok {
		return decimal.Zero, false
	}
	if zero {
		return decimal.New(0, 0), true
	}
	return bigScaledDecimal(x), true
}

// How costs are computed
//
// A value of a cost function is a sum of terms price × n / Unit (the
// units priced at one price) and price × n (flat fees, packages), every
// price a decimal coef × 10^exp. With s ≥ 0 chosen so that every
// exp + CostScale + s ≥ 0 (s is 0 unless a price has more than 20
// fraction digits),
//
//	C(q) × 10^CostScale = N(q) / D,   D = Unit × 10^s,
//
// where N(q) is the integer Σ coef × n × 10^(exp+20+s) over the per-unit
// terms plus Σ coef × n × 10^(exp+20+s) × Unit over the others (a
// package price is not divided by Unit: there D = 10^s). Rounding
// N/D half-even to an integer is rounding C half-even to CostScale
// places, and the rounded value, read as a decimal with exponent −20 and
// its trailing zeros dropped, is the cost. No rational arithmetic, no
// GCD.
//
// costFn holds a price's terms precomputed as 256-bit integers (NewBook
// compiles every price once). It is "fast" when everything fits its
// bounds, which every realistic price does: each scaled price below
// 2¹²⁸, each scaled flat fee × Unit below 2¹⁹², each tier's base below
// 2¹⁹², and D below 2⁶⁴. Then N(q) < 2¹⁹⁴ for every q < 2⁶³, so no
// evaluation can overflow, and sums and differences of a few rounded
// values stay far from 2²⁵⁵ (they are kept in two's complement). A price
// outside the bounds (or one that Validate would refuse, which Cumulative
// may be given) is computed by generalScaled with math/big, by the same
// formula.

// costFn is a price's cost function compiled to integers.
type costFn struct {
	fast   bool
	model  abacus.PriceModel
	den    uint64 // D (per burst level: costLevel.den)
	a      u256   // per_unit, package: the scaled UnitPrice
	pkg    int64  // package size
	tiers  []costTier
	levels []costLevel // burst, in the order of Price.Levels
}

// costTier is one tier of a graduated or volume price: the units in
// (lower, upTo] (upTo 0: no bound).
type costTier struct {
	lower, upTo int64
	a           u256 // the scaled UnitPrice, < 2¹²⁸
	fee         u256 // the scaled FlatFee × Unit, < 2¹⁹²
	base        u256 // graduated: N(lower), < 2¹⁹²
}

type costLevel struct {
	den uint64
	a   u256
}

// compile returns p's cost function, its tiers appended to buf (nil, or
// a buffer of the caller's). It is not fast when p is outside the bounds
// of the fast path.
func compile(p *abacus.Price, buf []costTier) costFn {
	f := costFn{model: p.Model}
	unit := p.Unit
	if unit == 0 {
		unit = 1 // a Unit of 0 divides nothing (as the exact code always did)
	}
	if unit < 0 {
		return costFn{model: p.Model}
	}
	switch p.Model {
	case abacus.ModelPerUnit:
		s := scaleOf(p.UnitPrice)
		den, ok := denominator(uint64(unit), s)
		if !ok {
			return costFn{model: p.Model}
		}
		a, ok := scaledPrice(p.UnitPrice, s)
		if !ok || !below128(a) {
			return costFn{model: p.Model}
		}
		f.den, f.a = den, a
	case abacus.ModelPackage:
		if p.Package < 1 {
			return costFn{model: p.Model}
		}
		s := scaleOf(p.UnitPrice)
		den, ok := denominator(1, s)
		if !ok {
			return costFn{model: p.Model}
		}
		a, ok := scaledPrice(p.UnitPrice, s)
		if !ok || !below128(a) {
			return costFn{model: p.Model}
		}
		f.den, f.a, f.pkg = den, a, p.Package
	case abacus.ModelGraduated, abacus.ModelVolume:
		if !wellFormedTiers(p.Tiers) {
			return costFn{model: p.Model}
		}
		s := int64(0)
		for _, t := range p.Tiers {
			s = max(s, scaleOf(t.UnitPrice), scaleOf(t.FlatFee))
		}
		den, ok := denominator(uint64(unit), s)
		if !ok {
			return costFn{model: p.Model}
		}
		tiers := buf[:0]
		var base u256
		lower := int64(0)
		for _, t := range p.Tiers {
			a, ok := scaledPrice(t.UnitPrice, s)
			if !ok || !below128(a) {
				return costFn{model: p.Model}
			}
			fee, ok := scaledPrice(t.FlatFee, s)
			if !ok {
				return costFn{model: p.Model}
			}
			fee, over := mulAdd256(fee, uint64(unit), 0)
			if over || fee[3] != 0 {
				return costFn{model: p.Model}
			}
			tiers = append(tiers, costTier{lower: lower, upTo: t.UpTo, a: a, fee: fee, base: base})
			if t.UpTo == 0 {
				break
			}
			// The base of the next tier: this one's units and fee.
			base = add256(add256(base, mul128x64(a, uint64(t.UpTo-lower))), fee)
			if base[3] != 0 {
				return costFn{model: p.Model}
			}
			lower = t.UpTo
		}
		f.den, f.tiers = den, tiers
	case abacus.ModelBurst:
		levels := make([]costLevel, len(p.Levels))
		for i, l := range p.Levels {
			s := scaleOf(l.UnitPrice)
			den, ok := denominator(uint64(unit), s)
			if !ok {
				return costFn{model: p.Model}
			}
			a, ok := scaledPrice(l.UnitPrice, s)
			if !ok || !below128(a) {
				return costFn{model: p.Model}
			}
			levels[i] = costLevel{den: den, a: a}
		}
		f.levels = levels
	default:
		return costFn{model: p.Model}
	}
	f.fast = true
	return f
}

// wellFormedTiers reports whether tiers have the shape Validate demands:
// bounds increasing from above 0, and only the last one unbounded.
func wellFormedTiers(tiers []abacus.PriceTier) bool {
	if len(tiers) == 0 {
		return false
	}
	prev := int64(0)
	for i, t := range tiers {
		last := i == len(tiers)-1
		if last != (t.UpTo == 0) || (!last && t.UpTo <= prev) {
			return false
		}
		prev = t.UpTo
	}
	return true
}

// numerator returns N(q) for a fast per_unit, graduated, volume or
// package function and q ≥ 0.
func (f *costFn) numerator(q int64) u256 {
	switch f.model {
	case abacus.ModelPerUnit:
		return mul128x64(f.a, uint64(q))
	case abacus.ModelPackage:
		n := q / f.pkg
		if q%f.pkg != 0 {
			n++
		}
		return mul128x64(f.a, uint64(n))
	case abacus.ModelGraduated:
		if q == 0 {
			return u256{}
		}
		for i := range f.tiers {
			t := &f.tiers[i]
			if t.upTo == 0 || q <= t.upTo {
				return add256(add256(t.base, mul128x64(t.a, uint64(q-t.lower))), t.fee)
			}
		}
	case abacus.ModelVolume:
		if q == 0 {
			return u256{}
		}
		for i := range f.tiers {
			t := &f.tiers[i]
			if t.upTo == 0 || q <= t.upTo {
				return add256(mul128x64(t.a, uint64(q)), t.fee)
			}
		}
	}
	panic("rating: numerator of a cost function that was not compiled")
}

// scaled returns C(q) × 10^CostScale rounded half-even, for a fast
// per_unit, graduated, volume or package function and q ≥ 0.
func (f *costFn) scaled(q int64) u256 { return roundDiv(f.numerator(q), f.den) }

// roundDiv returns n / d rounded half-even.
func roundDiv(n u256, d uint64) u256 {
	if d == 1 {
		return n
	}
	q, r := divmod64(n, d)
	if r != 0 {
		h := d - r // r > d − r: above one half; equal: a tie
		if r > h || (r == h && q[0]&1 == 1) {
			q = add256(q, u256{1})
		}
	}
	return q
}

// below128 reports whether x < 2¹²⁸.
func below128(x u256) bool { return x[2]|x[3] == 0 }

// scaleOf returns the s a price needs: how many places its fraction goes
// beyond CostScale. Zero prices need none.
func scaleOf(d decimal.Decimal) int64 {
	if d.Sign() == 0 {
		return 0
	}
	return max(0, -(int64(d.Exponent()) + CostScale))
}

// denominator returns unit × 10^s, if it fits in 64 bits.
func denominator(unit uint64, s int64) (uint64, bool) {
	if s >= int64(len(pow10u64)) {
		return 0, false
	}
	hi, lo := bits.Mul64(unit, pow10u64[s])
	return lo, hi == 0
}

// scaledPrice returns d × 10^(CostScale+s) for a non-negative d with at
// most CostScale+s fraction digits, if it fits in 256 bits.
func scaledPrice(d decimal.Decimal, s int64) (u256, bool) {
	var x u256
	switch d.Sign() {
	case 0:
		return x, true
	case -1:
		return x, false
	}
	if !x.setBig(d.Coefficient()) {
		return x, false
	}
	k := int64(d.Exponent()) + CostScale + s
	if k < 0 {
		return x, false // cannot happen: s is at least scaleOf(d)
	}
	return mulPow10(x, k)
}

// scaledDecimal returns the decimal x × 10^−CostScale, x in two's
// complement, with its trailing fraction zeros dropped: the form trim
// gives (an integer has exponent 0, zero is decimal.Zero).
func scaledDecimal(x u256) decimal.Decimal {
	neg := x.negative()
	if neg {
		x = neg256(x)
	}
	if x.isZero() {
		return decimal.Zero
	}
	var coef u256
	var exp int32
	q1, r1 := divmod64(x, pow10u64[19])
	if r1 == 0 {
		q2, r2 := divmod64(q1, 10)
		if r2 == 0 {
			coef, exp = q2, 0 // an integer
		} else {
			coef, exp = q1, -1
		}
	} else {
		t := 0 // the trailing zeros of x, which are r1's: at most 18
		for r1%10 == 0 {
			r1 /= 10
			t++
		}
		coef, _ = mulAdd256(q1, pow10u64[19-t], r1) // x / 10^t
		exp = int32(t) - CostScale
	}
	if coef.fitsInt64() {
		c := int64(coef[0])
		if neg {
			c = -c
		}
		return decimal.New(c, exp)
	}
	return decimal.NewFromBigInt(coef.big(neg), exp)
}

// bigScaledDecimal is scaledDecimal for any big integer.
func bigScaledDecimal(x *big.Int) decimal.Decimal {
	var u u256
	if x.Sign() >= 0 && u.setBig(x) && !u.negative() {
		return scaledDecimal(u)
	}
	if x.Sign() < 0 {
		m := new(big.Int).Neg(x)
		if u.setBig(m) && !u.negative() {
			return scaledDecimal(neg256(u))
		}
	}
	return trim(decimal.NewFromBigInt(x, -CostScale))
}

// A bigTerm is one summand of a cost: price × n, divided by the price's
// Unit when perUnit.
type bigTerm struct {
	price   decimal.Decimal
	n       int64
	perUnit bool
}

// generalScaled returns C(q) × 10^CostScale rounded half-even, computed
// with math/big for any price (negative prices and units, tiers in any
// order: what the exact big.Rat code computed), whether C(q) is exactly
// zero, and false when C is not defined at q.
func generalScaled(p *abacus.Price, q int64) (*big.Int, bool, bool) {
	var terms []bigTerm
	switch p.Model {
	case abacus.ModelPerUnit:
		terms = append(terms, bigTerm{p.UnitPrice, q, true})
	case abacus.ModelGraduated:
		lower := int64(0)
		for _, t := range p.Tiers {
			if q <= lower {
				break
			}
			upper := q
			if t.UpTo != 0 && t.UpTo < q {
				upper = t.UpTo
			}
			terms = append(terms, bigTerm{t.UnitPrice, upper - lower, true}, bigTerm{t.FlatFee, 1, false})
			if t.UpTo == 0 {
				break
			}
			lower = t.UpTo
		}
	case abacus.ModelVolume:
		if q != 0 {
			found := false
			for _, t := range p.Tiers {
				if t.UpTo == 0 || q <= t.UpTo {
					terms = append(terms, bigTerm{t.UnitPrice, q, true}, bigTerm{t.FlatFee, 1, false})
					found = true
					break
				}
			}
			if !found {
				return nil, false, false // no unbounded last tier: Validate refuses such prices
			}
		}
	case abacus.ModelPackage:
		if p.Package < 1 {
			return nil, false, false
		}
		n := q / p.Package
		if q%p.Package != 0 {
			n++
		}
		terms = append(terms, bigTerm{p.UnitPrice, n, false})
	default:
		return nil, false, false
	}
	x, zero := roundedSum(p.Unit, terms)
	return x, zero, true
}

// roundedSum returns Σ terms × 10^CostScale, rounded half-even, and
// whether the exact sum is zero.
func roundedSum(unit int64, terms []bigTerm) (*big.Int, bool) {
	if unit == 0 {
		unit = 1
	}
	s := int64(0)
	for _, t := range terms {
		s = max(s, scaleOf(t.price))
	}
	absUnit := new(big.Int).Abs(big.NewInt(unit))
	den := new(big.Int).Mul(absUnit, bigPow10(s))
	num := new(big.Int)
	var x big.Int
	for _, t := range terms {
		if t.price.Sign() == 0 || t.n == 0 {
			continue
		}
		x.Mul(t.price.Coefficient(), big.NewInt(t.n))
		x.Mul(&x, bigPow10(int64(t.price.Exponent())+CostScale+s))
		if !t.perUnit {
			x.Mul(&x, absUnit)
		} else if unit < 0 {
			x.Neg(&x)
		}
		num.Add(num, &x)
	}
	if num.Sign() == 0 {
		return num, true
	}
	quo, rem := new(big.Int).QuoRem(num, den, new(big.Int)) // truncated toward zero
	if rem.Sign() != 0 {
		twice := rem.Abs(rem)
		twice.Lsh(twice, 1)
		c := twice.Cmp(den)
		if c > 0 || (c == 0 && quo.Bit(0) == 1) {
			quo.Add(quo, big.NewInt(int64(num.Sign())))
		}
	}
	return quo, false
}

// generalTerm returns price × n / unit × 10^CostScale rounded half-even
// (a per-unit or burst line outside the fast path).
func generalTerm(price decimal.Decimal, n, unit int64) *big.Int {
	x, _ := roundedSum(unit, []bigTerm{{price, n, true}})
	return x
}

// trim drops trailing fraction zeros, so costs print and compare simply.
func trim(d decimal.Decimal) decimal.Decimal {
	exp := d.Exponent()
	if exp >= 0 {
		return d
	}
	c := d.Coefficient()
	if c.Sign() == 0 {
		return decimal.Zero
	}
	digits := c.Text(10)
	z := int32(len(digits) - len(strings.TrimRight(digits, "0")))
	z = min(z, -exp)
	if z == 0 {
		return d
	}
	return decimal.NewFromBigInt(c.Quo(c, bigPow10(int64(z))), exp+z)
}

var pow10s = func() []*big.Int {
	p := make([]*big.Int, 2*CostScale+1)
	for i := range p {
		p[i] = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(i)), nil)
	}
	return p
}()

// bigPow10 returns 10^n, n ≥ 0. The result may be shared: do not modify it.
func bigPow10(n int64) *big.Int {
	if n < int64(len(pow10s)) {
		return pow10s[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
}
