package rating

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/billing"
	"github.com/shopspring/decimal"
)

// Book is an immutable, indexed snapshot of the price book: every price
// version, the burst level history and the accounts' commitments. It is
// safe for concurrent use. Build a new Book when any of them changes.
type Book struct {
	prices      map[priceKey][]*version // in force from ValidFrom, ascending: the highest revision of each
	byID        map[int64]*version      // every version, superseded revisions too
	levels      map[string][]abacus.BurstLevel
	commitments map[abacus.AccountID][]abacus.Commitment
	zone        *time.Location // of the billing months
	// lastMonth is the billing month found last: several lookups an event
	// (its counters, carry, sums, discount) and the events of a batch
	// mostly fall in one month, which in a zone other than UTC takes the
	// rule of billing.Periods to find (~300 ns).
	lastMonth atomic.Pointer[monthSpan]
}

type monthSpan struct{ start, end time.Time }

// version is one price version with its cost function compiled.
type version struct {
	price *abacus.Price
	cost  costFn
}

type priceKey struct {
	Key
	Currency abacus.Currency
}

// NewBook checks and indexes a price book. Every price must pass
// [Validate]; two versions of one key and currency may share a ValidFrom
// only with different revisions, the highest of which is in force. Burst
// levels need a resource, a level ≥ 1 and a time; two records of one
// resource at one time must agree. Commitments need a valid account, Months ≥ 1 and From < Until.
// The inputs are copied: later changes to them do not reach the Book.
// Errors are *abacus.Error naming the element ("prices[3].tiers[1].up_to").
// zone (nil: UTC) is the billing months' (see Month).
func NewBook(zone *time.Location, prices []abacus.Price, levels []abacus.BurstLevel, commitments []abacus.Commitment) (*Book, error) {
	if zone == nil {
		zone = time.UTC
	}
	b := &Book{
		zone:        zone,
		prices:      make(map[priceKey][]*version),
		byID:        make(map[int64]*version),
		levels:      make(map[string][]abacus.BurstLevel),
		commitments: make(map[abacus.AccountID][]abacus.Commitment),
	}
	for i := range prices {
		p := clonePrice(&prices[i])
		if err := Validate(p); err != nil {
			return nil, abacus.WithField(err, fmt.Sprintf("prices[%d]", i))
		}
		k := priceKey{KeyOf(p), p.Currency}
		v := &version{price: p, cost: compile(p, nil)}
		b.prices[k] = append(b.prices[k], v)
		if p.ID != 0 {
			b.byID[p.ID] = v
		}
	}
	for k, vs := range b.prices {
		sort.SliceStable(vs, func(i, j int) bool {
			x, y := vs[i].price, vs[j].price
			return x.ValidFrom.Before(y.ValidFrom) || x.ValidFrom.Equal(y.ValidFrom) && x.Revision < y.Revision
		})
		inForce := vs[:0]
		for i, v := range vs {
			if i+1 < len(vs) && vs[i+1].price.ValidFrom.Equal(v.price.ValidFrom) {
				if vs[i+1].price.Revision == v.price.Revision {
					return nil, abacus.Errorf(abacus.CodeConflict, "prices", "two %s prices for %s are valid from %s in revision %d",
						k.Currency, k.Key, v.price.ValidFrom.UTC().Format(time.RFC3339Nano), v.price.Revision)
				}
				continue // superseded by the next revision
			}
			inForce = append(inForce, v)
		}
		b.prices[k] = inForce
	}
	for i, l := range levels {
		field := fmt.Sprintf("burst_levels[%d]", i)
		switch {
		case l.Resource == "":
			return nil, abacus.Errorf(abacus.CodeInvalid, field+".resource", "is required")
		case l.Level < 1:
			return nil, abacus.Errorf(abacus.CodeInvalid, field+".level", "%d is not a burst level (levels start at 1; 0 is the subscription price)", l.Level)
		case l.EffectiveFrom.IsZero():
			return nil, abacus.Errorf(abacus.CodeInvalid, field+".effective_from", "is required")
		}
		b.levels[l.Resource] = append(b.levels[l.Resource], l)
	}
	for r, ls := range b.levels {
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].EffectiveFrom.Before(ls[j].EffectiveFrom) })
		out := ls[:1]
		for _, l := range ls[1:] {
			last := out[len(out)-1]
			if l.EffectiveFrom.Equal(last.EffectiveFrom) {
				if l.Level != last.Level {
					return nil, abacus.Errorf(abacus.CodeConflict, "burst_levels", "resource %q has levels %d and %d from %s",
						r, last.Level, l.Level, l.EffectiveFrom.UTC().Format(time.RFC3339Nano))
				}
				continue
			}
			out = append(out, l)
		}
		b.levels[r] = out
	}
	for i, c := range commitments {
		if err := validateCommitment(&c); err != nil {
			return nil, abacus.WithField(err, fmt.Sprintf("commitments[%d]", i))
		}
		b.commitments[c.Account] = append(b.commitments[c.Account], c)
	}
	return b, nil
}

