package abacus

import (
	"time"
)

// TxType says what a transaction did.
type TxType string

// Transaction types.
const (
	TxGrant    TxType = "grant"     // promotions → customer (bonus by default)
	TxTopup    TxType = "topup"     // payment clearing → customer (cash by default)
	TxCharge   TxType = "charge"    // customer → revenue
	TxRefund   TxType = "refund"    // refunds → customer (cash by default)
	TxAdjust   TxType = "adjust"    // adjustments ↔ customer, either sign
	TxTransfer TxType = "transfer"  // explicit postings
	TxRevert   TxType = "revert"    // the mirror image of an earlier transaction
	TxHoldPost TxType = "hold_post" // customer → revenue, drawn from a hold
	TxUsage    TxType = "usage"     // the netted charges of a batch of usage events
)

// Transaction is one atomic money movement: two or more postings that sum
// to zero per currency. Transactions and postings are never changed after
// they are written; a correction is a new transaction.
type Transaction struct {
	ID        int64 // unique and increasing in commit order within one account
	Type      TxType
	Memo      string
	Reverts   int64 // with TxRevert: the transaction reversed
	HoldID    int64 // with TxHoldPost: the hold drawn from
	CreatedAt time.Time
	Postings  []Posting
}

// Posting is one leg of a transaction: a signed amount on one wallet,
// positive when the wallet's balance grows. It carries the balance after
// it and the wallet's version, which counts its postings from 1.
type Posting struct {
	TxID         int64
	WalletID     int64
	Account      AccountID
	Bucket       Bucket
	Currency     Currency
	Amount       Amount
	BalanceAfter Amount
	Version      int64
}

// Entry is a posting as an account's statement shows it.
type Entry struct {
	Posting
	Type      TxType
	Memo      string
	CreatedAt time.Time
}

// HoldStatus is where a hold is in its life. Only open holds change, and
// each changes exactly once.
type HoldStatus string

// Hold statuses.
const (
	HoldOpen    HoldStatus = "open"
	HoldPosted  HoldStatus = "posted"
	HoldVoided  HoldStatus = "voided"
	HoldExpired HoldStatus = "expired"
)

// Hold reserves money in an account so that a later charge of up to the
// held amount cannot fail for want of funds.
type Hold struct {
	ID            int64
	Account       AccountID
	Currency      Currency
	Amount        Amount
	Status        HoldStatus
	Memo          string
	Legs          []HoldLeg // what is reserved in which bucket, in draw order
	CounterWallet int64     // where a post sends the money (revenue)
	ExpiresAt     time.Time // zero: never
	CreatedAt     time.Time
	ResolvedAt    time.Time // zero while open
	PostedAmount  Amount    // with HoldPosted
	TxID          int64     // with HoldPosted: the hold_post transaction
}

// HoldLeg is the part of a hold reserved in one wallet.
type HoldLeg struct {
	WalletID int64
	Bucket   Bucket
	Amount   Amount
}

// AsCreated returns the hold as it was when it was created, which is what
// a replay of its creation request answers.
func (h Hold) AsCreated() Hold {
	h.Status = HoldOpen
	h.ResolvedAt = time.Time{}
	h.PostedAmount = Zero
	h.TxID = 0
	return h
}

// Result is what a ledger operation produced.
type Result struct {
	Tx       *Transaction // set by operations that post
	Hold     *Hold        // set by hold operations
	Replayed bool         // the idempotency key was seen before; nothing new was applied
}
