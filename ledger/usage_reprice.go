package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// Reprice charges stored events again after their prices were corrected
// (Store.PriceBookCorrect), exactly once each. The events of an account's
// month in which any event names a version no longer in force at its time
// are repriced whole: each gets back exactly what it paid (a voided one,
// what its void left it), and the month's standing events are charged
// again, in the order they were stored, at the prices in force at their
// times, as if those had been in force as the events came. All of
// it is one usage transaction, and the rollups change by the differences.
// A month whose prices all stand is left as it is (its events' results are
// not Repriced); an unpriced event is rejected. A charge the account's
// floor refuses is rejected and leaves its month as it was: the month's
// other events are rejected too, naming it.
//
// Tiered prices count a month's usage, so pass in one call the events of
// a month (charged and voided) that share a price key with a stale one,
// and those that share one with them: an event is given back and charged
// again whole. A month whose counted prices still hold usage of events
// left out is refused (a conflict) and changes nothing.
func (e *Engine) Reprice(ctx context.Context, ids []string) ([]abacus.IngestResult, error) {
	return e.byID(ctx, repriceEvent, ids)
}

// repricing is an event of a batch's reprices: stale when it names a
// version no longer in force; once given back, what came back and the
// counters its usage left; once charged again, its new charge.
type repricing struct {
	it       *usageItem
	event    *abacus.StoredEvent
	stale    bool
	refunded abacus.Amount
	counters []rating.Counter
	charged  abacus.StoredEvent
}

// queueReprice checks an event to reprice and keeps it for the end of the
// batch, when its month is repriced whole if any of its events is stale.
func (u *usageBatch) queueReprice(it *usageItem) error {
	s := u.stored[it.event.ID]
	switch {
	case s == nil:
		return errNoEvent(it.event.ID)
	case s.Status == abacus.EventUnpriced:
		return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q is unpriced; abacus rerate charges it once a price exists", s.ID)
	case u.repricing[s.ID]:
		return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q is repriced by this batch already", s.ID)
	}
	// A voided event too: what its charge and void left it was counted at
	// the prices that charged it. Versions are never deleted, so one is in
	// force for an event that was charged.
	stale, err := u.stale(s)
	if err != nil {
		return err
	}
	it.result.Status, it.result.Currency = abacus.IngestAccepted, s.Currency
	u.repricing[s.ID] = true
	u.pending = append(u.pending, repricing{it: it, event: s, stale: stale})
	return nil
}

// settleReprices reprices the months of the batch's reprices in which any
// event is stale: every event of the month gets back what it paid, then
// the standing ones are charged again in the order they were stored. A
// month of each resource apart: a price's tiers count one resource's
// usage, and what a month of it costs less goes back to the buckets that
// paid for it, not to those that paid for another resource.
func (u *usageBatch) settleReprices() error {
	type resourceMonth struct {
		carryKey
		resource string
	}
	months := map[resourceMonth][]repricing{}
	var order []resourceMonth
	for _, p := range u.pending {
		m := resourceMonth{u.carryOf(&p.event.UsageEvent), p.event.ResourceID}
		if months[m] == nil {
			order = append(order, m)
		}
		months[m] = append(months[m], p)
	}
	for _, m := range order {
		group := months[m]
		if !slices.ContainsFunc(group, func(p repricing) bool { return p.stale }) {
			continue // its prices stand
		}
		if err := u.repriceMonth(group); err != nil {
			return withMonth(err, group)
		}
	}
	return nil
}

