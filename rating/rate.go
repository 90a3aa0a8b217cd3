package rating

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/billing"
	"github.com/shopspring/decimal"
)

// Counter names a per-account, per-billing-period usage counter: the
// quantity an account used under one key and currency in one billing
// month (the calendar month of the book's zone). Graduated, volume and
// package prices need one; per-unit and burst prices do not. Counter is
// comparable and can key a map.
type Counter struct {
	Account  abacus.AccountID
	Key      Key
	Currency abacus.Currency
	Period   time.Time // the first instant of the billing month, UTC
}

// Month returns the billing month t falls in: the calendar month of zone
// (nil: UTC), from its first instant to the next month's, as UTC
// instants. Its bounds follow the rule of billing.Periods, so that a
// statement by month in zone has exactly the tier months' usage.
func Month(t time.Time, zone *time.Location) (start, end time.Time) {
	if zone == nil || zone == time.UTC {
		t = t.UTC()
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	p := billing.Within(t, billing.Month, zone)
	return p.Start.UTC(), p.End.UTC()
}

// SameMonths says whether zones a and b begin every month from 1970 to
// 2200 at the same instant: two names of one zone (PRC and Asia/Shanghai,
// Etc/UTC and UTC), or zones whose clocks differ only within months.
func SameMonths(a, b *time.Location) bool {
	if a.String() == b.String() {
		return true
	}
	t, _ := Month(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), a)
	for last := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(last); {
		_, next := Month(t, a)
		if s, e := Month(t, b); !s.Equal(t) || !e.Equal(next) {
			return false
		}
		t = next
	}
	return true
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

	// Field is the event's field the line's cost grows with, which an
	// error about that cost names: "value", or in a token split the count
	// in extra it prices ("extra.prompt_token_num"), or
	// "extra.prompt_token_cache_num" where the cached tokens are the larger
	// part of the cost.
	Field string
}

// Field names the event's field that a refusal of the rating's whole
// cost (one too large for an amount) is about: that of the line costing
// the most, either way from zero. In a token split it is not "value",
// which the split leaves unpriced.
func (r Rating) Field() string {
	if len(r.Lines) == 0 {
		return "value"
	}
	most := r.Lines[0]
	for _, l := range r.Lines[1:] {
		if l.Cost.Abs().Cmp(most.Cost.Abs()) > 0 {
			most = l
		}
	}
	return most.Field
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
	return b.rate(e, cur, used, nil, false)
}

// Lacks says what keeps e from being priced in cur, "" if nothing does:
// the price an unpriced event waits for, or why it cannot be rated. The
// usage counted so far does not decide whether an event has a price, so it
// rates as though none were.
func (b *Book) Lacks(e *abacus.UsageEvent, cur abacus.Currency) string {
	r, err := b.Rate(e, cur, func(Counter) int64 { return 0 })
	switch {
	case err != nil:
		return err.Error()
	case r.Unpriced:
		return r.Reason
	}
	return ""
}

// RateIncoming rates an event coming in as Rate does, and also refuses
// one whose extra holds a key rating reads in another case
// ("PROMPT_TOKEN_NUM", see caseVariant), and a token event whose extra's
// prompt and completion tokens do not add up to its value (see
// splitMatchesValue). Events stored before those rules are rated again
// (voided, repriced, rerated) with Rate, as they were charged: refused,
// they could never be.
func (b *Book) RateIncoming(e *abacus.UsageEvent, cur abacus.Currency, used func(Counter) int64) (Rating, error) {
	return b.rate(e, cur, used, nil, true)
}

// NamedFit says whether ids, a stored event's PriceIDs, are exactly the
// versions that price e's components, in cur: each component has one of
// them for its key, and each of them prices a component. It reads only
// what keys depend on, not burst levels, licences or commitments, so it
// holds for every event charged so, whatever it cost.
func (b *Book) NamedFit(e *abacus.UsageEvent, cur abacus.Currency, ids []int64) error {
	var extraBuf [8]extraField
	extra, err := parseExtra(e.Extra, extraBuf[:0])
	if err != nil {
		return err
	}
	var compBuf [2]Component
	comps, _, err := components(e, extra, compBuf[:0])
	if err != nil {
		return err
	}
	used := make([]bool, len(ids))
	for _, comp := range comps {
		v, ok := b.named(comp.Key, cur, ids)
		if !ok {
			return fmt.Errorf("none of its versions %v prices %s in %s", ids, comp.Key, cur)
		}
		for i, id := range ids {
			used[i] = used[i] || id == v.price.ID
		}
	}
	for i, id := range ids {
		if !used[i] {
			return fmt.Errorf("its version %d prices none of its parts", id)
		}
	}
	return nil
}

