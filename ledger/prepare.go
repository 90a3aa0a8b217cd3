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
	customer *customerWallets
	counter  int64   // the system wallet on the other side
	legs     []int64 // Transfer: the wallet of each posting
	original *abacus.Transaction
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
			if p.legs[i], err = e.walletOf(ctx, ps); err != nil {
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
	}
	return p, err
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

func (e *Engine) walletOf(ctx context.Context, ps abacus.PostingSpec) (int64, error) {
	if _, system := abacus.SystemAccountByID(ps.Account); system {
		return e.cache.systemWallet(ctx, ps.Account, ps.Currency)
	}
	cw, err := e.customerIn(ctx, ps.Account, ps.Currency)
	if err != nil {
		return 0, err
	}
	return cw.ids[ps.Bucket], nil
}
