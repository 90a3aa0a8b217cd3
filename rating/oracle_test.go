package rating

// The exact math/big.Rat implementation of the cost functions and of Rate
// as they were before the integer fast path, kept as the oracle that the
// differential tests compare the fast code with, digit for digit.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

// oldCumulative is the former Cumulative.
func oldCumulative(p *abacus.Price, q int64) (decimal.Decimal, bool) {
	if q < 0 {
		return decimal.Zero, false
	}
	r, ok := oldCumulativeRat(p, q)
	if !ok {
		return decimal.Zero, false
	}
	return oldRoundRat(r), true
}

func oldBigInt(n int64) *big.Int { return new(big.Int).SetInt64(n) }

// oldCumulativeRat returns C(q) exactly.
func oldCumulativeRat(p *abacus.Price, q int64) (*big.Rat, bool) {
	bq := new(big.Int).SetInt64(q)
	switch p.Model {
	case abacus.ModelPerUnit:
		return oldPerUnits(p.UnitPrice, bq, p.Unit), true
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
			sum.Add(sum, oldPerUnits(t.UnitPrice, new(big.Int).SetInt64(upper-lower), p.Unit))
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
				r := oldPerUnits(t.UnitPrice, bq, p.Unit)
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

// oldPerUnits returns price × n / unit exactly.
func oldPerUnits(price decimal.Decimal, n *big.Int, unit int64) *big.Rat {
	r := price.Rat()
	r.Mul(r, new(big.Rat).SetInt(n))
	if unit != 1 && unit != 0 {
		r.Quo(r, new(big.Rat).SetInt64(unit))
	}
	return r
}

// oldRoundRat rounds r half-even to CostScale places.
func oldRoundRat(r *big.Rat) decimal.Decimal {
	if r.IsInt() {
		return decimal.NewFromBigInt(new(big.Int).Set(r.Num()), 0)
	}
	num := new(big.Int).Mul(r.Num(), oldPow10(CostScale))
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
	return oldTrim(decimal.NewFromBigInt(q, -CostScale))
}

// trim drops trailing fraction zeros, so costs print and compare simply.
func oldTrim(d decimal.Decimal) decimal.Decimal {
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
	return decimal.NewFromBigInt(c.Quo(c, oldPow10(z)), exp+z)
}

var oldPow10s = func() []*big.Int {
	p := make([]*big.Int, CostScale+1)
	for i := range p {
		p[i] = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(i)), nil)
	}
	return p
}()

