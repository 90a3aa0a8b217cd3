package ledger

import (
	"context"
	"fmt"
	"slices"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// Reprice charges stored events again after their prices were corrected
// (Store.PriceBookCorrect), exactly once each: an event whose versions
// are no longer those in force at its time gets back what it cost at
// them and pays the prices in force now, in one usage transaction, and
// its rollup changes by the difference. An event whose prices stand is
// left as it is (its result is not Repriced); one that is not charged is
// rejected. A corrected charge the account's floor refuses is rejected and
// leaves the event as it was.
//
// Tiered prices count the month's usage, so the events of one account and
// month should be repriced in one call: the batch first gives back what
// all of them cost at their old prices, the month's last units first, and
// then charges them at the new ones, so a month repriced whole ends at
// C(total) of its corrected price, as if it had been in force all along.
func (e *Engine) Reprice(ctx context.Context, ids []string) ([]abacus.IngestResult, error) {
	return e.byID(ctx, repriceEvent, ids)
}

// repricing is an event a batch has given back and is to charge again.
type repricing struct {
	it       *usageItem
	event    *abacus.StoredEvent
	refunded abacus.Amount
	back     abacus.Drawn
}

// repriceBack is a reprice's first half: an event whose prices changed
// gets back what it cost at the versions that charged it.
func (u *usageBatch) repriceBack(it *usageItem) error {
	s := u.stored[it.event.ID]
	switch {
	case s == nil:
		return abacus.Errorf(abacus.CodeNotFound, "uuid", "event %q does not exist", it.event.ID)
	case s.Status != abacus.EventCharged:
		return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q is %s; only charged events are repriced", s.ID, s.Status)
	case u.repricing[s.ID]:
		return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q is repriced by this batch already", s.ID)
	}
	now, err := u.book.Rate(&s.UsageEvent, s.Currency, u.usedOf)
	if err != nil {
		return err
	}
	it.result.Status = abacus.IngestAccepted
	if now.Unpriced || slices.Equal(priceIDsOf(now), s.PriceIDs) {
		return nil // its prices stand (versions are never deleted, so one is in force)
	}
	refunded, back, err := u.refund(it, s)
	if err != nil {
		return err
	}
	u.repricing[s.ID] = true
	u.pending = append(u.pending, repricing{it: it, event: s, refunded: refunded, back: back})
	return nil
}

// repriceCharge is a reprice's second half, once every event of the batch
// has been given back: the event pays the prices in force at its time.
// A refusal (the account's floor) must undo the first half too, which only
// the database can: the batch stops with errRepriceRefused and runs again
// without the event.
func (u *usageBatch) repriceCharge(p repricing) error {
	s, it := p.event, p.it
	now, err := u.book.Rate(&s.UsageEvent, s.Currency, u.usedOf)
	if err == nil && now.Unpriced {
		err = fmt.Errorf("ledger: event %s was priced a moment ago and is not now: %s", s.ID, now.Reason)
	}
	if err != nil {
		return err
	}
	charged := *s
	charged.PriceIDs = nil
	if err := u.chargeRating(it, &charged, now); err != nil {
		if abacus.ErrorCodeOf(err) == abacus.CodeInternal {
			return err
		}
		return &errRepriceRefused{item: it, err: err}
	}
	delta, err := charged.Charged.Sub(p.refunded)
	if err != nil {
		return err
	}
	if err := u.roll(&s.UsageEvent, s.Currency, 0, delta, 0); err != nil {
		return err
	}
	u.reprices = append(u.reprices, abacus.Reprice{EventSeq: s.Seq, Account: s.Account, Currency: s.Currency, EventTxID: s.TxID,
		Amount: delta, PriceIDs: s.PriceIDs, CreatedAt: u.now})
	total, err := s.Charged.Add(delta)
	if err != nil {
		return err
	}
	kept, err := subDrawn(s.Drawn, p.back)
	if err == nil {
		s.Drawn, err = addDrawn(kept, charged.Drawn)
	}
	if err != nil {
		return err
	}
	s.Charged, s.PriceIDs = total, charged.PriceIDs
	u.updates = append(u.updates, *s)
	it.result.Repriced, it.result.Refunded, it.result.Charged = true, p.refunded, charged.Charged
	return nil
}

// errRepriceRefused stops a batch in which a repriced event could not be
// charged again: its refund is in the batch already.
type errRepriceRefused struct {
	item *usageItem
	err  error
}

func (e *errRepriceRefused) Error() string { return "ledger: a reprice was refused: " + e.err.Error() }

func priceIDsOf(r rating.Rating) []int64 {
	ids := make([]int64, len(r.Lines))
	for i, l := range r.Lines {
		ids[i] = l.PriceID
	}
	return ids
}

// componentCounters lists a counter for every component of an event, the
// ones a reprice may need at its old prices or at its new ones.
func componentCounters(e *abacus.UsageEvent, cur abacus.Currency) []rating.Counter {
	comps, err := rating.Components(e)
	if err != nil {
		return nil
	}
	out := make([]rating.Counter, len(comps))
	for i, c := range comps {
		out[i] = rating.Counter{Account: e.Account, Key: c.Key, Currency: cur, Period: rating.PeriodOf(e.Time)}
	}
	return out
}
