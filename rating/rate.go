package rating

import (
	"fmt"
	"math"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

// Counter names a per-account, per-billing-period usage counter: the
// quantity an account used under one key and currency in one calendar
// month (UTC). Graduated, volume and package prices need one; per-unit and
// burst prices do not. Counter is comparable and can key a map.
type Counter struct {
	Account  abacus.AccountID
	Key      Key
	Currency abacus.Currency
	Period   time.Time // the first instant of the month, UTC
}

// PeriodOf returns the billing period t falls in: the first instant of its
// calendar month in UTC.
func PeriodOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Rating is the price of one event.
type Rating struct {
	// Unpriced is set when some component had no price valid at the
	// event's time (or a burst price lacked the level in force). Then
	// Cost is zero, Lines is empty, nothing is to be counted, and Reason
	// says what was missing.
	Unpriced bool
	Reason   string

	// Cost is the sum of the lines, discounts applied. It is exact (see
	// the package documentation) and may be negative: a volume price's
	// step down to a cheaper tier credits the period's earlier usage.
	Cost  decimal.Decimal
	Lines []Line

	// Uncommitted is set when any line is (see Line.Uncommitted).
	Uncommitted bool
}

// Line is the price of one component of an event.
type Line struct {
	Key     Key
	PriceID int64 // the price version used

	// Counter is the usage counter the line was priced against, or nil
	// (per_unit and burst). After rating, the engine adds Quantity to it.
	Counter *Counter

	// Quantity is the number of base units billed: the component's
	// quantity, times the declared count for a stub licence, zero for an
	// instance licence whose server is not running.
	Quantity int64

	Cost        decimal.Decimal // RegularCost less the discount; exact
	RegularCost decimal.Decimal // before the discount (CSGHub regular_value)
	Discount    decimal.Decimal // the fraction taken off, 0 ≤ Discount < 1
	Level       int             // burst prices: the level used; 0 otherwise

	// Uncommitted flags usage of a licence that is not burstable (it
	// requires a subscription) by an account with no commitment active
	// at the event's time. The line is charged normally all the same.
	Uncommitted bool
}

// Rate prices one event for an account whose currency is cur.
//
// used(c) must return the quantity counted so far in counter c (zero for a
// counter never seen). The engine keeps the counters and, once it has
// accepted the rating, adds each line's Quantity to its Counter (lines
// without one are not counted). Lines of one event that share a counter
// see each other's quantity. Rate calls used only for lines that need a
// counter, and never changes anything itself.
//
// If any component has no price valid at the event's time, the result is
// Unpriced and nothing is to be counted. Errors (*abacus.Error) are for
// events that cannot be rated as they are: malformed extra fields, a
// missing stub licence count, a quantity that overflows.
func (b *Book) Rate(e *abacus.UsageEvent, cur abacus.Currency, used func(Counter) int64) (Rating, error) {
	extra, err := parseExtra(e.Extra)
	if err != nil {
		return Rating{}, err
	}
	comps, err := components(e, extra)
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
		if lic := p.License; lic != nil {
			switch lic.Type {
			case LicenseInstance:
				running, set, err := extraBool(extra, ExtraRunning)
				if err != nil {
					return Rating{}, err
				}
				if set && !running {
					l.Quantity = 0
				}
			case LicenseStub:
				n, set, err := extraInt(extra, lic.UserMetric)
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
					return Rating{}, abacus.Errorf(abacus.CodeOverflow, "value", "%d × %s %d does not fit in 64 bits", l.Quantity, lic.UserMetric, n)
				}
				l.Quantity *= n
			}
			l.Uncommitted = !lic.Burstable && months == 0
		}
		switch p.Model {
		case abacus.ModelPerUnit:
			l.RegularCost = roundRat(perUnits(p.UnitPrice, bigInt(l.Quantity), p.Unit))
		case abacus.ModelBurst:
			l.Level = b.Level(comp.Key.ResourceID, t)
			price, ok := levelPrice(p, l.Level)
			if !ok {
				return unpriced(fmt.Sprintf("the %s price %d for %s has no burst level %d", cur, p.ID, comp.Key, l.Level)), nil
			}
			l.RegularCost = roundRat(perUnits(price, bigInt(l.Quantity), p.Unit))
		case abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage:
			c := Counter{Account: e.Account, Key: comp.Key, Currency: cur, Period: PeriodOf(t)}
			if used == nil {
				return Rating{}, abacus.Errorf(abacus.CodeInternal, "counter", "price %d (%s) needs the usage counter, and Rate was given none", p.ID, p.Model)
			}
			q := used(c)
			if q < 0 {
				return Rating{}, abacus.Errorf(abacus.CodeInternal, "counter", "the usage counter of %s is negative (%d)", comp.Key, q)
			}
			if q > math.MaxInt64-pending[c] {
				return Rating{}, abacus.Errorf(abacus.CodeOverflow, "value", "the usage counter of %s overflows", comp.Key)
			}
			q += pending[c]
			if l.Quantity > math.MaxInt64-q {
				return Rating{}, abacus.Errorf(abacus.CodeOverflow, "value", "the usage counter of %s overflows", comp.Key)
			}
			before, _ := Cumulative(p, q)
			after, _ := Cumulative(p, q+l.Quantity)
			l.RegularCost = trim(after.Sub(before))
			pending[c] += l.Quantity
			l.Counter = &c
		default:
			return Rating{}, abacus.Errorf(abacus.CodeInternal, "model", "price %d has unknown model %q", p.ID, p.Model)
		}
		l.Cost = l.RegularCost
		if f := DiscountFor(p, months); f.Sign() > 0 {
			l.Discount = f
			l.Cost = trim(l.RegularCost.Sub(l.RegularCost.Mul(f)))
		}
		r.Cost = r.Cost.Add(l.Cost)
		r.Uncommitted = r.Uncommitted || l.Uncommitted
		r.Lines = append(r.Lines, l)
	}
	r.Cost = trim(r.Cost)
	return r, nil
}

func unpriced(reason string) Rating {
	return Rating{Unpriced: true, Reason: reason, Cost: decimal.Zero}
}
