package abacus

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// AccountID is an account's UUID in canonical lower-case form.
type AccountID string

// ParseAccountID validates a UUID (any case, with hyphens) and returns it
// in canonical lower-case form.
func ParseAccountID(s string) (AccountID, error) {
	if len(s) != 36 {
		return "", badAccountID(s)
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", badAccountID(s)
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return "", badAccountID(s)
			}
		}
	}
	return AccountID(strings.ToLower(s)), nil
}

func badAccountID(s string) error { return badUUID("account", s) }

// nilAccountID is the nil UUID, which a producer that lost its user's id
// sends: no account is ever it, or every such event would be charged to
// one account nobody owns.
const nilAccountID AccountID = "00000000-0000-0000-0000-000000000000"

// ParseCustomerID is ParseAccountID for an account usage is charged to:
// a system account's id, or the nil UUID, is refused. Errors name
// "account".
func ParseCustomerID(s string) (AccountID, error) {
	acct, err := ParseAccountID(s)
	if err != nil {
		return "", err
	}
	if _, system := SystemAccountByID(acct); system {
		return "", Errorf(CodeInvalid, "account", "%s is a system account", acct)
	}
	if acct == nilAccountID {
		return "", nilAccount("account")
	}
	return acct, nil
}

func nilAccount(field string) error {
	return Errorf(CodeInvalid, field, "%s is the nil UUID, which names no account", nilAccountID)
}

func badUUID(field, s string) error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf("%q is not a UUID", s)}
}

// AccountKind says who an account belongs to.
type AccountKind string

// Account kinds.
const (
	KindUser   AccountKind = "user"
	KindOrg    AccountKind = "org"
	KindSystem AccountKind = "system" // the platform's own side of every movement
)

// Bucket is one balance inside an account.
type Bucket string

// Buckets. A customer account has cash, bonus and voucher; a system account
// has one bucket, main, per currency.
const (
	BucketCash    Bucket = "cash"    // real money paid in
	BucketBonus   Bucket = "bonus"   // credit granted by the platform
	BucketVoucher Bucket = "voucher" // scoped, expiring credit
	BucketMain    Bucket = "main"
)

// RevenueShards is how many main buckets the revenue account has per
// currency. Every charge credits revenue, so one row would be the point
// where all concurrent batches queue; batches of usage for different
// accounts credit different shards and run side by side. The account's
// balance is the sum of its shards.
const RevenueShards = 8

// RevenueShard names revenue's k-th main bucket; shard 0 is main.
func RevenueShard(k int) Bucket {
	if k%RevenueShards == 0 {
		return BucketMain
	}
	return Bucket(fmt.Sprintf("main%d", k%RevenueShards))
}

// CustomerBuckets lists a customer account's buckets.
var CustomerBuckets = []Bucket{BucketCash, BucketBonus, BucketVoucher}

// DefaultDrawOrder is the order a charge draws from a customer's buckets
// when it names none, unless the engine is configured with another:
// voucher, then cash, then bonus, as CSGHub does.
// What is still owed after that lands on cash, as far as its floor allows.
var DefaultDrawOrder = []Bucket{BucketVoucher, BucketCash, BucketBonus}

// ParseBucket validates a customer bucket name.
func ParseBucket(s string) (Bucket, error) {
	switch b := Bucket(s); b {
	case BucketCash, BucketBonus, BucketVoucher:
		return b, nil
	}
	return "", &Error{Code: CodeInvalid, Field: "bucket", Message: fmt.Sprintf("%q is not one of cash, bonus, voucher", s)}
}

// Overdraft is an account's floor policy: how far below zero its cash
// bucket may go. Bonus and voucher credit never go below zero.
type Overdraft struct {
	Limit     Amount // how far below zero cash may go; zero: not at all
	Unlimited bool   // cash may go negative without bound (CSGHub's behaviour)
}

// Floor returns the lowest balance the bucket may reach, and false if it
// has no floor.
func (o Overdraft) Floor(b Bucket) (Amount, bool) {
	if b != BucketCash {
		return Zero, true
	}
	if o.Unlimited {
		return Zero, false
	}
	return Amount{-o.Limit.micros}, true
}

// Account is one payer: a user or an organisation, keyed by UUID, with one
// currency. System accounts have no currency of their own.
type Account struct {
	ID        AccountID
	Kind      AccountKind
	Name      string
	Currency  Currency
	Overdraft Overdraft
	// LowBalance, if set, is the balance below which the account is
	// warned: crossing it downwards writes a low_balance outbox message.
	LowBalance *Amount
	CreatedAt  time.Time
}