// repriceMonth gives every event of an account's month back what it paid
// and charges the standing ones again in the order they were stored, as
// bookings; the money then moves once, by the difference. What the month
// costs more is drawn as a charge is; what it costs less goes back to the
// buckets in proportion to what each paid for the month's events, at most
// that. Moved event by event, the buckets had depended on the way there:
// a charge at the corrected price that took a voucher's last money and
// some cash, credited in proportion a moment later, left cash paying part
// of a month whose cost had not changed.
//
// The account's floor is asked once, of the whole month: with tiers a
// total on the way can be far above the month's, and a correction that
// lowered the month's cost had been refused on such a total. The month is
// refused only if it leaves cash below its floor, and lower than it found
// it.
func (u *usageBatch) repriceMonth(group []repricing) error {
	slices.SortFunc(group, func(x, y repricing) int { return cmp.Compare(x.event.Seq, y.event.Seq) })
	it := group[0].it
	c := it.customer
	cash := u.wallets[c.ids[abacus.BucketCash]]
	before, err := cash.Available()
	if err != nil {
		return err
	}
	netBefore, err := u.netAvailable(c)
	if err != nil {
		return err
	}
	has := u.spendable(c)
	var paid abacus.Drawn // what the month's events paid, net, bucket by bucket
	given := abacus.Zero
	for i := range group {
		if err := u.takeBack(&group[i]); err != nil {
			return err
		}
		if paid, err = addDrawn(paid, group[i].event.Drawn); err == nil {
			given, err = given.Add(group[i].refunded)
		}
		if err != nil {
			return err
		}
	}
	if err := u.noneLeftOut(group); err != nil {
		return err
	}
	charged := abacus.Zero
	for i := range group {
		if err := u.chargeAgain(&group[i]); err != nil {
			return err
		}
		if charged, err = charged.Add(group[i].charged.Charged); err != nil {
			return err
		}
	}
	more, err := charged.Sub(given)
	if err != nil {
		return err
	}
	floored := cash.HasFloor
	cash.HasFloor = false // asked below, of the month's end
	moved, err := u.settleDifference(it, more, paid)
	cash.HasFloor = floored
	if err != nil {
		if abacus.ErrorCodeOf(err) == abacus.CodeInternal {
			return err
		}
		return &errRepriceRefused{item: it, err: err}
	}
	after, err := cash.Available()
	if err != nil {
		return err
	}
	if floored && after.Cmp(cash.Floor) < 0 && after.Cmp(before) < 0 {
		netAfter, err := u.netAvailable(c)
		if err != nil {
			return err
		}
		more, err := netBefore.Sub(netAfter)
		if err != nil {
			return err
		}
		return &errRepriceRefused{item: it, err: abacus.Errorf(abacus.CodeInsufficientFunds, "uuid",
			"account %s can spend %s %s (what its buckets have available, cash down to its floor of %s); its usage of resource %q in the month from %s costs %s more at the corrected prices",
			cash.Account, has, c.currency, cash.Floor, group[0].event.ResourceID, u.book.PeriodOf(group[0].event.Time).In(u.book.Zone()).Format("2006-01-02"), more)}
	}
	now, err := addDrawn(paid, moved)
	if err != nil {
		return err
	}
	return u.finishReprices(group, now)
}

// settleDifference moves what a repriced month costs more (more > 0), as
// a charge draws it, or gives back what it costs less to the buckets in
// proportion to what the month's events paid, each at most that and what
// the month still has paid (what is beyond them is a credit for the
// month). It returns what each bucket paid more, negative where it got
// back.
func (u *usageBatch) settleDifference(it *usageItem, more abacus.Amount, paid abacus.Drawn) (abacus.Drawn, error) {
	if !more.IsNegative() {
		return u.charge(it, more)
	}
	less, err := more.Neg()
	if err != nil {
		return abacus.Drawn{}, err
	}
	// At most what the month still has paid, too: credits to its events
	// left out of the call may have given some of it back already (a
	// voucher had got back 10.67 of the 10 it was granted).
	bound, err := u.bound(it)
	if err != nil {
		return abacus.Drawn{}, err
	}
	own, beyond, err := shareOut(less, lesserDrawn(paid, bound))
	if err == nil {
		err = u.moveBack(it, own)
	}
	if err != nil {
		return abacus.Drawn{}, err
	}
	if !beyond.IsZero() {
		credited, err := u.credit(it, beyond)
		if err != nil {
			return abacus.Drawn{}, u.undo(it, own, err)
		}
		if own, err = addDrawn(own, credited); err != nil {
			return abacus.Drawn{}, err
		}
	}
	return subDrawn(abacus.Drawn{}, own)
}

// netAvailable is what a customer's buckets have available, below zero
// included.
func (u *usageBatch) netAvailable(c *customerWallets) (abacus.Amount, error) {
	total := abacus.Zero
	for _, b := range abacus.CustomerBuckets {
		a, err := u.wallets[c.ids[b]].Available()
		if err == nil {
			total, err = total.Add(a)
		}
		if err != nil {
			return abacus.Amount{}, err
		}
	}
	return total, nil
}

// withMonth names, in a refusal, the items of the refused event's month:
// a month is repriced whole or not at all, since its tiers count all of
// its usage. Repricing the rest of it at the new prices with the refused
// event's usage still counted at the old ones would leave the month at
// neither (a volume month had come to less than nothing).
func withMonth(err error, group []repricing) error {
	var refused *errRepriceRefused
	if errors.As(err, &refused) {
		for _, p := range group {
			refused.month = append(refused.month, p.it)
		}
	}
	return err
}

