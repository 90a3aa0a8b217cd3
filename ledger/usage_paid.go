package ledger

import (
	"time"

	"github.com/abacus-billing/abacus"
)

// Money that comes back to an account for usage (a volume price stepping
// down, a void, a reprice) goes to the buckets that paid for it, never
// more to one than it paid: otherwise a voucher spent on usage could come
// back as cash. What an event paid bounds what its own void gives back to
// each bucket; what its account paid, net, for its resource's usage of its
// month, and for the whole month, bound the rest. The resource's: a price,
// and so its tiers, is a resource's, and bounded by the month alone a
// credit of a resource the voucher paid went partly to cash another one
// paid. The month's too: until migration 0025 credits were shared across
// a month's resources, so a resource's sums may hold what a bucket got
// back for another, which is then not the bucket's to get back again.

// paidMonth is an account's billing period in one currency.
type paidMonth struct {
	account  abacus.AccountID
	currency abacus.Currency
	start    time.Time
}

// usageMonth is an account's billing period in one currency, for one
// resource's usage.
type usageMonth struct {
	paidMonth
	resource string
}

func (u *usageBatch) monthOf(it *usageItem) usageMonth {
	return usageMonth{paidMonth{it.event.Account, it.customer.currency, u.book.PeriodOf(it.event.Time)}, it.event.ResourceID}
}

// paidFor is what each bucket has paid, net, for the usage of the item's
// resource in its month, and for all the month's usage: the stored sums of
// those events' Drawn, read once a batch first needs the month, and what
// the batch has moved.
func (u *usageBatch) paidFor(it *usageItem) (resource, month abacus.Drawn, err error) {
	m := u.monthOf(it)
	stored, ok := u.paidStored[m.paidMonth]
	if !ok {
		if stored, err = u.readPaid(m.paidMonth); err != nil {
			return abacus.Drawn{}, abacus.Drawn{}, err
		}
		u.paidStored[m.paidMonth] = stored
	}
	if resource, err = addDrawn(stored[m.resource], u.paidMoved[m]); err != nil {
		return abacus.Drawn{}, abacus.Drawn{}, err
	}
	month = u.movedTotal[m.paidMonth]
	for _, d := range stored {
		if month, err = addDrawn(month, d); err != nil {
			return abacus.Drawn{}, abacus.Drawn{}, err
		}
	}
	return resource, month, nil
}

// bound is what each bucket can get back for the item's usage: at most
// what it paid for the resource's month, and for the month.
func (u *usageBatch) bound(it *usageItem) (abacus.Drawn, error) {
	resource, month, err := u.paidFor(it)
	return lesserDrawn(resource, month), err
}

// credit gives amount back to the account for usage of its resource in
// its month, to the buckets in proportion to what each paid for that and
// at most that (bound). What is beyond goes to the buckets in proportion
// to what is left of what each paid for the month: the carry is the
// month's, so one resource's charges may have paid micro-units of
// another's cost, which come back with the other's voids. With a carry per
// month nothing is beyond them all; a month of an account whose carry was
// one across months before migration 0018 may owe back micro-units
// another month paid, and those go to cash. It returns what came back to
// each bucket.
func (u *usageBatch) credit(it *usageItem, amount abacus.Amount) (abacus.Drawn, error) {
	resource, month, err := u.paidFor(it)
	if err != nil {
		return abacus.Drawn{}, err
	}
	shares, beyond, err := shareOut(amount, lesserDrawn(resource, month))
	if err == nil && !beyond.IsZero() {
		var left, more abacus.Drawn
		if left, err = subDrawn(month, shares); err == nil {
			more, beyond, err = shareOut(beyond, left)
		}
		if err == nil {
			shares, err = addDrawn(shares, more)
		}
	}
	if err == nil {
		shares.Cash, err = shares.Cash.Add(beyond)
	}
	if err != nil {
		return abacus.Drawn{}, err
	}
	return shares, u.moveBack(it, shares)
}

// giveBack moves a refund of event s from revenue to the account. What s
// paid comes back to the buckets it came from, in proportion when the
// refund is smaller, and to none more than what is left of what it paid
// for the month (credits to the month's other events may have given some
// of it back already); anything beyond is a credit for its month. A
// negative refund (a volume price stepping back up) is reclaim's. It
// changes nothing if the money cannot move.
func (u *usageBatch) giveBack(it *usageItem, s *abacus.StoredEvent, amount abacus.Amount) (abacus.Drawn, error) {
	if amount.IsZero() {
		return abacus.Drawn{}, nil
	}
	if amount.IsNegative() {
		owed, err := amount.Neg()
		if err != nil {
			return abacus.Drawn{}, err
		}
		return u.reclaim(it, s, owed)
	}
	bound, err := u.bound(it)
	if err != nil {
		return abacus.Drawn{}, err
	}
	own, beyond, err := shareOut(amount, lesserDrawn(s.Drawn, bound))
	if err != nil {
		return abacus.Drawn{}, err
	}
	if err := u.moveBack(it, own); err != nil {
		return abacus.Drawn{}, err
	}
	if beyond.IsZero() {
		return own, nil
	}
	more, err := u.credit(it, beyond)
	if err != nil {
		return abacus.Drawn{}, u.undo(it, own, err)
	}
	return addDrawn(own, more)
}

