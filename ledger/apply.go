package ledger

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
)

// apply applies operation i to the batch state. A rejected operation
// records its error and leaves the state exactly as it found it.
func (b *batch) apply(i int, p *pending, ps []*pending) {
	if !b.keyCheck(i, p, ps) {
		return
	}
	it := &b.items[i]
	var err error
	switch o := p.op.(type) {
	case *abacus.Move:
		it.txIdx, err = b.move(o, p.prep)
	case *abacus.Transfer:
		legs := make([]leg, len(o.Postings))
		for j, ps := range o.Postings {
			legs[j] = leg{w: b.wallets[p.prep.legs[j]], amount: ps.Amount, field: fmt.Sprintf("postings[%d].amount", j)}
		}
		it.txIdx, err = b.post(abacus.Transaction{Type: abacus.TxTransfer, Memo: o.Memo}, legs)
	case *abacus.Revert:
		it.txIdx, err = b.revert(o, p.prep.original)
	case *abacus.HoldCreate:
		it.newHold, err = b.holdCreate(o, p.prep)
	case *abacus.HoldPost:
		it.txIdx, it.resolved, err = b.holdPost(o)
	case *abacus.HoldVoid:
		it.resolved, err = b.holdRelease(o.HoldID, abacus.HoldVoided)
	case *abacus.HoldExpire:
		it.resolved, err = b.holdRelease(o.HoldID, abacus.HoldExpired)
	default:
		err = abacus.Errorf(abacus.CodeInternal, "", "unknown operation %T", p.op)
	}
	it.err = err
}

// leg is one wallet's part in a transaction: amount is posted to its
// balance and release is taken off what it holds.
type leg struct {
	w       *abacus.Wallet
	amount  abacus.Amount
	release abacus.Amount
	field   string // what a refusal names; "amount" if empty
}

// post appends a transaction of the legs' postings, after checking that
// no debited wallet falls below its floor. It changes nothing on error.
func (b *batch) post(t abacus.Transaction, legs []leg) (int, error) {
	type after struct{ balance, held abacus.Amount }
	next := make([]after, len(legs))
	for i, l := range legs {
		for _, m := range legs[:i] {
			if m.w == l.w {
				// Two legs on one wallet would lose one of the changes.
				return -1, abacus.Errorf(abacus.CodeInternal, "", "transaction touches wallet %d twice", l.w.ID)
			}
		}
		bal, err := l.w.Balance.Add(l.amount)
		if err != nil {
			return -1, balanceOverflow(l.w, "balance")
		}
		held, err := l.w.Held.Sub(l.release)
		if err != nil {
			return -1, balanceOverflow(l.w, "held amount")
		}
		// What is available must fit an amount too, floor or not: a wallet
		// without one could otherwise end where its available amount
		// cannot be computed, let alone shown.
		avail, err := bal.Sub(held)
		if err != nil {
			return -1, balanceOverflow(l.w, "available amount (balance less held)")
		}
		if l.amount.IsNegative() && l.w.HasFloor && avail.Cmp(l.w.Floor) < 0 {
			return -1, b.insufficient(l.w, l.amount, cmp.Or(l.field, "amount"))
		}
		next[i] = after{bal, held}
	}
	t.CreatedAt = b.now
	for i, l := range legs {
		l.w.Balance, l.w.Held = next[i].balance, next[i].held
		if l.amount.IsZero() {
			continue
		}
		l.w.Version++
		t.Postings = append(t.Postings, abacus.Posting{
			WalletID: l.w.ID, Account: l.w.Account, Bucket: l.w.Bucket, Currency: l.w.Currency,
			Amount: l.amount, BalanceAfter: l.w.Balance, Version: l.w.Version,
		})
	}
	// Stored postings read back in wallet order; keep the same order here
	// so that a replay answers exactly what the first request got.
	slices.SortFunc(t.Postings, func(x, y abacus.Posting) int { return cmp.Compare(x.WalletID, y.WalletID) })
	b.txs = append(b.txs, t)
	return len(b.txs) - 1, nil
}

func (b *batch) insufficient(w *abacus.Wallet, debit abacus.Amount, field string) error {
	avail, _ := w.Available()
	need, _ := debit.Abs()
	floor := "0"
	if w.HasFloor {
		floor = w.Floor.String()
	}
	return abacus.Errorf(abacus.CodeInsufficientFunds, field,
		"account %s has %s %s available in %s (floor %s); %s is needed", w.Account, avail, w.Currency, w.Bucket, floor, need)
}