// takeBack books an event of a month being repriced as given back
// exactly what it paid, net of what a void gave back: its exact cost
// through the carry of its month, or, for an event stored before abacus kept
// that, its charge less its refund in micro-units (what its charge
// carried stays in the carry). It takes a standing one's usage out of its
// counters, which the month's charges then count again. No money moves
// (settleDifference moves the month's difference).
func (u *usageBatch) takeBack(p *repricing) error {
	s := p.event
	if len(s.PriceIDs) > 0 { // a voided one's too: its month is settled with it
		was, err := u.book.RateWith(&s.UsageEvent, s.Currency, noCounts, s.PriceIDs)
		if err == nil && was.Unpriced {
			err = fmt.Errorf("ledger: event %s names prices the book does not hold: %s", s.ID, was.Reason)
		}
		if err != nil {
			return err
		}
		for _, l := range was.Lines {
			if l.Counter == nil {
				continue
			}
			if s.Status == abacus.EventCharged {
				u.used[*l.Counter] -= l.Quantity
				u.counted[*l.Counter] -= l.Quantity
			}
			p.counters = append(p.counters, *l.Counter)
		}
	}
	if !s.Cost.Valid {
		paid, err := s.Charged.Sub(s.Refunded)
		p.refunded = paid
		return err
	}
	k := u.carryOf(&s.UsageEvent)
	amount, short, err := abacus.AmountFromDecimal(s.Cost.Decimal.Sub(u.carry[k]), abacus.RoundCeiling)
	if err != nil {
		return err
	}
	u.setCarry(k, short.Neg())
	p.refunded = amount
	return nil
}

// noneLeftOut refuses a month whose counters, once its events are taken
// back, still hold usage: events of the month that count on them were
// left out of the call (or came in the same batch). An event's charge on a
// counted price depends on where its usage falls in the month, so the
// month's events are charged again together or not at all. Charged again
// on top of the usage left out, a volume step had credited usage at rates
// it never paid (14 − 32 came back for a month that had paid 14); a
// graduated event moved above the rest was charged 4 less than its month
// then cost; and a voided event settled alone had given back what its void
// charged the month's other events, which kept their credits (cash 39 of
// 30 paid in).
func (u *usageBatch) noneLeftOut(group []repricing) error {
	for _, p := range group {
		for _, c := range p.counters {
			if u.used[c] == 0 {
				continue
			}
			return &errRepriceRefused{item: p.it, err: abacus.Errorf(abacus.CodeConflict, "uuid",
				"the month of event %q holds %d more units of its price, counted by events this call leaves out (or that came in meanwhile): "+
					"reprice the month's events of the price together, as abacus prices import --correct does; nothing was changed", p.event.ID, u.used[c])}
		}
	}
	return nil
}

// chargeAgain books a standing event of a month being repriced at the
// prices in force at its time, through the carry of its month; a voided one
// is settled at nothing.
func (u *usageBatch) chargeAgain(p *repricing) error {
	s, it := p.event, p.it
	p.charged = *s
	p.charged.Charged, p.charged.Drawn, p.charged.PriceIDs = abacus.Zero, abacus.Drawn{}, nil
	p.charged.Cost.Decimal = decimal.Zero // a voided event's: nothing of it stands
	if s.Status != abacus.EventCharged {
		return nil
	}
	now, err := u.book.Rate(&s.UsageEvent, s.Currency, u.usedOf)
	if err != nil {
		return err
	}
	if now.Unpriced {
		// A correction took away what prices it (a burst level, say): its
		// month keeps the prices it paid, as a refused charge leaves it.
		return &errRepriceRefused{item: it, err: abacus.Errorf(abacus.CodeConflict, "uuid",
			"event %q has no price at the corrected prices (%s), so its month keeps the prices it was charged at: correct the price so that it prices the event, or void the event, and reprice again", s.ID, now.Reason)}
	}
	amount, rest, err := u.withCarry(it, &s.UsageEvent, now)
	if err != nil {
		return &errRepriceRefused{item: it, err: err}
	}
	u.record(it, &p.charged, now, amount, rest)
	return nil
}

