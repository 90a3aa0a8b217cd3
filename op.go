package abacus

import (
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Op is a ledger operation. The ledger engine applies it atomically: all of
// its postings or none.
type Op interface {
	// Validate checks what can be checked without the database and
	// fills in defaults and canonical forms, so it changes the op: do not
	// share one op value between goroutines. Its errors name the field at fault.
	Validate() error
	// Kind names the operation in idempotency hashes and logs.
	Kind() string
}

// MaxMemoBytes bounds a memo.
const MaxMemoBytes = 1000

// Move is a named operation between one customer account and the system
// account its type implies: grant, topup, charge, refund or adjust.
type Move struct {
	Type     TxType
	Account  AccountID
	Currency Currency
	Amount   Amount // positive; with adjust, the sign says which way
	Bucket   Bucket // empty: the type's default (a charge then draws in the engine's draw order, DefaultDrawOrder unless configured)
	Memo     string
}

// Transfer is a transaction of explicit postings.
type Transfer struct {
	Postings []PostingSpec
	Memo     string
}

// PostingSpec is one requested leg of a Transfer.
type PostingSpec struct {
	Account  AccountID
	Bucket   Bucket // empty: cash for a customer, main for a system account
	Currency Currency
	Amount   Amount
}

// Revert appends the mirror image of an earlier transaction. A transaction
// is reverted at most once; reverts themselves cannot be reverted.
type Revert struct {
	TxID int64
	Memo string
}

// HoldCreate reserves Amount in Account.
type HoldCreate struct {
	Account   AccountID
	Currency  Currency
	Amount    Amount
	Bucket    Bucket    // empty: reserve across buckets in the engine's draw order
	ExpiresAt time.Time // zero: never
	Memo      string
}

// HoldPost charges up to the held amount and releases the rest.
type HoldPost struct {
	HoldID int64
	Amount *Amount // nil: the whole hold
	Memo   string
}

// HoldVoid releases a hold without charging anything.
type HoldVoid struct{ HoldID int64 }

// HoldExpire releases a hold whose expiry has passed. The engine's sweeper
// issues it; nobody else needs to.
type HoldExpire struct{ HoldID int64 }

func (Move) Kind() string       { return "move" }
func (Transfer) Kind() string   { return "transfer" }
func (Revert) Kind() string     { return "revert" }
func (HoldCreate) Kind() string { return "hold_create" }
func (HoldPost) Kind() string   { return "hold_post" }
func (HoldVoid) Kind() string   { return "hold_void" }
func (HoldExpire) Kind() string { return "hold_expire" }

func validateMemo(m string) error { return ValidateText("memo", m, MaxMemoBytes) }

// ValidateText checks free text that will be stored: at most max bytes of
// valid UTF-8 without NUL characters, which PostgreSQL cannot store.
func ValidateText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(CodeInvalid, field, "is longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return Errorf(CodeInvalid, field, "is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return Errorf(CodeInvalid, field, "contains a NUL character")
	}
	return nil
}

// validateCustomer checks that id names a customer account and puts it in
// canonical lower-case form, so that one account has one spelling in
// wallet lookups, duplicate checks and idempotency hashes.
func validateCustomer(id *AccountID) error {
	canon, err := ParseAccountID(string(*id))
	if err != nil {
		return err
	}
	if _, ok := SystemAccountByID(canon); ok {
		return Errorf(CodeInvalid, "account", "%s is a system account; name a customer account", canon)
	}
	*id = canon
	return nil
}

func validatePositive(a Amount) error {
	if !a.IsPositive() {
		return Errorf(CodeInvalid, "amount", "must be greater than zero")
	}
	return nil
}

// Validate implements Op.
func (m *Move) Validate() error {
	switch m.Type {
	case TxGrant, TxTopup, TxCharge, TxRefund:
		if err := validatePositive(m.Amount); err != nil {
			return err
		}
	case TxAdjust:
		if m.Amount.IsZero() {
			return Errorf(CodeInvalid, "amount", "must not be zero")
		}
	default:
		return Errorf(CodeInvalid, "type", "%q is not one of grant, topup, charge, refund, adjust", m.Type)
	}
	if err := validateCustomer(&m.Account); err != nil {
		return err
	}
	if _, err := ParseCurrency(string(m.Currency)); err != nil {
		return err
	}
	if m.Bucket != "" {
		if _, err := ParseBucket(string(m.Bucket)); err != nil {
			return err
		}
	} else if m.Type != TxCharge {
		// Spell the default out, so that a retry naming it is the same request.
		m.Bucket = m.CreditBucket()
	}
	return validateMemo(m.Memo)
}