// Validate checks a customer account before it is created, and puts its
// ID in canonical lower-case form.
func (a *Account) Validate() error {
	id, err := ParseAccountID(string(a.ID))
	if err != nil {
		return badUUID("id", string(a.ID))
	}
	if id == nilAccountID {
		return nilAccount("id")
	}
	a.ID = id // one account, one spelling
	if a.Kind != KindUser && a.Kind != KindOrg {
		return Errorf(CodeInvalid, "kind", "%q is not one of user, org", a.Kind)
	}
	if err := ValidateText("name", a.Name, 200); err != nil {
		return err
	}
	if _, err := ParseCurrency(string(a.Currency)); err != nil {
		return err
	}
	if a.Overdraft.Limit.IsNegative() {
		return Errorf(CodeInvalid, "overdraft.limit", "must not be negative")
	}
	if a.Overdraft.Unlimited && !a.Overdraft.Limit.IsZero() {
		return Errorf(CodeInvalid, "overdraft", "give a limit or unlimited, not both")
	}
	return nil
}

// CheckLowBalanceReachable refuses a low-balance threshold at or below the
// floor: the available total never falls below the floor, so it would
// never warn (QA: -5 on an account without overdraft was taken). Only for
// an account being made: one stored before the rule is still the same
// account when the platform asks for it again.
func (a *Account) CheckLowBalanceReachable() error {
	if floor, _ := a.Overdraft.Limit.Neg(); a.LowBalance != nil && !a.Overdraft.Unlimited && a.LowBalance.Cmp(floor) <= 0 {
		return Errorf(CodeInvalid, "low_balance_threshold", "%s is at or below the account's floor (%s), which its available total never falls below: no warning would ever come", a.LowBalance, floor)
	}
	return nil
}

// SystemAccount names one of the platform's own accounts.
type SystemAccount string

// The system accounts. Each movement between a customer and the platform
// has one of them on its other side, so the ledger sums to zero.
const (
	SystemRevenue         SystemAccount = "revenue"          // charges land here
	SystemPaymentClearing SystemAccount = "payment_clearing" // top-ups come from here
	SystemPromotions      SystemAccount = "promotions"       // grants come from here
	SystemRefunds         SystemAccount = "refunds"          // refunds come from here
	SystemAdjustments     SystemAccount = "adjustments"      // manual corrections
)

// SystemAccounts lists the system accounts with their fixed UUIDs.
var SystemAccounts = map[SystemAccount]AccountID{
	SystemRevenue:         "00000000-0000-0000-0000-000000000001",
	SystemPaymentClearing: "00000000-0000-0000-0000-000000000002",
	SystemPromotions:      "00000000-0000-0000-0000-000000000003",
	SystemRefunds:         "00000000-0000-0000-0000-000000000004",
	SystemAdjustments:     "00000000-0000-0000-0000-000000000005",
}

// ID returns the system account's UUID.
func (s SystemAccount) ID() AccountID { return SystemAccounts[s] }

// SystemAccountIDs returns the system accounts' UUIDs, in order.
func SystemAccountIDs() []string {
	ids := make([]string, 0, len(SystemAccounts))
	for _, id := range SystemAccounts {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	return ids
}

// SystemAccountByID returns the name of a system account, if id is one.
func SystemAccountByID(id AccountID) (SystemAccount, bool) {
	for name, sid := range SystemAccounts {
		if sid == id {
			return name, true
		}
	}
	return "", false
}

// ResolveAccountRef accepts a UUID or the name of a system account.
func ResolveAccountRef(s string) (AccountID, error) {
	if id, ok := SystemAccounts[SystemAccount(s)]; ok {
		return id, nil
	}
	return ParseAccountID(s)
}

// Wallet is one bucket of one account in one currency, with its balance.
type Wallet struct {
	ID       int64
	Account  AccountID
	Bucket   Bucket
	Currency Currency
	Balance  Amount // sum of all postings
	Held     Amount // reserved by open holds
	Version  int64  // number of postings so far
	Floor    Amount // lowest allowed balance − held, if HasFloor
	HasFloor bool
}

// Available returns the balance not reserved by holds.
func (w *Wallet) Available() (Amount, error) { return w.Balance.Sub(w.Held) }

// WalletKey names a wallet without its ID.
type WalletKey struct {
	Account  AccountID
	Bucket   Bucket
	Currency Currency
}