// finishReprices records a repriced month: each event's new charge, and
// its buckets, which are its share of what the month's events now pay,
// split as the month is (paid). A voided event's charge is now settled
// at nothing: it names no version, as one voided while unpriced names
// none, so that it is never stale again and the next correction leaves
// its month alone. The versions that charged it are in its reprice.
func (u *usageBatch) finishReprices(group []repricing, paid abacus.Drawn) error {
	// A month that now nets to nothing (a volume credit as large as its
	// charges) is split as its events' charges were, so that a credit is
	// taken back from the bucket that got it, not cash.
	weights, ok := positiveParts(paid)
	if !ok {
		for _, p := range group {
			charges, some := positiveParts(p.event.Drawn)
			for j := range weights {
				weights[j] += charges[j]
			}
			ok = ok || some
		}
	}
	if !ok {
		weights[slices.Index(abacus.CustomerBuckets, abacus.BucketCash)] = 1
	}
	left := paid // what the events' shares leave over, which the last takes
	for i := range group {
		p := &group[i]
		s, it := p.event, p.it
		delta, err := p.charged.Charged.Sub(p.refunded)
		if err != nil {
			return err
		}
		if err := u.roll(&s.UsageEvent, s.Currency, delta, 0, 0); err != nil {
			return err
		}
		u.reprices = append(u.reprices, abacus.Reprice{EventSeq: s.Seq, Account: s.Account, Currency: s.Currency, EventTxID: s.TxID,
			Amount: delta, PriceIDs: s.PriceIDs, CreatedAt: u.now})
		if s.Charged, err = s.Charged.Add(delta); err != nil {
			return err
		}
		net, err := s.Charged.Sub(s.Refunded)
		if err != nil {
			return err
		}
		shares, err := abacus.Allocate(net, weights)
		if err != nil {
			return err
		}
		var drawn abacus.Drawn
		for j, b := range abacus.CustomerBuckets {
			*drawn.Of(b) = shares[j]
		}
		if i == len(group)-1 {
			drawn = left // what the shares' rounding left over: it sums to net too
		} else if left, err = subDrawn(left, drawn); err != nil {
			return err
		}
		s.Drawn, s.PriceIDs, s.Uncommitted = drawn, p.charged.PriceIDs, p.charged.Uncommitted
		// An event whose old cost was unknown left what its charge carried
		// in the carry: its new one stays unknown, so that verify does not
		// count on the account's costs adding up.
		s.Cost = decimal.NullDecimal{Decimal: p.charged.Cost.Decimal, Valid: s.Cost.Valid}
		u.updates = append(u.updates, *s)
		it.result.Repriced, it.result.Refunded, it.result.Charged = true, p.refunded, p.charged.Charged
	}
	return nil
}

// positiveParts lists d's positive parts in micro-units, in the order of
// abacus.CustomerBuckets, and says whether any is.
func positiveParts(d abacus.Drawn) ([]int64, bool) {
	parts := make([]int64, len(abacus.CustomerBuckets))
	some := false
	for i, b := range abacus.CustomerBuckets {
		if a := d.Of(b); a.IsPositive() {
			parts[i], some = a.Micros(), true
		}
	}
	return parts, some
}

// errRepriceRefused stops a batch in which an event of a month being
// repriced could not be given back or charged again: the month's other
// refunds are in the batch already. The batch runs again without the
// month's items (the refused one's among them).
type errRepriceRefused struct {
	item  *usageItem
	err   error
	month []*usageItem
}

func (e *errRepriceRefused) Error() string { return "ledger: a reprice was refused: " + e.err.Error() }

// stale says a stored event names versions no longer in force at its
// time: a correction replaced them, and its month is not repriced yet.
func (u *usageBatch) stale(s *abacus.StoredEvent) (bool, error) {
	now, err := u.book.Rate(&s.UsageEvent, s.Currency, noCounts)
	if err != nil {
		return false, err
	}
	return len(s.PriceIDs) > 0 && !now.Unpriced && !slices.Equal(priceIDsOf(now), s.PriceIDs), nil
}

func priceIDsOf(r rating.Rating) []int64 {
	ids := make([]int64, len(r.Lines))
	for i, l := range r.Lines {
		ids[i] = l.PriceID
	}
	return ids
}

// componentCounters lists a counter for every component of an event, the
// ones a reprice may need at its old prices or at its new ones.
func (u *usageBatch) componentCounters(e *abacus.UsageEvent, cur abacus.Currency) []rating.Counter {
	comps, err := rating.Components(e)
	if err != nil {
		return nil
	}
	out := make([]rating.Counter, len(comps))
	for i, c := range comps {
		out[i] = rating.Counter{Account: e.Account, Key: c.Key, Currency: cur, Period: u.book.PeriodOf(e.Time)}
	}
	return out
}
