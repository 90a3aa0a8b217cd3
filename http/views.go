package http

import (
	"time"

	"github.com/abacus-billing/abacus"
)

// The API's response shapes. Amounts are exact decimal strings.

type accountView struct {
	ID        abacus.AccountID   `json:"id"`
	Kind      abacus.AccountKind `json:"kind"`
	Name      string             `json:"name"`
	Currency  abacus.Currency    `json:"currency"`
	Overdraft overdraftView      `json:"overdraft"`
	// LowBalance: a low_balance message is written when the available
	// total falls below it.
	LowBalance *abacus.Amount `json:"low_balance_threshold"`
	CreatedAt  time.Time      `json:"created_at"`
	// Balances are keyed by bucket; a system account's by currency.
	Balances map[string]balView `json:"balances"`
	Total    *balView           `json:"total,omitempty"` // not for system accounts
}

type overdraftView struct {
	Limit     abacus.Amount `json:"limit"`
	Unlimited bool          `json:"unlimited"`
}

type balView struct {
	Balance   abacus.Amount `json:"balance"`
	Held      abacus.Amount `json:"held"`
	Available abacus.Amount `json:"available"`
}

func newAccountView(a abacus.Account, ws []abacus.Wallet) (accountView, error) {
	v := accountView{
		ID: a.ID, Kind: a.Kind, Name: a.Name, Currency: a.Currency, CreatedAt: a.CreatedAt,
		Overdraft: overdraftView{a.Overdraft.Limit, a.Overdraft.Unlimited}, LowBalance: a.LowBalance,
		Balances: map[string]balView{},
	}
	if a.Kind == abacus.KindSystem {
		v.Overdraft = overdraftView{Unlimited: true} // the platform's side has no floor
	}
	var total balView
	for _, w := range ws {
		avail, err := w.Available()
		if err != nil {
			return v, err
		}
		key := string(w.Bucket)
		if a.Kind == abacus.KindSystem {
			key = string(w.Currency) // revenue's shards add up to its balance
		}
		b := v.Balances[key]
		if b.Balance, err = b.Balance.Add(w.Balance); err != nil {
			return v, err
		}
		if b.Held, err = b.Held.Add(w.Held); err != nil {
			return v, err
		}
		if b.Available, err = b.Available.Add(avail); err != nil {
			return v, err
		}
		v.Balances[key] = b
		if total.Balance, err = total.Balance.Add(w.Balance); err != nil {
			return v, err
		}
		if total.Held, err = total.Held.Add(w.Held); err != nil {
			return v, err
		}
		if total.Available, err = total.Available.Add(avail); err != nil {
			return v, err
		}
	}
	if a.Kind != abacus.KindSystem {
		v.Total = &total
	}
	return v, nil
}

type postingView struct {
	Account      abacus.AccountID `json:"account"`
	System       string           `json:"system,omitempty"` // the system account's name, if it is one
	Bucket       abacus.Bucket    `json:"bucket"`
	Currency     abacus.Currency  `json:"currency"`
	Amount       abacus.Amount    `json:"amount"`
	BalanceAfter abacus.Amount    `json:"balance_after"`
	Version      int64            `json:"version"`
}

type transactionView struct {
	ID        int64         `json:"id"`
	Type      abacus.TxType `json:"type"`
	Memo      string        `json:"memo"`
	Reverts   int64         `json:"reverts,omitempty"`
	Hold      int64         `json:"hold,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	Postings  []postingView `json:"postings"`
}

func newTransactionView(t *abacus.Transaction) transactionView {
	v := transactionView{ID: t.ID, Type: t.Type, Memo: t.Memo, Reverts: t.Reverts, Hold: t.HoldID, CreatedAt: t.CreatedAt}
	for _, p := range t.Postings {
		sys, _ := abacus.SystemAccountByID(p.Account)
		v.Postings = append(v.Postings, postingView{p.Account, string(sys), p.Bucket, p.Currency, p.Amount, p.BalanceAfter, p.Version})
	}
	return v
}

type holdView struct {
	ID           int64             `json:"id"`
	Account      abacus.AccountID  `json:"account"`
	Currency     abacus.Currency   `json:"currency"`
	Amount       abacus.Amount     `json:"amount"`
	Status       abacus.HoldStatus `json:"status"`
	Memo         string            `json:"memo"`
	Legs         []holdLegView     `json:"legs"`
	ExpiresAt    *time.Time        `json:"expires_at"`
	CreatedAt    time.Time         `json:"created_at"`
	ResolvedAt   *time.Time        `json:"resolved_at"`
	PostedAmount abacus.Amount     `json:"posted_amount"`
	Transaction  int64             `json:"transaction,omitempty"`
}

type holdLegView struct {
	Bucket abacus.Bucket `json:"bucket"`
	Amount abacus.Amount `json:"amount"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func newHoldView(h *abacus.Hold) holdView {
	v := holdView{
		ID: h.ID, Account: h.Account, Currency: h.Currency, Amount: h.Amount, Status: h.Status, Memo: h.Memo,
		ExpiresAt: optTime(h.ExpiresAt), CreatedAt: h.CreatedAt, ResolvedAt: optTime(h.ResolvedAt),
		PostedAmount: h.PostedAmount, Transaction: h.TxID, Legs: []holdLegView{},
	}
	for _, l := range h.Legs {
		v.Legs = append(v.Legs, holdLegView{l.Bucket, l.Amount})
	}
	return v
}

type entryView struct {
	Transaction  int64           `json:"transaction"`
	Type         abacus.TxType   `json:"type"`
	Memo         string          `json:"memo"`
	Bucket       abacus.Bucket   `json:"bucket"`
	Currency     abacus.Currency `json:"currency"`
	Amount       abacus.Amount   `json:"amount"`
	BalanceAfter abacus.Amount   `json:"balance_after"`
	Version      int64           `json:"version"`
	CreatedAt    time.Time       `json:"created_at"`
}
