package rating

import (
	"math/big"
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
	r, ok := cumulativeRat(p, q)
	if !ok {
		return decimal.Zero, false
	}
	return roundRat(r), true
}

// cumulativeRat returns C(q) exactly.
func cumulativeRat(p *abacus.Price, q int64) (*big.Rat, bool) {
	bq := new(big.Int).SetInt64(q)
	switch p.Model {
	case abacus.ModelPerUnit:
		return perUnits(p.UnitPrice, bq, p.Unit), true
	case abacus.ModelGraduated:
		sum := new(big.Rat)
		lower := int64(0)
		for _, t := range p.Tiers {
			if q <= lower {
				break
			}
			upper := q
			if t.UpTo != 0 && t.UpTo < q {
				upper = t.UpTo
			}
			sum.Add(sum, perUnits(t.UnitPrice, new(big.Int).SetInt64(upper-lower), p.Unit))
			sum.Add(sum, t.FlatFee.Rat())
			if t.UpTo == 0 {
				break
			}
			lower = t.UpTo
		}
		return sum, true
	case abacus.ModelVolume:
		if q == 0 {
			return new(big.Rat), true
		}
		for _, t := range p.Tiers {
			if t.UpTo == 0 || q <= t.UpTo {
				r := perUnits(t.UnitPrice, bq, p.Unit)
				return r.Add(r, t.FlatFee.Rat()), true
			}
		}
		return nil, false // no unbounded last tier: Validate refuses such prices
	case abacus.ModelPackage:
		if p.Package < 1 {
			return nil, false
		}
		n := q / p.Package
		if q%p.Package != 0 {
			n++
		}
		r := p.UnitPrice.Rat()
		return r.Mul(r, new(big.Rat).SetInt64(n)), true
	}
	return nil, false
}

// perUnits returns price × n / unit exactly.
func perUnits(price decimal.Decimal, n *big.Int, unit int64) *big.Rat {
	r := price.Rat()
	r.Mul(r, new(big.Rat).SetInt(n))
	if unit != 1 && unit != 0 {
		r.Quo(r, new(big.Rat).SetInt64(unit))
	}
	return r
}

// roundRat rounds r half-even to CostScale places.
func roundRat(r *big.Rat) decimal.Decimal {
	if r.IsInt() {
		return decimal.NewFromBigInt(new(big.Int).Set(r.Num()), 0)
	}
	num := new(big.Int).Mul(r.Num(), pow10(CostScale))
	den := r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int)) // truncated toward zero
	if m.Sign() != 0 {
		twice := new(big.Int).Abs(m)
		twice.Lsh(twice, 1)
		c := twice.Cmp(den)
		if c > 0 || (c == 0 && q.Bit(0) == 1) {
			if num.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return trim(decimal.NewFromBigInt(q, -CostScale))
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
	return decimal.NewFromBigInt(c.Quo(c, pow10(z)), exp+z)
}

var pow10s = func() []*big.Int {
	p := make([]*big.Int, CostScale+1)
	for i := range p {
		p[i] = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(i)), nil)
	}
	return p
}()

func pow10(n int32) *big.Int {
	if int(n) < len(pow10s) {
		return pow10s[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

func bigInt(n int64) *big.Int { return new(big.Int).SetInt64(n) }