// RateWith rates e as Rate does, but with the price versions ids (a
// stored event's PriceIDs) instead of those in force at its time: what
// the event cost at the prices it was charged, whatever has corrected
// them since. A component none of ids prices is Unpriced.
func (b *Book) RateWith(e *abacus.UsageEvent, cur abacus.Currency, used func(Counter) int64, ids []int64) (Rating, error) {
	if len(ids) == 0 {
		return unpriced("the event names no price version"), nil
	}
	return b.rate(e, cur, used, ids, false)
}

func (b *Book) rate(e *abacus.UsageEvent, cur abacus.Currency, used func(Counter) int64, ids []int64, strict bool) (Rating, error) {
	var extraBuf [8]extraField
	extra, err := parseExtra(e.Extra, extraBuf[:0])
	if err != nil {
		return Rating{}, err
	}
	if strict {
		if err := extra.caseVariant(readKeys...); err != nil {
			return Rating{}, err
		}
		// A key of the price, held to the rules of the event's own keys
		// (QA: "minute" and a CR was stored unpriced, and printed raw).
		if raw, ok := extra.get(ExtraSKUUnitType); ok && !isNull(raw) {
			var unit string
			if json.Unmarshal([]byte(raw), &unit) == nil {
				if err := abacus.CheckKeyText("extra."+ExtraSKUUnitType, unit); err != nil {
					return Rating{}, err
				}
			}
		}
	}
	var compBuf [2]Component
	comps, split, err := components(e, extra, compBuf[:0])
	if err != nil {
		return Rating{}, err
	}
	if strict && split {
		if err := splitMatchesValue(e, comps); err != nil {
			return Rating{}, err
		}
	}
	t := e.Time
	months := 0
	if c, ok := b.Commitment(e.Account, t); ok {
		months = c.Months
	}
	r := Rating{Cost: decimal.Zero, Lines: make([]Line, 0, len(comps))}
	var pendBuf [2]pendingUse
	pending := pendBuf[:0] // the quantities of this event's earlier lines, by counter
	// sum is the total × 10^CostScale while every line is a value of the
	// fast path without a discount (fast).
	var sum u256
	fast := true
	for _, comp := range comps {
		var v *version
		var ok bool
		if ids == nil {
			v, ok = b.version(comp.Key, cur, t)
		} else {
			v, ok = b.named(comp.Key, cur, ids)
		}
		if !ok {
			why := fmt.Sprintf("no %s price for %s valid at %s", cur, comp.Key, t.UTC().Format(time.RFC3339Nano))
			if comp.Key.ResourceID == "" {
				// Stored before events had to name one (QA).
				why += ", and none can be written for an empty resource_id: void the event"
			}
			return unpriced(why), nil
		}
		p, fn := v.price, &v.cost
		l := Line{Key: comp.Key, PriceID: p.ID, Quantity: comp.Quantity, Discount: decimal.Zero, Field: quantityField(comp, split)}
		cached := comp.Cached
		if lic := p.License; lic != nil {
			if strict && lic.UserMetric != "" {
				if err := extra.caseVariant(lic.UserMetric); err != nil {
					return Rating{}, err
				}
			}
			if l.Quantity, err = licensed(lic, extra, l.Quantity, l.Field); err != nil {
				return Rating{}, err
			}
			cached, _ = licensed(lic, extra, cached, l.Field) // as many times as the rest, or none: it cannot fail where the line did not
			// A stopped instance, or a stub of no count, bills nothing of the
			// licence: nothing to follow up (QA: such events crowded the list).
			l.Uncommitted = !lic.Burstable && months == 0 && l.Quantity > 0
		}
		var x u256 // the line's cost × 10^CostScale, on the fast path
		lineFast := fn.fast
		switch p.Model {
		case abacus.ModelPerUnit:
			if cached > 0 && p.CachedPrice.Valid {
				// One exact sum, rounded once: the tokens from the cache at
				// their price, the others at the price.
				sum, _ := roundedSum(p.Unit, []bigTerm{{p.UnitPrice, l.Quantity - cached, true}, {p.CachedPrice.Decimal, cached, true}})
				l.RegularCost, lineFast = bigScaledDecimal(sum), false
				if p.CachedPrice.Decimal.Mul(decimal.NewFromInt(cached)).Cmp(p.UnitPrice.Mul(decimal.NewFromInt(l.Quantity-cached))) > 0 {
					l.Field = "extra." + ExtraCachedTokens
				}
			} else if lineFast {
				x = fn.scaled(l.Quantity)
				l.RegularCost = scaledDecimal(x)
			} else {
				l.RegularCost = bigScaledDecimal(generalTerm(p.UnitPrice, l.Quantity, p.Unit))
			}
		case abacus.ModelBurst:
			l.Level = b.Level(comp.Key.ResourceID, t)
			i, ok := levelIndex(p, l.Level)
			if !ok {
				return unpriced(fmt.Sprintf("the %s price %d for %s has no burst level %d", cur, p.ID, comp.Key, l.Level)), nil
			}
			if lineFast {
				lv := &fn.levels[i]
				x = roundDiv(mul128x64(lv.a, uint64(l.Quantity)), lv.den)
				l.RegularCost = scaledDecimal(x)
			} else {
				l.RegularCost = bigScaledDecimal(generalTerm(p.Levels[i].UnitPrice, l.Quantity, p.Unit))
			}
		case abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage:
			c := Counter{Account: e.Account, Key: comp.Key, Currency: cur, Period: b.PeriodOf(t)}
			if used == nil {
				return Rating{}, abacus.Errorf(abacus.CodeInternal, "counter", "price %d (%s) needs the usage counter, and Rate was given none", p.ID, p.Model)
			}
			q := used(c)
			if q < 0 {
				return Rating{}, abacus.Errorf(abacus.CodeInternal, "counter", "the usage counter of %s is negative (%d)", comp.Key, q)
			}
			pend := pendingOf(pending, c)
			if q > math.MaxInt64-pend {
				return Rating{}, abacus.Errorf(abacus.CodeOverflow, l.Field, "the usage counter of %s overflows", comp.Key)
			}
			q += pend
			if l.Quantity > math.MaxInt64-q {
				return Rating{}, abacus.Errorf(abacus.CodeOverflow, l.Field, "the usage counter of %s overflows", comp.Key)
			}
			// C(q+v) − C(q), each value rounded: the increments telescope.
			if lineFast {
				x = sub256(fn.scaled(q+l.Quantity), fn.scaled(q))
				l.RegularCost = scaledDecimal(x)
			} else {
				before, _, _ := generalScaled(p, q)
				after, _, ok := generalScaled(p, q+l.Quantity)
				if !ok {
					after = new(big.Int)
				}
				if before != nil {
					after.Sub(after, before)
				}
				l.RegularCost = bigScaledDecimal(after)
			}
			pending = addPending(pending, c, l.Quantity)
			l.Counter = &c
		default:
			return Rating{}, abacus.Errorf(abacus.CodeInternal, "model", "price %d has unknown model %q", p.ID, p.Model)
		}
		l.Cost = l.RegularCost
		discountMonths := months
		if at := b.discountAt(p.Model, t); !at.Equal(t) {
			discountMonths = 0
			if c, ok := b.Commitment(e.Account, at); ok {
				discountMonths = c.Months
			}
		}
		if f := DiscountFor(p, discountMonths); f.Sign() > 0 {
			l.Discount = f
			l.Cost = trim(l.RegularCost.Sub(l.RegularCost.Mul(f)))
			lineFast = false
		}
		if fast = fast && lineFast; fast {
			sum = add256(sum, x)
		}
		r.Uncommitted = r.Uncommitted || l.Uncommitted
		r.Lines = append(r.Lines, l)
	}
	switch {
	case len(r.Lines) == 1:
		// Zero + the line, trimmed, is the line (a line is trimmed already).
		r.Cost = r.Lines[0].Cost
	case fast:
		r.Cost = scaledDecimal(sum)
	default:
		for _, l := range r.Lines {
			r.Cost = r.Cost.Add(l.Cost)
		}
		r.Cost = trim(r.Cost)
	}
	return r, nil
}