func oldPow10(n int32) *big.Int {
	if int(n) < len(oldPow10s) {
		return oldPow10s[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// oldRate is the former Book.Rate, on the old cost functions.
func oldRate(b *Book, e *abacus.UsageEvent, cur abacus.Currency, used func(Counter) int64) (Rating, error) {
	extra, err := oldParseExtra(e.Extra)
	if err != nil {
		return Rating{}, err
	}
	comps, err := oldComponents(e, extra)
	if err != nil {
		return Rating{}, err
	}
	t := e.Time
	months := 0
	if c, ok := b.Commitment(e.Account, t); ok {
		months = c.Months
	}
	r := Rating{Cost: decimal.Zero}
	pending := map[Counter]int64{}
	for _, comp := range comps {
		p, ok := b.Price(comp.Key, cur, t)
		if !ok {
			return unpriced(fmt.Sprintf("no %s price for %s valid at %s", cur, comp.Key, t.UTC().Format(time.RFC3339Nano))), nil
		}
		l := Line{Key: comp.Key, PriceID: p.ID, Quantity: comp.Quantity, Discount: decimal.Zero}
		field := oldQuantityField(e, extra, comp)
		if lic := p.License; lic != nil {
			switch lic.Type {
			case LicenseInstance:
				running, set, err := oldExtraBool(extra, ExtraRunning)
				if err != nil {
					return Rating{}, err
				}
				if set && !running {
					l.Quantity = 0
				}
			case LicenseStub:
				n, set, err := oldExtraInt(extra, lic.UserMetric)
				if err != nil {
					return Rating{}, err
				}
				if !set {
					return Rating{}, abacus.Errorf(abacus.CodeInvalid, "extra."+lic.UserMetric,
						"is required: licence %s is billed per declared %s", lic.Name, lic.UserMetric)
				}
				if n < 0 {
					return Rating{}, abacus.Errorf(abacus.CodeInvalid, "extra."+lic.UserMetric, "%d is negative", n)
				}
				if n != 0 && l.Quantity > math.MaxInt64/n {
					return Rating{}, abacus.Errorf(abacus.CodeOverflow, field, "%d × %s %d does not fit in 64 bits", l.Quantity, lic.UserMetric, n)
				}
				l.Quantity *= n
			}
			l.Uncommitted = !lic.Burstable && months == 0 && l.Quantity > 0
		}
		switch p.Model {
		case abacus.ModelPerUnit:
			l.RegularCost = oldRoundRat(oldPerUnits(p.UnitPrice, oldBigInt(l.Quantity), p.Unit))
		case abacus.ModelBurst:
			l.Level = b.Level(comp.Key.ResourceID, t)
			price, ok := levelPrice(p, l.Level)
			if !ok {
				return unpriced(fmt.Sprintf("the %s price %d for %s has no burst level %d", cur, p.ID, comp.Key, l.Level)), nil
			}
			l.RegularCost = oldRoundRat(oldPerUnits(price, oldBigInt(l.Quantity), p.Unit))
		case abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage:
			c := Counter{Account: e.Account, Key: comp.Key, Currency: cur, Period: b.PeriodOf(t)}
			if used == nil {
				return Rating{}, abacus.Errorf(abacus.CodeInternal, "counter", "price %d (%s) needs the usage counter, and Rate was given none", p.ID, p.Model)
			}
			q := used(c)
			if q < 0 {
				return Rating{}, abacus.Errorf(abacus.CodeInternal, "counter", "the usage counter of %s is negative (%d)", comp.Key, q)
			}
			if q > math.MaxInt64-pending[c] {
				return Rating{}, abacus.Errorf(abacus.CodeOverflow, field, "the usage counter of %s overflows", comp.Key)
			}
			q += pending[c]
			if l.Quantity > math.MaxInt64-q {
				return Rating{}, abacus.Errorf(abacus.CodeOverflow, field, "the usage counter of %s overflows", comp.Key)
			}
			before, _ := oldCumulative(p, q)
			after, _ := oldCumulative(p, q+l.Quantity)
			l.RegularCost = oldTrim(after.Sub(before))
			pending[c] += l.Quantity
			l.Counter = &c
		default:
			return Rating{}, abacus.Errorf(abacus.CodeInternal, "model", "price %d has unknown model %q", p.ID, p.Model)
		}
		l.Cost = l.RegularCost
		discountMonths := months
		if p.Model == abacus.ModelVolume || p.Model == abacus.ModelGraduated || p.Model == abacus.ModelPackage { // the discount of the month's first instant
			discountMonths = 0
			if c, ok := b.Commitment(e.Account, b.PeriodOf(t)); ok {
				discountMonths = c.Months
			}
		}
		if f := DiscountFor(p, discountMonths); f.Sign() > 0 {
			l.Discount = f
			l.Cost = oldTrim(l.RegularCost.Sub(l.RegularCost.Mul(f)))
		}
		r.Cost = r.Cost.Add(l.Cost)
		r.Uncommitted = r.Uncommitted || l.Uncommitted
		r.Lines = append(r.Lines, l)
	}
	r.Cost = oldTrim(r.Cost)
	return r, nil
}

// levelPrice returns p's price at level.
func levelPrice(p *abacus.Price, level int) (decimal.Decimal, bool) {
	for _, l := range p.Levels {
		if l.Level == level {
			return l.UnitPrice, true
		}
	}
	return decimal.Zero, false
}

// The former parsing of extra, on encoding/json alone.

// oldQuantityField names the field an overflow of comp's quantity is
// about: its token count in extra where the event's tokens are split, as
// Rate names it since QA found value named for them (the former Rate named
// value throughout).
func oldQuantityField(e *abacus.UsageEvent, extra map[string]json.RawMessage, comp Component) string {
	_, kindSet, _ := oldExtraInt(extra, ExtraSKUKind)
	_, hasPrompt, _ := oldExtraInt(extra, ExtraPromptTokens)
	_, hasCompletion, _ := oldExtraInt(extra, ExtraCompletionTokens)
	switch {
	case e.ValueType != abacus.ValueTokens || kindSet || !hasPrompt && !hasCompletion:
		return "value"
	case comp.Key.SKUKind == KindCompletion:
		return "extra." + ExtraCompletionTokens
	}
	return "extra." + ExtraPromptTokens
}

func oldComponents(e *abacus.UsageEvent, extra map[string]json.RawMessage) ([]Component, error) {
	if e.Value < 0 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "value", "%d is negative", e.Value)
	}
	k := Key{SKUType: SKUTypeOfScene(e.Scene), ResourceID: e.ResourceID, UnitType: UnitTypeOfScene(e.Scene)}
	switch e.ValueType {
	case abacus.ValueDuration, abacus.ValueQuota:
		k.SKUKind = KindTime
	case abacus.ValueTokens:
		k.SKUKind = KindPrompt
	case abacus.ValueCount:
		k.SKUKind = KindMultimodalCompletion
	default:
		return nil, abacus.Errorf(abacus.CodeInvalid, "value_type", "%d is not one of 0 (duration), 1 (tokens), 2 (quota), 3 (count)", e.ValueType)
	}
	if v, ok, err := oldExtraInt(extra, ExtraSKUType); err != nil {
		return nil, err
	} else if ok {
		if v < 0 || v > math.MaxInt32 {
			return nil, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraSKUType, "%d is not a sku_type", v)
		}
		k.SKUType = int(v)
	}
	if raw, ok := extra[ExtraSKUUnitType]; ok && !oldIsNull(raw) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || strings.TrimSpace(s) == "" {
			return nil, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraSKUUnitType, "must be a non-empty string such as \"minute\"")
		}
		k.UnitType = s
	}
	kind, kindSet, err := oldExtraInt(extra, ExtraSKUKind)
	if err != nil {
		return nil, err
	}
	if kindSet {
		if kind < 1 || kind > math.MaxInt32 {
			return nil, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraSKUKind, "%d is not a sku_kind", kind)
		}
		k.SKUKind = int(kind)
		return []Component{{Key: k, Quantity: e.Value}}, nil
	}
	if e.ValueType != abacus.ValueTokens {
		return []Component{{Key: k, Quantity: e.Value}}, nil
	}
	prompt, hasPrompt, err := oldExtraInt(extra, ExtraPromptTokens)
	if err != nil {
		return nil, err
	}
	completion, hasCompletion, err := oldExtraInt(extra, ExtraCompletionTokens)
	if err != nil {
		return nil, err
	}
	if !hasPrompt && !hasCompletion {
		return []Component{{Key: k, Quantity: e.Value}}, nil
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{ExtraPromptTokens, prompt}, {ExtraCompletionTokens, completion}} {
		if f.v < 0 {
			return nil, abacus.Errorf(abacus.CodeInvalid, "extra."+f.name, "%d is negative", f.v)
		}
	}
	var out []Component
	if prompt > 0 || completion == 0 {
		out = append(out, Component{Key: k, Quantity: prompt})
	}
	if completion > 0 {
		c := k
		c.SKUKind = KindCompletion
		out = append(out, Component{Key: c, Quantity: completion})
	}
	return out, nil
}