// reclaim takes owed back from the account for event s, which a credit
// once went to: from the buckets s's credits went to, in proportion. A
// voucher or bonus bucket gives what it still holds and cash the rest, as
// the account's floor allows: money a promotion credited and the account
// spent is owed in cash. Beyond s's credits it is charged like usage.
// It returns what came back to each bucket, negative, and changes nothing
// if the money cannot move.
func (u *usageBatch) reclaim(it *usageItem, s *abacus.StoredEvent, owed abacus.Amount) (abacus.Drawn, error) {
	credited, err := subDrawn(abacus.Drawn{}, s.Drawn)
	if err != nil {
		return abacus.Drawn{}, err
	}
	shares, beyond, err := shareOut(owed, credited)
	if err != nil {
		return abacus.Drawn{}, err
	}
	fromCash := shares.Cash
	for _, b := range []abacus.Bucket{abacus.BucketBonus, abacus.BucketVoucher} {
		avail, err := u.wallets[it.customer.ids[b]].Available()
		if err != nil {
			return abacus.Drawn{}, err
		}
		share, take := shares.Of(b), abacus.Zero
		if avail.IsPositive() {
			take = abacus.Min(*share, avail)
		}
		short, _ := share.Sub(take) // both within the share
		*share = take
		if fromCash, err = fromCash.Add(short); err != nil {
			return abacus.Drawn{}, err
		}
	}
	shares.Cash = fromCash
	cash := u.wallets[it.customer.ids[abacus.BucketCash]]
	if cash.HasFloor && fromCash.IsPositive() {
		avail, err := cash.Available()
		if err != nil {
			return abacus.Drawn{}, err
		}
		if room, err := avail.Sub(cash.Floor); err != nil || room.Cmp(fromCash) < 0 {
			// Not insufficientTotal: bonus or voucher money cannot pay
			// what is owed in cash, so "can spend" it would mislead (QA).
			return abacus.Drawn{}, abacus.Errorf(abacus.CodeInsufficientFunds, it.field(),
				"taking back the %s %s credit this event's charge had given needs %s %s from cash (bonus and voucher give back only what they still hold of "+
					"their share; what they spent is owed in cash), and account %s's cash has %s %s above its floor of %s",
				owed, it.customer.currency, fromCash, it.customer.currency, cash.Account, abacus.Max(room, abacus.Zero), it.customer.currency, cash.Floor)
		}
	}
	back, err := subDrawn(abacus.Drawn{}, shares)
	if err == nil {
		err = u.moveBack(it, back)
	}
	if err != nil || beyond.IsZero() {
		return back, err
	}
	d, err := u.charge(it, beyond)
	if err != nil {
		return abacus.Drawn{}, u.undo(it, back, err)
	}
	return subDrawn(back, d)
}

// undo moves back what moveBack moved as d, after a later step of the same
// movement failed with err, so that a refused item changes nothing; it
// returns err.
func (u *usageBatch) undo(it *usageItem, d abacus.Drawn, err error) error {
	back, uerr := subDrawn(abacus.Drawn{}, d)
	if uerr == nil {
		uerr = u.moveBack(it, back)
	}
	if uerr != nil {
		return uerr // not a refusal: the batch fails
	}
	return err
}

// moveBack moves what d says from revenue to each bucket (a negative part
// from the bucket to revenue); a zero d moves nothing.
func (u *usageBatch) moveBack(it *usageItem, d abacus.Drawn) error {
	total, err := d.Sum()
	if err != nil {
		return err
	}
	var parts []part
	for _, b := range abacus.CustomerBuckets {
		if a := *d.Of(b); !a.IsZero() {
			parts = append(parts, part{u.wallets[it.customer.ids[b]], a})
		}
	}
	back, err := total.Neg()
	if err != nil {
		return err
	}
	return u.move(it, parts, back)
}

// shareOut splits a positive amount over the buckets in proportion to what
// paid says each paid (its positive parts), each at most that, and returns
// what is beyond them all.
func shareOut(amount abacus.Amount, paid abacus.Drawn) (abacus.Drawn, abacus.Amount, error) {
	parts := [3]abacus.Amount{paid.Cash, paid.Bonus, paid.Voucher}
	var weights []int64
	total := abacus.Zero
	for i, p := range parts {
		if !p.IsPositive() {
			parts[i] = abacus.Zero
		}
		weights = append(weights, parts[i].Micros())
		var err error
		if total, err = total.Add(parts[i]); err != nil {
			return abacus.Drawn{}, abacus.Zero, err
		}
	}
	if total.IsZero() {
		return abacus.Drawn{}, amount, nil
	}
	if amount.Cmp(total) >= 0 {
		beyond, err := amount.Sub(total)
		return abacus.Drawn{Cash: parts[0], Bonus: parts[1], Voucher: parts[2]}, beyond, err
	}
	shares, err := abacus.Allocate(amount, weights)
	if err != nil {
		return abacus.Drawn{}, abacus.Zero, err
	}
	return abacus.Drawn{Cash: shares[0], Bonus: shares[1], Voucher: shares[2]}, abacus.Zero, nil
}

// lesserDrawn is lesser of a and b, bucket by bucket.
func lesserDrawn(a, b abacus.Drawn) abacus.Drawn {
	return abacus.Drawn{Cash: lesser(a.Cash, b.Cash), Bonus: lesser(a.Bonus, b.Bonus), Voucher: lesser(a.Voucher, b.Voucher)}
}

// lesser is the smaller of a and b, and zero if that is negative.
func lesser(a, b abacus.Amount) abacus.Amount {
	if m := abacus.Min(a, b); m.IsPositive() {
		return m
	}
	return abacus.Zero
}