// Counterparty returns the system account on the other side of a move.
func (m *Move) Counterparty() SystemAccount {
	switch m.Type {
	case TxGrant:
		return SystemPromotions
	case TxTopup:
		return SystemPaymentClearing
	case TxCharge:
		return SystemRevenue
	case TxRefund:
		return SystemRefunds
	}
	return SystemAdjustments
}

// CreditBucket returns the bucket a crediting move lands in.
func (m *Move) CreditBucket() Bucket {
	switch {
	case m.Bucket != "":
		return m.Bucket
	case m.Type == TxGrant:
		return BucketBonus
	}
	return BucketCash
}

// MaxPostings bounds the legs of one transfer.
const MaxPostings = 100

// Validate implements Op.
func (t *Transfer) Validate() error {
	if len(t.Postings) < 2 {
		return Errorf(CodeInvalid, "postings", "a transaction needs at least two postings")
	}
	if len(t.Postings) > MaxPostings {
		return Errorf(CodeInvalid, "postings", "at most %d postings", MaxPostings)
	}
	// Sum in big integers: the legs of a valid transfer may pass outside
	// the int64 range on the way to zero, whatever their order.
	sums := map[Currency]*big.Int{}
	seen := map[WalletKey]bool{}
	for i := range t.Postings {
		p := &t.Postings[i]
		field := fmt.Sprintf("postings[%d]", i)
		id, err := ParseAccountID(string(p.Account))
		if err != nil {
			return WithField(err, field)
		}
		p.Account = id // canonical, so that the duplicate check sees through case
		if _, err := ParseCurrency(string(p.Currency)); err != nil {
			return WithField(err, field)
		}
		_, system := SystemAccountByID(p.Account)
		switch {
		case system && (p.Bucket == "" || p.Bucket == BucketMain):
			p.Bucket = BucketMain
		case system:
			return Errorf(CodeInvalid, field+".bucket", "a system account has only the bucket main")
		case p.Bucket == "":
			p.Bucket = BucketCash
		default:
			if _, err := ParseBucket(string(p.Bucket)); err != nil {
				return WithField(err, field)
			}
		}
		if p.Amount.IsZero() {
			return Errorf(CodeInvalid, field+".amount", "must not be zero")
		}
		k := WalletKey{p.Account, p.Bucket, p.Currency}
		if seen[k] {
			return Errorf(CodeInvalid, field, "names the same account, bucket and currency as an earlier posting; merge them")
		}
		seen[k] = true
		s := sums[p.Currency]
		if s == nil {
			s = new(big.Int)
			sums[p.Currency] = s
		}
		s.Add(s, big.NewInt(p.Amount.micros))
	}
	for c, s := range sums {
		if s.Sign() != 0 {
			return Errorf(CodeInvalid, "postings", "the %s postings sum to %s; they must sum to zero", c, decimal.NewFromBigInt(s, -Scale))
		}
	}
	return validateMemo(t.Memo)
}

// Validate implements Op.
func (r *Revert) Validate() error {
	if r.TxID <= 0 {
		return Errorf(CodeInvalid, "transaction", "must be a transaction id")
	}
	return validateMemo(r.Memo)
}

// Validate implements Op.
func (h *HoldCreate) Validate() error {
	if err := validateCustomer(&h.Account); err != nil {
		return err
	}
	if _, err := ParseCurrency(string(h.Currency)); err != nil {
		return err
	}
	if err := validatePositive(h.Amount); err != nil {
		return err
	}
	if h.Bucket != "" {
		if _, err := ParseBucket(string(h.Bucket)); err != nil {
			return err
		}
	}
	if !h.ExpiresAt.IsZero() && (h.ExpiresAt.Year() < 2000 || h.ExpiresAt.Year() > 9999) {
		return Errorf(CodeInvalid, "expires_at", "must be a time between the years 2000 and 9999")
	}
	return validateMemo(h.Memo)
}

// Validate implements Op.
func (h *HoldPost) Validate() error {
	if h.HoldID <= 0 {
		return Errorf(CodeInvalid, "hold", "must be a hold id")
	}
	if h.Amount != nil {
		if err := validatePositive(*h.Amount); err != nil {
			return Errorf(CodeInvalid, "amount", "must be greater than zero; leave it out to post the whole hold, or void the hold")
		}
	}
	return validateMemo(h.Memo)
}

// Validate implements Op.
func (h *HoldVoid) Validate() error {
	if h.HoldID <= 0 {
		return Errorf(CodeInvalid, "hold", "must be a hold id")
	}
	return nil
}

// Validate implements Op.
func (h *HoldExpire) Validate() error {
	if h.HoldID <= 0 {
		return Errorf(CodeInvalid, "hold", "must be a hold id")
	}
	return nil
}
