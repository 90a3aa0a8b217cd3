package ledger_test

import (
	"cmp"
	"math/big"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
)

// The oracle of the model test: the ledger's rules restated over exact
// big integers of micro-units, with nothing shared with the engine but the
// rules themselves.

// mWallet is the oracle's view of one wallet.
type mWallet struct {
	id      int64
	name    string
	bal     big.Int
	held    big.Int
	version int64
	floor   *big.Int // nil: no floor
}

func (w *mWallet) avail() *big.Int { return new(big.Int).Sub(&w.bal, &w.held) }

// mAccount is a customer account and its buckets.
type mAccount struct {
	id      abacus.AccountID
	wallets map[abacus.Bucket]*mWallet
}

// mPosting is a posting the oracle expects.
type mPosting struct {
	w       *mWallet
	amount  *big.Int
	after   *big.Int
	version int64
}

// mLeg is one wallet's part in a transaction: amount goes onto its
// balance, release comes off what it holds.
type mLeg struct {
	w       *mWallet
	amount  *big.Int
	release *big.Int // nil: none
}

// mTx is a transaction the oracle knows.
type mTx struct {
	id       int64
	isRevert bool
	reverted bool
	legs     []mPosting
}

// mHoldLeg is what a hold reserves in one wallet.
type mHoldLeg struct {
	w      *mWallet
	amount *big.Int
}

// mHold is a hold the oracle knows.
type mHold struct {
	id      int64
	amount  *big.Int
	legs    []mHoldLeg
	status  abacus.HoldStatus
	expires time.Time
	posted  *big.Int
}

func bigOf(a abacus.Amount) *big.Int { return big.NewInt(a.Micros()) }

func neg(x *big.Int) *big.Int { return new(big.Int).Neg(x) }

func minBig(x, y *big.Int) *big.Int {
	if x.Cmp(y) < 0 {
		return new(big.Int).Set(x)
	}
	return new(big.Int).Set(y)
}

// inRange reports whether x fits an amount (an int64 of micro-units).
func inRange(x *big.Int) bool { return x.IsInt64() }

// post applies the legs if every new balance and held amount fits an
// amount and no debited wallet ends below its floor (balance − held, after
// the leg); it returns the postings it made, in wallet order. It changes
// nothing when it refuses, and says why: overflow or insufficient_funds.
func post(legs []mLeg) ([]mPosting, abacus.ErrorCode) {
	for _, l := range legs {
		bal := new(big.Int).Add(&l.w.bal, l.amount)
		held := new(big.Int).Set(&l.w.held)
		if l.release != nil {
			held.Sub(held, l.release)
		}
		avail := new(big.Int).Sub(bal, held)
		if !inRange(bal) || !inRange(held) || !inRange(avail) {
			return nil, abacus.CodeOverflow
		}
		if l.amount.Sign() < 0 && l.w.floor != nil && avail.Cmp(l.w.floor) < 0 {
			return nil, abacus.CodeInsufficientFunds
		}
	}
	var ps []mPosting
	for _, l := range legs {
		l.w.bal.Add(&l.w.bal, l.amount)
		if l.release != nil {
			l.w.held.Sub(&l.w.held, l.release)
		}
		if l.amount.Sign() != 0 {
			l.w.version++
			ps = append(ps, mPosting{w: l.w, amount: new(big.Int).Set(l.amount), after: new(big.Int).Set(&l.w.bal), version: l.w.version})
		}
	}
	slices.SortFunc(ps, func(x, y mPosting) int { return cmp.Compare(x.w.id, y.w.id) })
	return ps, ""
}

// draw splits amount across the buckets of a: voucher, then cash, then
// bonus, each giving what it has available above zero; the rest lands on
// cash as far as its floor allows. It says why when it does not fit.
func draw(a *mAccount, amount *big.Int) ([]mHoldLeg, abacus.ErrorCode) {
	remaining := new(big.Int).Set(amount)
	var parts []mHoldLeg
	for _, bk := range []abacus.Bucket{abacus.BucketVoucher, abacus.BucketCash, abacus.BucketBonus} {
		if remaining.Sign() == 0 {
			break
		}
		w := a.wallets[bk]
		av := w.avail()
		if !inRange(av) {
			return nil, abacus.CodeOverflow
		}
		if av.Sign() <= 0 {
			continue
		}
		take := minBig(av, remaining)
		parts = append(parts, mHoldLeg{w, take})
		remaining.Sub(remaining, take)
	}
	if remaining.Sign() == 0 {
		return parts, ""
	}
	cash := a.wallets[abacus.BucketCash]
	if cash.floor != nil {
		room := cash.avail()
		for _, p := range parts {
			if p.w == cash {
				room.Sub(room, p.amount)
			}
		}
		room.Sub(room, cash.floor)
		if room.Cmp(remaining) < 0 {
			return nil, abacus.CodeInsufficientFunds
		}
	}
	for i := range parts {
		if parts[i].w == cash {
			parts[i].amount.Add(parts[i].amount, remaining)
			return parts, ""
		}
	}
	return append(parts, mHoldLeg{cash, remaining}), ""
}

// release gives back what an open hold reserves and marks it resolved.
func release(h *mHold, status abacus.HoldStatus) {
	for _, l := range h.legs {
		l.w.held.Sub(&l.w.held, l.amount)
	}
	h.status = status
}

// maxCharge is the most a charge without a bucket can take from a:
// everything available above zero, plus cash's room down to its floor.
// ok is false when cash has no floor.
func maxCharge(a *mAccount) (*big.Int, bool) {
	total := new(big.Int)
	for _, w := range a.wallets {
		if av := w.avail(); av.Sign() > 0 {
			total.Add(total, av)
		}
	}
	cash := a.wallets[abacus.BucketCash]
	if cash.floor == nil {
		return total, false
	}
	room := cash.avail()
	if room.Sign() > 0 {
		room.SetInt64(0)
	}
	room.Sub(room, cash.floor)
	return total.Add(total, room), true
}