func (b *batch) move(m *abacus.Move, prep prepared) (int, error) {
	counter := b.wallets[prep.counter]
	t := abacus.Transaction{Type: m.Type, Memo: m.Memo}
	neg, err := m.Amount.Neg()
	if err != nil {
		return -1, err
	}
	switch {
	case m.Type == abacus.TxCharge && m.Bucket == "":
		parts, err := b.draw(prep.customer, m.Amount)
		if err != nil {
			return -1, err
		}
		legs := make([]leg, 0, len(parts)+1)
		for _, pt := range parts {
			d, _ := pt.amount.Neg()
			legs = append(legs, leg{w: pt.w, amount: d})
		}
		return b.post(t, append(legs, leg{w: counter, amount: m.Amount}))
	case m.Type == abacus.TxCharge:
		w := b.wallets[prep.customer.ids[m.Bucket]]
		return b.post(t, []leg{{w: w, amount: neg}, {w: counter, amount: m.Amount}})
	default: // a credit, or an adjustment of either sign
		w := b.wallets[prep.customer.ids[m.CreditBucket()]]
		return b.post(t, []leg{{w: w, amount: m.Amount}, {w: counter, amount: neg}})
	}
}

type part struct {
	w      *abacus.Wallet
	amount abacus.Amount
}

// draw splits amount across a customer's buckets: each bucket in the draw
// order gives what it has available above zero, and whatever is still
// owed lands on cash as far as its floor allows.
func (b *batch) draw(c *customerWallets, amount abacus.Amount) ([]part, error) {
	var parts []part
	remaining := amount
	for _, bk := range b.drawOrder {
		if remaining.IsZero() {
			break
		}
		w := b.wallets[c.ids[bk]]
		avail, err := w.Available()
		if err != nil {
			return nil, err
		}
		if !avail.IsPositive() {
			continue
		}
		take := abacus.Min(avail, remaining)
		parts = append(parts, part{w, take})
		remaining, _ = remaining.Sub(take)
	}
	if remaining.IsZero() {
		return parts, nil
	}
	cash := b.wallets[c.ids[abacus.BucketCash]]
	if cash.HasFloor {
		avail, err := cash.Available()
		if err != nil {
			return nil, err
		}
		for _, pt := range parts {
			if pt.w == cash {
				avail, _ = avail.Sub(pt.amount)
			}
		}
		room, err := avail.Sub(cash.Floor)
		if err != nil {
			return nil, err
		}
		if room.Cmp(remaining) < 0 {
			return nil, b.insufficientTotal(c, amount)
		}
	}
	for i := range parts {
		if parts[i].w == cash {
			s, err := parts[i].amount.Add(remaining)
			if err != nil {
				return nil, err
			}
			parts[i].amount = s
			return parts, nil
		}
	}
	return append(parts, part{cash, remaining}), nil
}

// balanceOverflow refuses a change that would take what of w (its
// balance, held or available amount) past the largest amount, naming the
// wallet: when that is revenue's, every account's charges are refused,
// and must not read as if their own amounts were too large (QA).
func balanceOverflow(w *abacus.Wallet, what string) error {
	owner := "account " + string(w.Account) + "'s"
	if name, ok := abacus.SystemAccountByID(w.Account); ok {
		owner = "the " + string(name) + " account's"
	}
	return abacus.Errorf(abacus.CodeOverflow, "amount", "the %s of %s %s wallet in %s would pass the largest amount abacus holds (±9223372036854.775807); nothing moved",
		what, owner, w.Bucket, w.Currency)
}

func (b *batch) insufficientTotal(c *customerWallets, need abacus.Amount) error {
	cash := b.wallets[c.ids[abacus.BucketCash]]
	return insufficient("amount", cash.Account, b.spendable(c), c.currency, cash.Floor, need)
}

// insufficient is the refusal of need where an account can spend only
// spendable, naming field.
func insufficient(field string, acct abacus.AccountID, spendable abacus.Amount, cur abacus.Currency, floor, need abacus.Amount) error {
	return abacus.Errorf(abacus.CodeInsufficientFunds, field,
		"account %s can spend %s %s (what its buckets have available, cash down to its floor of %s); %s is needed", acct, spendable, cur, floor, need)
}

