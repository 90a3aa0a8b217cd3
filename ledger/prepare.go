package ledger

import (
	"context"
	"fmt"

	"github.com/abacus-billing/abacus"
)

// prepared is what an operation needs from outside its batch: the wallet
// ids it will touch and, for a revert, the transaction it mirrors. All of
// it is immutable once written, so it is safe to read before the batch
// takes its locks.
type prepared struct {
	customer  *customerWallets
	customers []*customerWallets // every customer account it touches
	counter   int64              // the system wallet on the other side
	legs      []int64            // Transfer: the wallet of each posting
	original  *abacus.Transaction
	// lock lists the wallets to lock: the lead wallet of each customer
	// account the operation touches, which serialises all changes to the
	// account (so its transactions also commit in the order of their ids),
	// and each system wallet. read lists every wallet the batch reads.
	lock, read []int64
}

func (p *prepared) lockCustomer(cw *customerWallets) {
	p.customers = append(p.customers, cw)
	p.lock = append(p.lock, cw.lead)
	for _, id := range cw.ids {
		p.read = append(p.read, id)
	}
}

func (p *prepared) lockWallet(id int64) {
	p.lock = append(p.lock, id)
	p.read = append(p.read, id)
}

func (e *Engine) prepare(ctx context.Context, op abacus.Op) (prepared, error) {
	var p prepared
	var err error
	switch o := op.(type) {
	case *abacus.Move:
		if p.customer, err = e.customerIn(ctx, o.Account, o.Currency); err != nil {
			return p, err
		}
		p.counter, err = e.cache.systemWallet(ctx, o.Counterparty().ID(), o.Currency)
	case *abacus.HoldCreate:
		if p.customer, err = e.customerIn(ctx, o.Account, o.Currency); err != nil {
			return p, err
		}
		p.counter, err = e.cache.systemWallet(ctx, abacus.SystemRevenue.ID(), o.Currency)
	case *abacus.Transfer:
		p.legs = make([]int64, len(o.Postings))
		for i, ps := range o.Postings {
			if p.legs[i], err = e.walletOf(ctx, &p, ps.Account, ps.Bucket, ps.Currency); err != nil {
				return p, abacus.WithField(err, fmt.Sprintf("postings[%d]", i))
			}
		}
	case *abacus.Revert:
		txs, err := e.store.Transactions(ctx, []int64{o.TxID})
		if err != nil {
			return p, err
		}
		if len(txs) == 0 {
			return p, abacus.Errorf(abacus.CodeNotFound, "transaction", "transaction %d does not exist", o.TxID)
		}
		p.original = &txs[0]
		for _, po := range p.original.Postings {
			if _, err := e.walletOf(ctx, &p, po.Account, po.Bucket, po.Currency); err != nil {
				return p, err
			}
		}
	case *abacus.HoldPost:
		err = e.prepareHold(ctx, &p, o.HoldID)
	case *abacus.HoldVoid:
		err = e.prepareHold(ctx, &p, o.HoldID)
	case *abacus.HoldExpire:
		err = e.prepareHold(ctx, &p, o.HoldID)
	}
	if p.customer != nil {
		p.lockCustomer(p.customer)
	}
	if p.counter != 0 {
		p.lockWallet(p.counter)
	}
	return p, err
}

// prepareHold finds the wallets a hold operation touches. The hold's
// status is read again under its lock; its account and legs never change.
func (e *Engine) prepareHold(ctx context.Context, p *prepared, id int64) error {
	h, err := e.store.Hold(ctx, id)
	if err != nil {
		return abacus.WithField(err, "hold")
	}
	cw, err := e.cache.customer(ctx, h.Account)
	if err != nil {
		return err
	}
	p.lockCustomer(cw)
	p.lockWallet(h.CounterWallet)
	return nil
}

func (e *Engine) customerIn(ctx context.Context, id abacus.AccountID, cur abacus.Currency) (*customerWallets, error) {
	cw, err := e.cache.customer(ctx, id)
	if err != nil {
		return nil, err
	}
	if cw.currency != cur {
		return nil, abacus.Errorf(abacus.CodeCurrencyMismatch, "currency", "account %s keeps %s, not %s", id, cw.currency, cur)
	}
	return cw, nil
}

// walletOf returns the wallet of an account, bucket and currency, and
// adds the account's wallets to those the operation locks.
func (e *Engine) walletOf(ctx context.Context, p *prepared, acct abacus.AccountID, b abacus.Bucket, cur abacus.Currency) (int64, error) {
	if _, system := abacus.SystemAccountByID(acct); system {
		id, err := e.cache.systemWallet(ctx, acct, cur)
		p.lockWallet(id)
		return id, err
	}
	cw, err := e.customerIn(ctx, acct, cur)
	if err != nil {
		return 0, err
	}
	p.lockCustomer(cw)
	return cw.ids[b], nil
}