// pendingUse is the quantity an event's earlier lines add to a counter.
type pendingUse struct {
	c Counter
	q int64
}

func pendingOf(ps []pendingUse, c Counter) int64 {
	for _, p := range ps {
		if p.c == c {
			return p.q
		}
	}
	return 0
}

func addPending(ps []pendingUse, c Counter, q int64) []pendingUse {
	for i := range ps {
		if ps[i].c == c {
			ps[i].q += q
			return ps
		}
	}
	return append(ps, pendingUse{c, q})
}

func unpriced(reason string) Rating {
	return Rating{Unpriced: true, Reason: reason, Cost: decimal.Zero}
}

// licensed is the quantity a licence bills of q base units: none while an
// instance licence's server is stopped (extra.running false), q times the
// count a stub licence's customer declares in extra[UserMetric]. field
// names where q was read from, for a product too large.
func licensed(lic *abacus.License, extra extraFields, q int64, field string) (int64, error) {
	switch lic.Type {
	case LicenseInstance:
		running, set, err := extraBool(extra, ExtraRunning)
		if err != nil {
			return 0, err
		}
		if set && !running {
			return 0, nil
		}
	case LicenseStub:
		n, set, err := extraInt(extra, lic.UserMetric)
		if err != nil {
			return 0, err
		}
		if !set {
			// Sent in another case, say so: an event stored unpriced is
			// judged by its licence only once a price comes (QA: rerate
			// said "is required" of a count sent as SEATS).
			if err := extra.caseVariant(lic.UserMetric); err != nil {
				return 0, err
			}
			return 0, abacus.Errorf(abacus.CodeInvalid, "extra."+lic.UserMetric,
				"is required: licence %s is billed per declared %s", lic.Name, lic.UserMetric)
		}
		if n < 0 {
			return 0, abacus.Errorf(abacus.CodeInvalid, "extra."+lic.UserMetric, "%d is negative", n)
		}
		if n != 0 && q > math.MaxInt64/n {
			return 0, abacus.Errorf(abacus.CodeOverflow, field, "%d × %s %d does not fit in 64 bits", q, lic.UserMetric, n)
		}
		return q * n, nil
	}
	return q, nil
}