// spendable is what a customer's buckets have available above zero, and
// cash down to its floor: what a charge may take. (Above zero alone, an
// account with cash at -4 of a floor of -5 was told it had 0 for a charge
// of 2, and then took one of 1; QA.)
func (b *batch) spendable(c *customerWallets) abacus.Amount {
	total := abacus.Zero
	for _, bk := range b.drawOrder {
		w := b.wallets[c.ids[bk]]
		a, err := w.Available()
		if err != nil {
			continue
		}
		if bk == abacus.BucketCash && w.HasFloor {
			if a, err = a.Sub(w.Floor); err != nil {
				continue
			}
		}
		if a.IsPositive() {
			total, _ = total.Add(a)
		}
	}
	return total
}

func (b *batch) revert(r *abacus.Revert, orig *abacus.Transaction) (int, error) {
	if orig.Type == abacus.TxRevert {
		return -1, abacus.Errorf(abacus.CodeInvalid, "transaction", "transaction %d is itself a revert; post a new transaction instead", orig.ID)
	}
	if orig.Type == abacus.TxUsage {
		// Its events record what they were charged and what each bucket
		// paid; a mirror image would give the money back outside them, and
		// a void would then give it back again.
		return -1, abacus.Errorf(abacus.CodeConflict, "transaction", "transaction %d charged usage events: take usage back by voiding its events (POST /api/v1/accounting/metering/events/{id}/void), not by a revert", orig.ID)
	}
	if b.reverted[orig.ID] {
		return -1, abacus.Errorf(abacus.CodeAlreadyReverted, "transaction", "transaction %d has already been reverted", orig.ID)
	}
	legs := make([]leg, len(orig.Postings))
	for i, po := range orig.Postings {
		neg, err := po.Amount.Neg()
		if err != nil {
			return -1, err
		}
		legs[i] = leg{w: b.wallets[po.WalletID], amount: neg, field: "transaction"} // a revert has no amount of its own (QA)
	}
	memo := r.Memo
	if memo == "" {
		memo = fmt.Sprintf("revert of transaction %d", orig.ID)
	}
	idx, err := b.post(abacus.Transaction{Type: abacus.TxRevert, Memo: memo, Reverts: orig.ID}, legs)
	if err == nil {
		b.reverted[orig.ID] = true
	}
	return idx, err
}

