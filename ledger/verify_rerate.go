package ledger

import (
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// rerateCheck rates every priced event again at the versions it names, in
// a book of every stored version and commitment. Each event's key fields
// (scene, resource_id, value_type, extra) must lead to exactly those
// versions: a per-unit event's resource_id edited along with its rollups
// had passed (QA). A standing event of per-unit versions must cost what it
// is recorded to: its value edited along with its rollups had passed too
// (QA). Events of counted versions cost what their place in the month's
// tiers made them, which the counters check answers for, and burst events
// what the level was when they were charged, which a change held back past
// a far-dated event may since have moved; their costs are not compared.
// A void of versions that count nothing gives back all of the event's
// cost, so none of a voided one's stands: with only its status edited,
// one had passed (QA).
type rerateCheck struct {
	keys, costs *Check
	book        *rating.Book
	plain       map[int64]bool // per-unit versions
	counted     map[int64]bool // versions that count usage (tiers, packages)
	zone        *time.Location // of the billing months
}

func newRerateCheck(keys, costs *Check) *rerateCheck {
	return &rerateCheck{keys: keys, costs: costs, plain: map[int64]bool{}, counted: map[int64]bool{}}
}

func (rc *rerateCheck) load(ar abacus.AuditReader, prices map[int64]*abacus.Price) error {
	all := make([]abacus.Price, 0, len(prices))
	for _, p := range prices {
		all = append(all, *p)
		if p.Model == abacus.ModelPerUnit {
			rc.plain[p.ID] = true
		}
		if rating.Counts(p.Model) {
			rc.counted[p.ID] = true
		}
	}
	var commitments []abacus.Commitment
	if err := ar.Commitments(func(c abacus.Commitment) error {
		commitments = append(commitments, c)
		return nil
	}); err != nil {
		return err
	}
	book, err := rating.NewBook(rc.zone, all, nil, commitments)
	if err != nil {
		rc.keys.fail("the stored prices and commitments do not make a price book: %v", err)
		return nil
	}
	rc.book = book
	return nil
}

func (rc *rerateCheck) event(e *abacus.StoredEvent) {
	// A voided event that was repriced names none (and so do the
	// benchmark's older events, made by SQL).
	if rc.book == nil || e.Status == abacus.EventUnpriced || len(e.PriceIDs) == 0 {
		return
	}
	if err := rc.book.NamedFit(&e.UsageEvent, e.Currency, e.PriceIDs); err != nil {
		rc.keys.fail("event %s does not fit the versions that charged it: %v", e.ID, err)
		return
	}
	if e.Status == abacus.EventVoided && e.Cost.Valid && !e.Cost.Decimal.IsZero() && !slices.ContainsFunc(e.PriceIDs, func(id int64) bool { return rc.counted[id] }) {
		rc.costs.fail("event %s is voided, yet %s of its cost stands (it was refunded %s): a void of prices that count no usage gives back all of it", e.ID, e.Cost.Decimal, e.Refunded)
	}
	if e.Status != abacus.EventCharged || !e.Cost.Valid {
		return
	}
	for _, id := range e.PriceIDs {
		if !rc.plain[id] {
			return
		}
	}
	r, err := rc.book.RateWith(&e.UsageEvent, e.Currency, noCounts, e.PriceIDs)
	switch {
	case err != nil:
		rc.costs.fail("event %s cannot be rated at the versions that charged it: %v", e.ID, err)
	case r.Unpriced:
		rc.costs.fail("event %s cannot be rated at the versions that charged it: %s", e.ID, r.Reason)
	case !r.Cost.Equal(e.Cost.Decimal):
		rc.costs.fail("event %s is recorded to cost %s, but its %d at the versions that charged it come to %s", e.ID, e.Cost.Decimal, e.Value, r.Cost)
	}
}
