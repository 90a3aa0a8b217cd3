package http

import (
	"time"

	"github.com/shopspring/decimal"

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

// overdraftView has no limit when it is unlimited: "limit": "0" beside
// it read as no overdraft at all (QA).
type overdraftView struct {
	Limit     *abacus.Amount `json:"limit,omitempty"`
	Unlimited bool           `json:"unlimited"`
}

func newOverdraftView(o abacus.Overdraft) overdraftView {
	if o.Unlimited {
		return overdraftView{Unlimited: true}
	}
	return overdraftView{Limit: &o.Limit}
}

// balView sums wallets exactly, past what one Amount holds: each bucket
// may hold up to its most, and their total more (QA: an account with
// 5,000,000,000,000 in cash and as much in bonus could not be read).
type balView struct {
	Balance   decimal.Decimal `json:"balance"`
	Held      decimal.Decimal `json:"held"`
	Available decimal.Decimal `json:"available"`
}

func (b *balView) add(balance, held, available abacus.Amount) {
	b.Balance = b.Balance.Add(balance.Decimal())
	b.Held = b.Held.Add(held.Decimal())
	b.Available = b.Available.Add(available.Decimal())
}

func newAccountView(a abacus.Account, ws []abacus.Wallet) (accountView, error) {
	v := accountView{
		ID: a.ID, Kind: a.Kind, Name: a.Name, Currency: a.Currency, CreatedAt: a.CreatedAt,
		Overdraft: newOverdraftView(a.Overdraft), LowBalance: a.LowBalance,
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
		b.add(w.Balance, w.Held, avail)
		v.Balances[key] = b
		total.add(w.Balance, w.Held, avail)
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