func (b *batch) holdCreate(o *abacus.HoldCreate, prep prepared) (int, error) {
	// The stores keep whole microseconds, as b.now is: judge and answer
	// the expiry the hold will have when it is read back.
	expires := o.ExpiresAt.UTC().Truncate(time.Microsecond)
	if !expires.IsZero() && !expires.After(b.now) {
		return -1, abacus.Errorf(abacus.CodeInvalid, "expires_at", "%s is not in the future", o.ExpiresAt.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	var parts []part
	if o.Bucket != "" {
		w := b.wallets[prep.customer.ids[o.Bucket]]
		avail, err := w.Available()
		if err != nil {
			return -1, err
		}
		if w.HasFloor {
			left, err := avail.Sub(o.Amount)
			if err != nil {
				return -1, err
			}
			if left.Cmp(w.Floor) < 0 {
				neg, _ := o.Amount.Neg()
				return -1, b.insufficient(w, neg, "amount")
			}
		}
		parts = []part{{w, o.Amount}}
	} else {
		var err error
		if parts, err = b.draw(prep.customer, o.Amount); err != nil {
			return -1, err
		}
	}
	held := make([]abacus.Amount, len(parts))
	for i, pt := range parts {
		h, err := pt.w.Held.Add(pt.amount)
		if err != nil {
			return -1, balanceOverflow(pt.w, "held amount")
		}
		if _, err := pt.w.Balance.Sub(h); err != nil {
			return -1, balanceOverflow(pt.w, "available amount (balance less held)")
		}
		held[i] = h
	}
	h := abacus.Hold{
		Account: o.Account, Currency: o.Currency, Amount: o.Amount, Status: abacus.HoldOpen,
		Memo: o.Memo, CounterWallet: prep.counter, ExpiresAt: expires, CreatedAt: b.now,
	}
	for i, pt := range parts {
		pt.w.Held = held[i]
		h.Legs = append(h.Legs, abacus.HoldLeg{WalletID: pt.w.ID, Bucket: pt.w.Bucket, Amount: pt.amount})
	}
	b.newHolds = append(b.newHolds, h)
	return len(b.newHolds) - 1, nil
}

// openHold returns the hold if it may still be resolved. A hold past its
// expiry is expired on the spot, so what it held is released even before
// the sweeper comes by.
func (b *batch) openHold(id int64) (*abacus.Hold, error) {
	h := b.holds[id]
	if h == nil {
		return nil, abacus.Errorf(abacus.CodeNotFound, "hold", "hold %d does not exist", id)
	}
	if h.Status == abacus.HoldOpen && !h.ExpiresAt.IsZero() && !b.now.Before(h.ExpiresAt) {
		b.release(h, abacus.HoldExpired)
		return nil, abacus.Errorf(abacus.CodeHoldExpired, "hold", "hold %d expired at %s; what it held is released", id, h.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	switch h.Status {
	case abacus.HoldOpen:
	case abacus.HoldExpired:
		// The same answer the request got when it found the hold expiring.
		return nil, abacus.Errorf(abacus.CodeHoldExpired, "hold", "hold %d expired at %s; what it held is released", id, h.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
	default:
		return nil, abacus.Errorf(abacus.CodeHoldNotOpen, "hold", "hold %d is already %s", id, h.Status)
	}
	return h, nil
}

func (b *batch) holdPost(o *abacus.HoldPost) (txIdx, resolved int, err error) {
	h, err := b.openHold(o.HoldID)
	if err != nil {
		return -1, -1, err
	}
	amount := h.Amount
	if o.Amount != nil {
		if o.Amount.Cmp(h.Amount) > 0 {
			return -1, -1, abacus.Errorf(abacus.CodeInvalid, "amount", "%s is more than the %s held", o.Amount, h.Amount)
		}
		amount = *o.Amount
	}
	legs := make([]leg, 0, len(h.Legs)+1)
	remaining := amount
	for _, l := range h.Legs {
		take := abacus.Min(l.Amount, remaining)
		remaining, _ = remaining.Sub(take)
		neg, _ := take.Neg()
		legs = append(legs, leg{w: b.wallets[l.WalletID], amount: neg, release: l.Amount})
	}
	legs = append(legs, leg{w: b.wallets[h.CounterWallet], amount: amount})
	txIdx, err = b.post(abacus.Transaction{Type: abacus.TxHoldPost, Memo: o.Memo, HoldID: h.ID}, legs)
	if err != nil {
		return -1, -1, err
	}
	h.Status, h.ResolvedAt, h.PostedAmount = abacus.HoldPosted, b.now, amount
	b.resolutions = append(b.resolutions, resolution{hold: h, txIdx: txIdx})
	return txIdx, len(b.resolutions) - 1, nil
}

// holdRelease voids a hold, or expires one that is due.
func (b *batch) holdRelease(id int64, status abacus.HoldStatus) (int, error) {
	if status == abacus.HoldVoided {
		h, err := b.openHold(id)
		if err != nil {
			return -1, err
		}
		return b.release(h, status), nil
	}
	h := b.holds[id]
	switch {
	case h == nil:
		return -1, abacus.Errorf(abacus.CodeNotFound, "hold", "hold %d does not exist", id)
	case h.Status != abacus.HoldOpen:
		return -1, abacus.Errorf(abacus.CodeHoldNotOpen, "hold", "hold %d is already %s", id, h.Status)
	case h.ExpiresAt.IsZero() || b.now.Before(h.ExpiresAt):
		return -1, abacus.Errorf(abacus.CodeInvalid, "hold", "hold %d is not due to expire", id)
	}
	return b.release(h, status), nil
}

// release gives back everything a hold reserved.
func (b *batch) release(h *abacus.Hold, status abacus.HoldStatus) int {
	for _, l := range h.Legs {
		w := b.wallets[l.WalletID]
		w.Held, _ = w.Held.Sub(l.Amount) // held ≥ every open leg, so no overflow
	}
	h.Status, h.ResolvedAt = status, b.now
	b.resolutions = append(b.resolutions, resolution{hold: h, txIdx: -1})
	return len(b.resolutions) - 1
}