// LicensedQuantities are the quantities e's components bill under every
// licence a version of their prices has for an account in cur: what of
// extra, beyond the components, may decide its price. Every version's, not
// only the one in force at its time: an event stored unpriced is charged
// by a version imported later. A repeat of an event whose extra differs
// only where no licence reads it prices the same. A licence's error (a
// stub's count missing) counts as a quantity of its own.
func (b *Book) LicensedQuantities(e *abacus.UsageEvent, cur abacus.Currency) ([]int64, error) {
	extra, err := parseExtra(e.Extra, nil)
	if err != nil {
		return nil, err
	}
	comps, split, err := components(e, extra, nil)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, c := range comps {
		for _, v := range b.prices[priceKey{c.Key, cur}] {
			if v.price.License == nil {
				continue
			}
			q, err := licensed(v.price.License, extra, c.Quantity, quantityField(c, split))
			if err != nil {
				q = -1 // none bills a negative quantity
			}
			out = append(out, q)
		}
	}
	return out, nil
}

// splitMatchesValue refuses a token event whose prompt and completion
// tokens (extra's split, which prices it) do not add up to its value
// (what its rollups and statements count): CSGHub's AI gateway sends the
// total as the value, and an event that says otherwise would be charged
// for tokens its statements do not show, or show tokens it was not
// charged for (QA: value 0 with 100 tokens in extra was charged for 100
// and counted as 0). Which the producer meant is not abacus's to guess.
func splitMatchesValue(e *abacus.UsageEvent, comps []Component) error {
	var total int64
	for _, c := range comps {
		if c.Quantity > math.MaxInt64-total {
			total = -1 // more than any value
			break
		}
		total += c.Quantity
	}
	if total == e.Value {
		return nil
	}
	sum := fmt.Sprint(total)
	if total < 0 {
		sum = "more than 64 bits hold"
	}
	return abacus.Errorf(abacus.CodeInvalid, "value", "is %d tokens, but extra's %s and %s add up to %s: a token event's value is its prompt and completion tokens together",
		e.Value, ExtraPromptTokens, ExtraCompletionTokens, sum)
}