// oldParseExtra reads an event's extra: empty, null or a JSON object.
func oldParseExtra(s string) (map[string]json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "extra", "is not a JSON object: %v", err)
	}
	return m, nil
}

func oldIsNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// extraInt reads extra[key] as an integer written as a JSON number or a
// string of digits ("12", 12). A missing key or null is (0, false, nil).
// Fractions, exponents and anything else are errors naming the field.
func oldExtraInt(extra map[string]json.RawMessage, key string) (int64, bool, error) {
	raw, ok := extra[key]
	if !ok || oldIsNull(raw) {
		return 0, false, nil
	}
	text := strings.TrimSpace(string(raw))
	if strings.HasPrefix(text, `"`) {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, false, abacus.Errorf(abacus.CodeInvalid, "extra."+key, "is not a string or an integer")
		}
		text = strings.TrimSpace(text)
	}
	if !isInteger(text) {
		return 0, false, abacus.Errorf(abacus.CodeInvalid, "extra."+key, "%s is not an integer", clip(text))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, false, abacus.Errorf(abacus.CodeOverflow, "extra."+key, "%s does not fit in 64 bits", clip(text))
	}
	return n, true, nil
}

// extraBool reads extra[key] as a JSON boolean or the string "true" or
// "false". A missing key or null is (false, false, nil).
func oldExtraBool(extra map[string]json.RawMessage, key string) (bool, bool, error) {
	raw, ok := extra[key]
	if !ok || oldIsNull(raw) {
		return false, false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, true, nil
	}
	shown := string(raw) // a string as its text, not quoted twice (QA)
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		shown = s
		switch s {
		case "true":
			return true, true, nil
		case "false":
			return false, true, nil
		}
	}
	return false, false, abacus.Errorf(abacus.CodeInvalid, "extra."+key, "%s is not true or false", clip(shown))
}
