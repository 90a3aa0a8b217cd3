package ledger

import (
	"cmp"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

func (u *usageBatch) ingest(it *usageItem) error {
	ev := &it.event
	var prior *abacus.UsageEvent
	if s := u.seenDB[ev.ID]; s != nil {
		prior = &s.UsageEvent
		if it.storedBy(s) {
			// An attempt of this item committed though its commit was not
			// confirmed: the event is this call's, not a duplicate (QA: a
			// batch retried job by job after a dropped connection answered
			// 1,897 events sent once as duplicates).
			it.result.Status, it.result.Currency, it.result.Charged, it.result.Uncommitted = abacus.IngestAccepted, s.Currency, s.Charged, s.Uncommitted
			if s.Status == abacus.EventUnpriced {
				it.result.Unpriced, it.result.UnpricedReason = true, u.book.Lacks(ev, s.Currency)
			}
			return nil
		}
	}
	if prior = cmp.Or(prior, u.seen[ev.ID]); prior != nil {
		licensed := func(e *abacus.UsageEvent) ([]int64, error) { return u.book.LicensedQuantities(e, it.customer.currency) }
		if err := repeatOf(prior, ev, licensed); err != nil {
			return err
		}
		it.result.Status = abacus.IngestDuplicate
		return nil
	}
	var slot abacus.MinuteSlot
	if it.minuteDedupe {
		slot = minuteSlot(ev)
		if owner, taken := u.minutes[slotOf(slot)]; taken && owner != ev.ID {
			it.result.Status, it.result.DuplicateOf = abacus.IngestDuplicate, owner
			return nil
		}
	}
	if it.tooLate != nil {
		return it.tooLate
	}
	if err := abacus.CheckNewEvent(ev); err != nil {
		return err
	}
	cur := it.customer.currency
	r, err := u.rateNew(ev, cur, true)
	if err != nil {
		return err
	}
	stored := abacus.StoredEvent{UsageEvent: *ev, Status: abacus.EventUnpriced, ReceivedAt: u.now, Currency: cur, Cost: decimal.NullDecimal{Valid: true}}
	if !r.Unpriced {
		stored.Status = abacus.EventCharged
		if err := u.chargeRating(it, &stored, r); err != nil {
			return err
		}
	}
	unpriced := int64(0)
	if r.Unpriced {
		unpriced = 1
	}
	if err := u.roll(ev, cur, stored.Charged, 1, unpriced); err != nil {
		return err
	}
	u.seen[ev.ID] = ev
	if it.minuteDedupe {
		u.minutes[slotOf(slot)] = ev.ID
		u.minuteT = append(u.minuteT, slot)
	}
	u.events = append(u.events, stored)
	it.result.Status, it.result.Currency, it.result.Charged, it.result.Unpriced, it.result.UnpricedReason = abacus.IngestAccepted, cur, stored.Charged, r.Unpriced, r.Reason
	return nil
}

func (u *usageBatch) usedOf(c rating.Counter) int64 { return u.used[c] }

// rateNew rates a new charge (an event, or an unpriced one rerated) at the
// prices in force at its time, but where its month's counter holds usage
// counted at a version a correction has replaced for the whole month (a
// revision of it, or a version from the month's start; the month is not
// repriced yet, or its reprice was refused), at that version: the
// corrected version's tiers would price the month's usage as if it had
// paid them, and a volume credit could give back more than the month
// paid. The month stays at one version, and the event, naming the
// replaced one, is repriced with it. An incoming event is held to the
// rules of events coming in (rating.Book.RateIncoming); a stored one
// rerated, to those it was stored by.
func (u *usageBatch) rateNew(e *abacus.UsageEvent, cur abacus.Currency, incoming bool) (rating.Rating, error) {
	rate := u.book.Rate
	if incoming {
		rate = u.book.RateIncoming
	}
	r, err := rate(e, cur, u.usedOf)
	if err != nil || r.Unpriced {
		return r, err
	}
	var ids []int64
	for i, l := range r.Lines {
		if l.Counter == nil || u.used[*l.Counter] == 0 {
			continue
		}
		c := *l.Counter
		v := cmp.Or(u.countedBy[c], u.usedBy[c])
		if v == 0 || v == l.PriceID || u.book.InForceDuring(v, c.Period, u.book.PeriodEnd(c.Period)) {
			continue
		}
		if ids == nil {
			ids = priceIDsOf(r)
		}
		ids[i] = v
	}
	if ids == nil {
		return r, nil
	}
	return u.book.RateWith(e, cur, u.usedOf, ids)
}

// chargeRating charges a rated event: its cost plus the carry of its
// account's month, floored to micro-units, drawn from the buckets; what
// the floor leaves over is the new carry. It changes nothing if the charge
// is refused.
func (u *usageBatch) chargeRating(it *usageItem, ev *abacus.StoredEvent, r rating.Rating) error {
	amount, rest, err := u.withCarry(it, &ev.UsageEvent, r)
	if err != nil {
		return err
	}
	drawn, err := u.charge(it, amount)
	if err != nil {
		// The floor or an overflow refuses the whole cost: in a token
		// split it comes from the counts in extra, not from value.
		return abacus.RenameField(err, it.costField(r))
	}
	u.record(it, ev, r, amount, rest)
	ev.Drawn = drawn
	return nil
}

// withCarry is what a rated event e is charged: its cost plus the carry of
// its account's month, floored to micro-units, and what the floor leaves
// over.
func (u *usageBatch) withCarry(it *usageItem, e *abacus.UsageEvent, r rating.Rating) (abacus.Amount, decimal.Decimal, error) {
	amount, rest, err := abacus.AmountFromDecimal(r.Cost.Add(u.carry[u.carryOf(e)]), abacus.RoundFloor)
	return amount, rest, abacus.RenameField(err, it.costField(r))
}

// record books a charge of amount for ev at rating r: its usage counted,
// the versions it names, and rest as the carry of its month. It moves no
// money.
func (u *usageBatch) record(it *usageItem, ev *abacus.StoredEvent, r rating.Rating, amount abacus.Amount, rest decimal.Decimal) {
	for _, l := range r.Lines {
		if l.Counter != nil {
			u.used[*l.Counter] += l.Quantity
			u.counted[*l.Counter] += l.Quantity
			u.countedBy[*l.Counter] = l.PriceID
		}
		ev.PriceIDs = append(ev.PriceIDs, l.PriceID)
		use := priceUse{l.PriceID, it.shard}
		if !ev.Time.Before(u.now.Truncate(abacus.BurstCycle).Add(abacus.BurstHoldBack)) {
			use.shard = abacus.FarShard
		}
		if latest, ok := u.priceUses[use]; !ok || ev.Time.After(latest) {
			u.priceUses[use] = ev.Time
		}
	}
	u.setCarry(u.carryOf(&ev.UsageEvent), rest)
	ev.Charged, ev.Cost = amount, decimal.NullDecimal{Decimal: r.Cost, Valid: true}
	ev.Uncommitted, it.result.Uncommitted = r.Uncommitted, r.Uncommitted
}

// field names what the producer sent that a refused charge is about: the
// event's value, or for a void or a reprice its id; not the ledger's amount.
func (it *usageItem) field() string {
	if it.kind == voidEvent || it.kind == repriceEvent {
		return "uuid"
	}
	return "value"
}

// costField is field for a cost refused (too large, or beyond the
// account's floor): for an event sent or rated again, the field its cost
// grows with (r.Field), which is a token count in extra where the event's
// value was not priced.
func (it *usageItem) costField(r rating.Rating) string {
	if it.kind == voidEvent || it.kind == repriceEvent {
		return it.field()
	}
	return r.Field()
}

// charge moves amount from the account to revenue, drawing the buckets in
// order within the account's floor; a negative amount (a volume price
// stepping down) is a credit for the event's month. A refusal (the floor,
// a balance that would overflow) names it.field() and changes nothing.
func (u *usageBatch) charge(it *usageItem, amount abacus.Amount) (abacus.Drawn, error) {
	d, err := u.chargeAmount(it, amount)
	return d, abacus.RenameField(err, it.field())
}

func (u *usageBatch) chargeAmount(it *usageItem, amount abacus.Amount) (abacus.Drawn, error) {
	switch {
	case amount.IsZero():
		return abacus.Drawn{}, nil
	case amount.IsNegative():
		owed, err := amount.Neg()
		if err != nil {
			return abacus.Drawn{}, err
		}
		back, err := u.credit(it, owed)
		if err != nil {
			return abacus.Drawn{}, err
		}
		return subDrawn(abacus.Drawn{}, back)
	}
	return u.drawFor(it, amount)
}

// drawFor draws amount from the item's account in the draw order, within
// its floor, and moves it to revenue.
func (u *usageBatch) drawFor(it *usageItem, amount abacus.Amount) (abacus.Drawn, error) {
	var d abacus.Drawn
	parts, err := u.draw(it.customer, amount)
	if err != nil {
		return d, err
	}
	debits := make([]part, len(parts))
	for i, p := range parts {
		neg, _ := p.amount.Neg()
		debits[i] = part{p.w, neg}
		*d.Of(p.w.Bucket) = p.amount // draw takes a customer's buckets
	}
	return d, u.move(it, debits, amount)
}

// move adds each part to its wallet and toRevenue to the item's revenue
// wallet, all or none, and counts what the buckets paid for its month.
func (u *usageBatch) move(it *usageItem, parts []part, toRevenue abacus.Amount) error {
	revenue := u.wallets[it.revenue]
	next := make([]abacus.Amount, len(parts))
	for i, p := range parts {
		b, err := p.w.Balance.Add(p.amount)
		if err != nil {
			return balanceOverflow(p.w, "balance")
		}
		if _, err := b.Sub(p.w.Held); err != nil { // available must fit too, floor or not
			return balanceOverflow(p.w, "available amount (balance less held)")
		}
		next[i] = b
	}
	rev, err := revenue.Balance.Add(toRevenue)
	if err != nil {
		return balanceOverflow(revenue, "balance")
	}
	m := u.monthOf(it)
	paid, total := u.paidMoved[m], u.movedTotal[m.paidMonth]
	for _, p := range parts {
		if a := paid.Of(p.w.Bucket); a != nil {
			var err error
			if *a, err = a.Sub(p.amount); err != nil {
				return err
			}
			t := total.Of(p.w.Bucket)
			if *t, err = t.Sub(p.amount); err != nil {
				return err
			}
		}
	}
	for i, p := range parts {
		p.w.Balance = next[i]
	}
	revenue.Balance = rev
	u.paidMoved[m], u.movedTotal[m.paidMonth] = paid, total
	return nil
}

// roll adds to the rollup of an event's quarter hour its money, its usage
// events times (1 as it is stored, -1 as it is voided), and its usage
// unpriced times as usage with no price yet (1 as it is stored unpriced,
// -1 as rerate charges it or it is voided unpriced). A sum past int64 fails the
// batch as the database would (ErrRefused; the money has moved by now), and
// the engine then refuses the events that overflow, each alone, against the
// stored sums.
func (u *usageBatch) roll(ev *abacus.UsageEvent, cur abacus.Currency, amount abacus.Amount, events, unpriced int64) error {
	k := rollupKey{ev.Account, ev.Time.Truncate(abacus.RollupBucket), ev.Scene, ev.ResourceID, ev.CustomerID}
	r := u.rollups[k]
	if r == nil {
		r = &abacus.Rollup{Account: k.account, Bucket: k.bucket, Scene: k.scene, ResourceID: k.resource, CustomerID: k.customerID, Currency: cur}
		u.rollups[k] = r
	}
	a, err := r.Amount.Add(amount)
	// Values are never negative, so ±Value is exact.
	q, qOK := addInt64(r.Quantity, events*ev.Value)
	n, nOK := addInt64(r.Events, events)
	uq, uqOK := addInt64(r.UnpricedQuantity, unpriced*ev.Value)
	un, unOK := addInt64(r.UnpricedEvents, unpriced)
	if err != nil || !qOK || !nOK || !uqOK || !unOK {
		return fmt.Errorf("%w: the usage of %s in the quarter hour from %s overflows its rollup", abacus.ErrRefused, ev.Account, k.bucket.Format(time.RFC3339))
	}
	r.Amount, r.Quantity, r.Events, r.UnpricedQuantity, r.UnpricedEvents = a, q, n, uq, un
	return nil
}

// addInt64 returns x+y and whether it fits.
func addInt64(x, y int64) (int64, bool) {
	sum := x + y
	return sum, (sum > x) == (y > 0)
}

func (u *usageBatch) rerate(it *usageItem) error {
	s := u.stored[it.event.ID]
	switch {
	case s == nil:
		return errNoEvent(it.event.ID)
	case s.Status != abacus.EventUnpriced:
		return abacus.Errorf(abacus.CodeConflict, "status", "event %q is %s; only unpriced events are rated again", s.ID, s.Status)
	}
	r, err := u.rateNew(&s.UsageEvent, s.Currency, false)
	if err != nil {
		return err
	}
	it.result.Status, it.result.Currency = abacus.IngestAccepted, s.Currency
	if r.Unpriced {
		it.result.Unpriced, it.result.UnpricedReason = true, r.Reason
		return nil
	}
	charged := *s
	charged.Status = abacus.EventCharged
	if err := u.chargeRating(it, &charged, r); err != nil {
		return err
	}
	if err := u.roll(&s.UsageEvent, s.Currency, charged.Charged, 0, -1); err != nil {
		return err
	}
	*s = charged
	u.rerated[s.ID] = true
	u.updates = append(u.updates, *s)
	it.result.Charged = s.Charged
	return nil
}