func validateCommitment(c *abacus.Commitment) error {
	acct, err := abacus.ParseCustomerID(string(c.Account))
	if err != nil {
		return abacus.RenameField(err, "account")
	}
	c.Account = acct
	switch {
	case c.Months < 1:
		return abacus.Errorf(abacus.CodeInvalid, "months", "%d is not a number of months (at least 1)", c.Months)
	case c.From.IsZero():
		return abacus.Errorf(abacus.CodeInvalid, "from", "is required")
	case c.Until.IsZero():
		return abacus.Errorf(abacus.CodeInvalid, "until", "is required")
	case !c.From.Before(c.Until):
		return abacus.Errorf(abacus.CodeInvalid, "until", "must be after from (%s)", c.From.Format(time.RFC3339Nano))
	case !c.Ended.IsZero() && c.Ended.Equal(c.From):
		return abacus.Errorf(abacus.CodeInvalid, "ended", "must be after from (%s): a commitment ended at its start never was", c.From.Format(time.RFC3339Nano))
	case !c.Ended.IsZero() && c.Ended.Before(c.From):
		return abacus.Errorf(abacus.CodeInvalid, "ended", "is before from (%s): a commitment ends after it starts", c.From.Format(time.RFC3339Nano))
	case c.Ended.After(c.Until):
		return abacus.Errorf(abacus.CodeInvalid, "ended", "is after until (%s): a commitment ends by its term's end at the latest (give until itself to undo an early end)", c.Until.Format(time.RFC3339Nano))
	}
	return nil
}

// CheckCommitmentTerms refuses, of commitments coming in, one whose span
// is not its months: the months are the term its discounts reward, and 36
// months ending after one had earned a 36-month discount for a month (QA).
// Until is the same day and time that many months after from, or the
// month's last day where it has no such day, give or take a day and an
// hour: a clock change between, or an until written as the last day in.
// Only commitments coming in are checked, not those of a term stored
// (whose end a file moves): a book stored before the rule must still
// load, and a file that holds its commitments import again. Errors name
// commitments[i], i counting in commitments.
func CheckCommitmentTerms(commitments []abacus.Commitment, stored Terms) error {
	for i, c := range commitments {
		if stored.Hold(&c) {
			continue
		}
		if c.Months > maxCommitmentMonths {
			return abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("commitments[%d].months", i), "%d is more than %d (a hundred years)", c.Months, maxCommitmentMonths)
		}
		y, m, d := c.From.Date()
		first := time.Date(y, m+time.Month(c.Months), 1, c.From.Hour(), c.From.Minute(), c.From.Second(), c.From.Nanosecond(), c.From.Location())
		end := first.AddDate(0, 0, min(d, first.AddDate(0, 1, -1).Day())-1)
		if c.Until.Sub(end).Abs() > 25*time.Hour {
			months := "months"
			if c.Months == 1 {
				months = "month"
			}
			return abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("commitments[%d].until", i), "%s is not %d %s after from (%s), as months says: a commitment runs for its term; give until %s, or the months from and until span",
				c.Until.Format(time.RFC3339), c.Months, months, c.From.Format(time.RFC3339), end.Format(time.RFC3339))
		}
	}
	return nil
}

// maxCommitmentMonths bounds a commitment's term: its end must be a time
// abacus can write.
const maxCommitmentMonths = 1200

// clonePrice copies p deeply enough that the Book shares no slice with
// its caller.
func clonePrice(p *abacus.Price) *abacus.Price {
	c := *p
	c.Tiers = slices.Clone(p.Tiers)
	c.Levels = slices.Clone(p.Levels)
	c.Discounts = slices.Clone(p.Discounts)
	if p.License != nil {
		l := *p.License
		c.License = &l
	}
	return &c
}

// Price returns the price version valid at t for k in currency cur: the
// one with the newest ValidFrom ≤ t. It reports false when there is none.
// The price belongs to the Book: do not modify it.
func (b *Book) Price(k Key, cur abacus.Currency, t time.Time) (*abacus.Price, bool) {
	v, ok := b.version(k, cur, t)
	if !ok {
		return nil, false
	}
	return v.price, true
}

// version returns the price version valid at t for k in cur.
func (b *Book) version(k Key, cur abacus.Currency, t time.Time) (*version, bool) {
	vs := b.prices[priceKey{k, cur}]
	// The first version valid after t; the one before it is in force.
	i := sort.Search(len(vs), func(i int) bool { return vs[i].price.ValidFrom.After(t) })
	if i == 0 {
		return nil, false
	}
	return vs[i-1], true
}

// named returns the version among ids that prices k in cur.
func (b *Book) named(k Key, cur abacus.Currency, ids []int64) (*version, bool) {
	for _, id := range ids {
		if v, ok := b.byID[id]; ok && v.price.Currency == cur && KeyOf(v.price) == k {
			return v, true
		}
	}
	return nil, false
}

