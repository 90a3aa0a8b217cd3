package ledger

import (
	"errors"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// void takes a stored event back out of the month: its usage leaves its
// counters, its rollup and its minute slot, and the account gets back what
// the month's cost drops by without it, so the events that stand still sum
// to C(total). Its id stays taken.
func (u *usageBatch) void(it *usageItem) error {
	s := u.stored[it.event.ID]
	switch {
	case s == nil:
		return errNoEvent(it.event.ID)
	case s.Status == abacus.EventVoided:
		// Said with what it gave back: a caller sending the void again
		// after a lost answer learns what the first did.
		// A void that took money back: the month's usage cost more without
		// the event, whether its own charge was a credit or not (QA: "a
		// credit its charge had given" of an event charged +2).
		if s.Refunded.IsNegative() {
			back, err := s.Refunded.Neg()
			if err != nil {
				return err
			}
			return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q was voided already; that took back %s %s: without it, the month's usage is priced at a dearer volume tier", s.ID, back, s.Currency)
		}
		return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q was voided already; that gave back %s %s", s.ID, s.Refunded, s.Currency)
	case u.repricing[s.ID], u.rerated[s.ID]:
		// Its charge is not settled until the batch ends: voided now, a
		// rerated event's charge and refund would net to no transaction
		// for it to name, and a repriced one would be given back twice.
		return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q is being charged by this batch; void it again once that is done", s.ID)
	}
	var refund abacus.Amount
	var back abacus.Drawn
	if s.Status == abacus.EventCharged {
		var exact decimal.Decimal
		var err error
		if refund, exact, back, err = u.refund(it, s); err != nil {
			return err
		}
		if s.Drawn, err = subDrawn(s.Drawn, back); err != nil {
			return err
		}
		s.Cost.Decimal = s.Cost.Decimal.Sub(exact)
	}
	unrolled, err := refund.Neg()
	if err != nil {
		return err
	}
	unpriced := int64(0)
	if s.Status == abacus.EventUnpriced {
		unpriced = -1
	}
	if err := u.roll(&s.UsageEvent, s.Currency, unrolled, -1, unpriced); err != nil {
		return err
	}
	// Its minute slot, if it took one, is free again: a corrected event for
	// that minute, under a new id, is no duplicate.
	slot := minuteSlot(&s.UsageEvent)
	if u.minutes[slotOf(slot)] == s.ID {
		delete(u.minutes, slotOf(slot))
	}
	u.freed = append(u.freed, slot)
	s.Status, s.Refunded = abacus.EventVoided, refund
	u.updates = append(u.updates, *s)
	it.result.Status, it.result.Currency, it.result.Refunded, it.result.Back = abacus.IngestAccepted, s.Currency, refund, back
	return nil
}

// refund gives back a charged event's share of its month: with its counters
// at top, C(top) − C(top − v) at the price versions that charged it (the
// event's PriceIDs, whatever corrected them since), which for tiers is what
// the month's last v units cost, wherever the event once fell; an event
// whose prices count nothing gets back its exact cost. Like a charge it
// goes through the carry of its month, here rounded up, so the carry stays
// in [0, 1µ) and the month's charges plus carry equal the exact cost of
// what stands. It
// returns what came back to each bucket, and changes nothing if the money
// cannot move. It also returns the refund's exact amount, before the carry
// rounded it.
func (u *usageBatch) refund(it *usageItem, s *abacus.StoredEvent) (abacus.Amount, decimal.Decimal, abacus.Drawn, error) {
	// First which counters it counts, and how much.
	r, err := u.book.RateWith(&s.UsageEvent, s.Currency, noCounts, s.PriceIDs)
	if err != nil {
		return abacus.Amount{}, decimal.Decimal{}, abacus.Drawn{}, err
	}
	if r.Unpriced {
		// Prices are never deleted, so what rated the event rates it still.
		return abacus.Amount{}, decimal.Decimal{}, abacus.Drawn{}, abacus.Errorf(abacus.CodeConflict, "uuid", "event %q can no longer be rated (%s); nothing was given back", s.ID, r.Reason)
	}
	out := map[rating.Counter]int64{}
	for _, l := range r.Lines {
		if l.Counter != nil {
			out[*l.Counter] += l.Quantity
		}
	}
	if len(out) > 0 {
		// Its month counts usage of every event in it. While a correction
		// has replaced the versions that charged it and its month is not
		// repriced (the floor refused that), later events of the month
		// were charged at the new ones: priced at the old at the top of the
		// month, the refund could come to more than the month paid.
		if stale, err := u.stale(s); err == nil && stale {
			return abacus.Amount{}, decimal.Decimal{}, abacus.Drawn{}, abacus.Errorf(abacus.CodeConflict, "uuid",
				"event %q was charged at a price version a correction has replaced, and its price counts the month's usage: "+
					"reprice its month first (abacus prices import --correct with the book's file; where the account's floor refused that, the account needs the corrected month's cost first), then void it; nothing was given back", s.ID)
		}
		r, err = u.book.RateWith(&s.UsageEvent, s.Currency, func(c rating.Counter) int64 { return u.used[c] - out[c] }, s.PriceIDs)
		if err != nil {
			return abacus.Amount{}, decimal.Decimal{}, abacus.Drawn{}, err
		}
	} else if s.Cost.Valid {
		// What it cost is what comes back: rated again, a burst price
		// takes the level recorded at its time, which for an event dated
		// beyond the levels' hold-back (abacus.BurstHoldBack) is not the
		// one it paid.
		r.Cost = s.Cost.Decimal
	}
	amount, back, err := u.giveBackExactly(it, s, r.Cost)
	if err != nil {
		return abacus.Amount{}, decimal.Decimal{}, abacus.Drawn{}, err
	}
	for c, q := range out {
		u.used[c] -= q
		u.counted[c] -= q
	}
	return amount, r.Cost, back, nil
}

// giveBackExactly gives back an exact amount for event s through the carry
// of its month, rounded up, so the carry stays in [0, 1µ) and the month's
// charges plus carry still equal the exact costs of what stands. It
// returns what came back, and to each bucket, and changes nothing if the
// money cannot move.
func (u *usageBatch) giveBackExactly(it *usageItem, s *abacus.StoredEvent, exact decimal.Decimal) (abacus.Amount, abacus.Drawn, error) {
	k := u.carryOf(&s.UsageEvent)
	amount, short, err := abacus.AmountFromDecimal(exact.Sub(u.carry[k]), abacus.RoundCeiling)
	if err != nil {
		return abacus.Amount{}, abacus.Drawn{}, err
	}
	back, err := u.giveBack(it, s, amount)
	if err != nil {
		return abacus.Amount{}, abacus.Drawn{}, err
	}
	u.setCarry(k, short.Neg())
	return amount, back, nil
}

// noCounts rates an event from empty counters. Voids, reprices and verify
// use it to learn which counters an event counts, and how much: rated on
// top of its month's counter, where the event already stands, a value near
// 2^63 overflowed (QA: such events could never be voided). What no counter
// prices costs the same either way.
func noCounts(rating.Counter) int64 { return 0 }

// subDrawn is a − b, bucket by bucket.
func subDrawn(a, b abacus.Drawn) (abacus.Drawn, error) { return eachBucket(a, b, abacus.Amount.Sub) }

// addDrawn is a + b, bucket by bucket.
func addDrawn(a, b abacus.Drawn) (abacus.Drawn, error) { return eachBucket(a, b, abacus.Amount.Add) }

func eachBucket(a, b abacus.Drawn, op func(abacus.Amount, abacus.Amount) (abacus.Amount, error)) (abacus.Drawn, error) {
	var d abacus.Drawn
	var err [3]error
	d.Cash, err[0] = op(a.Cash, b.Cash)
	d.Bonus, err[1] = op(a.Bonus, b.Bonus)
	d.Voucher, err[2] = op(a.Voucher, b.Voucher)
	return d, errors.Join(err[:]...)
}