// InForceDuring says the price version id is in force at some instant of
// [from, to): no higher revision replaced it, and the versions of its key
// leave it some of that span. An unknown id is in force nowhere.
func (b *Book) InForceDuring(id int64, from, to time.Time) bool {
	v, ok := b.byID[id]
	if !ok {
		return false
	}
	vs := b.prices[priceKey{KeyOf(v.price), v.price.Currency}]
	i := sort.Search(len(vs), func(i int) bool { return !vs[i].price.ValidFrom.Before(v.price.ValidFrom) })
	if i == len(vs) || vs[i] != v {
		return false // a revision replaced it
	}
	return v.price.ValidFrom.Before(to) && (i+1 == len(vs) || vs[i+1].price.ValidFrom.After(from))
}

// Versions returns the versions of the price of k in cur, oldest first,
// each the highest revision of its ValidFrom. The prices belong to the
// Book: do not modify them.
func (b *Book) Versions(k Key, cur abacus.Currency) []*abacus.Price {
	vs := b.prices[priceKey{k, cur}]
	if vs == nil {
		return nil
	}
	out := make([]*abacus.Price, len(vs))
	for i, v := range vs {
		out[i] = v.price
	}
	return out
}

// Level returns the burst level in force for resource at t: the newest
// recorded level with EffectiveFrom ≤ t, or 1 when none is known.
func (b *Book) Level(resource string, t time.Time) int {
	ls := b.levels[resource]
	i := sort.Search(len(ls), func(i int) bool { return ls[i].EffectiveFrom.After(t) })
	if i == 0 {
		return 1
	}
	return ls[i-1].Level
}

// BurstGaps returns the burst prices of resource in force at t, in any
// currency, that have no price at level, by id: the events they price
// while that level is in force are unpriced.
func (b *Book) BurstGaps(resource string, level int, t time.Time) []*abacus.Price {
	var out []*abacus.Price
	for k := range b.prices {
		if k.ResourceID != resource {
			continue
		}
		if v, ok := b.version(k.Key, k.Currency, t); ok && v.price.Model == abacus.ModelBurst {
			if _, ok := levelIndex(v.price, level); !ok {
				out = append(out, v.price)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Commitment returns the account's commitment active at t (From ≤ t <
// End()). With several, it returns the one of the most Months (the one
// earning the largest discount; ties go to the one that started first).
func (b *Book) Commitment(acct abacus.AccountID, t time.Time) (abacus.Commitment, bool) {
	var best abacus.Commitment
	found := false
	for _, c := range b.commitments[acct] {
		if t.Before(c.From) || !t.Before(c.End()) {
			continue
		}
		if !found || c.Months > best.Months || (c.Months == best.Months && c.From.Before(best.From)) {
			best, found = c, true
		}
	}
	return best, found
}

// DiscountFor returns the fraction p takes off for an account committed
// for months: the largest Fraction among p's Discounts with Months ≤
// months, or zero.
func DiscountFor(p *abacus.Price, months int) decimal.Decimal {
	f := decimal.Zero
	for _, d := range p.Discounts {
		if d.Months <= months && d.Fraction.GreaterThan(f) {
			f = d.Fraction
		}
	}
	return f
}

// levelIndex returns the index in p.Levels of p's price at level.
func levelIndex(p *abacus.Price, level int) (int, bool) {
	for i, l := range p.Levels {
		if l.Level == level {
			return i, true
		}
	}
	return 0, false
}

// Zone is the time zone of the book's billing months.
func (b *Book) Zone() *time.Location { return b.zone }

// PeriodOf returns the first instant (UTC) of the billing month t falls in.
func (b *Book) PeriodOf(t time.Time) time.Time { return b.month(t).start }

// PeriodEnd returns the end (UTC) of the billing month that starts at start.
func (b *Book) PeriodEnd(start time.Time) time.Time { return b.month(start).end }

func (b *Book) month(t time.Time) monthSpan {
	if m := b.lastMonth.Load(); m != nil && !t.Before(m.start) && t.Before(m.end) {
		return *m
	}
	var m monthSpan
	m.start, m.end = Month(t, b.zone)
	b.lastMonth.Store(&m)
	return m
}

// BillingZone reads the name of a billing zone: an IANA zone, as
// billing.ParseZone takes them ("" is UTC). Errors name billing_zone.
func BillingZone(name string) (*time.Location, error) {
	loc, err := billing.ParseZone(name)
	if err != nil {
		var ae *abacus.Error
		if errors.As(err, &ae) {
			return nil, abacus.Errorf(ae.Code, "billing_zone", "%s", ae.Message)
		}
		return nil, err
	}
	return loc, nil
}

// BookOf checks and indexes a stored price book, in its billing zone.
func BookOf(pb *abacus.PriceBook) (*Book, error) {
	zone, err := BillingZone(pb.Zone)
	if err != nil {
		return nil, fmt.Errorf("rating: the stored billing zone: %w", err)
	}
	return NewBook(zone, pb.Prices, pb.Levels, pb.Commitments)
}
