package abacus

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

// ErrRetry says a write transaction lost a race with another process (a
// unique key taken meanwhile, a serialization failure) and was rolled
// back. Nothing was written; running the same work again is safe and will
// see the winner's rows.
var ErrRetry = errors.New("abacus: write conflict with a concurrent transaction; retry")

// ErrRefused marks a write the database refused for a value it cannot
// hold: a sum past its integer range, a CHECK the row fails. Nothing was
// written, and running the same work again fails again, so the engine
// finds the operation that carries the value and refuses it alone.
var ErrRefused = errors.New("abacus: the database refused a value")

// Store persists accounts, the ledger and API keys. Implementations only
// persist: every rule lives above the store (in package ledger), so SQLite
// and PostgreSQL behave the same by construction.
//
// Reads that find nothing return an *Error with CodeNotFound.
type Store interface {
	// Write runs fn in one write transaction, with every row fn locks held
	// until commit, and commits if fn returns nil (fn may end with
	// WriteTx.Commit instead). It returns ErrRetry when a concurrent writer
	// forced a rollback.
	Write(ctx context.Context, fn func(WriteTx) error) error

	// AccountCreate creates a customer account with its wallets, and the
	// system wallets of its currency. If the ID exists it returns the
	// stored account and false.
	AccountCreate(ctx context.Context, a Account) (Account, bool, error)
	// AccountsCreate creates, in one transaction, each of accounts that
	// does not exist yet, as AccountCreate does, and returns their ids in
	// ascending order; one that exists is left as it is.
	AccountsCreate(ctx context.Context, accounts []Account) ([]AccountID, error)
	AccountGet(ctx context.Context, id AccountID) (Account, error)
	// Accounts returns those of ids that exist, in id order.
	Accounts(ctx context.Context, ids []AccountID) ([]Account, error)
	// Wallets returns every wallet of the given accounts.
	Wallets(ctx context.Context, accounts []AccountID) ([]Wallet, error)
	// SystemWalletsEnsure creates the system wallets of a currency if they
	// are missing and returns them.
	SystemWalletsEnsure(ctx context.Context, c Currency) ([]Wallet, error)

	// Transactions returns the given transactions with their postings,
	// skipping ids that do not exist.
	Transactions(ctx context.Context, ids []int64) ([]Transaction, error)
	// Entries returns an account's postings, newest first.
	Entries(ctx context.Context, q EntryQuery) ([]Entry, error)
	Hold(ctx context.Context, id int64) (Hold, error)
	// HoldsDue returns open holds whose expiry is at or before now.
	HoldsDue(ctx context.Context, now time.Time, limit int) ([]int64, error)

	// BurstUtilisationSet records a resource's latest utilisation, in percent.
	BurstUtilisationSet(ctx context.Context, resource string, percent decimal.Decimal, at time.Time) error
	// BurstCycle runs the burst cycle that starts at cycle, once across
	// every process (it returns false if one ran it already). It gives
	// step the latest utilisation, the levels in force at cycle and those
	// computed last cycle; step returns the level changes that take effect
	// at cycle and the levels of the next cycle, and BurstCycle records
	// both. Only a change moves the price book's version.
	BurstCycle(ctx context.Context, cycle time.Time, step BurstStep) (bool, error)
	// BurstLevels returns the levels in force now and those computed for
	// the next cycle, per resource.
	BurstLevels(ctx context.Context, now time.Time) (current, next map[string]int, err error)

	// PriceBookAdd appends price versions and commitments, and bumps the
	// price book version, in one transaction. A commitment of a stored
	// term (account, months, from and until) records, for each stored
	// commitment of that term, its End() as that one's end, unless it
	// ends then already. (Burst levels change only
	// through BurstCycle.) It and PriceBookCorrect refuse, in that
	// transaction, prices that rating.CheckCountedVersions refuses against
	// the versions stored then.
	PriceBookAdd(ctx context.Context, prices []Price, commitments []Commitment) error
	// PriceBookCheck returns what PriceBookAdd would refuse of prices and
	// commitments now, with the same checks in the same transaction, which
	// it then rolls back: it changes nothing.
	PriceBookCheck(ctx context.Context, prices []Price, commitments []Commitment) error
	// PriceBookCorrect appends price versions that correct the book: unlike
	// PriceBookAdd it accepts a version that takes effect before events
	// already charged at the version it takes over from (they are then to
	// be repriced), and one with the ValidFrom of a stored version (with a
	// higher Revision, which replaces it). A version whose key, currency,
	// ValidFrom and Revision are taken is refused (CodeConflict,
	// prices[i]). It bumps the price book version.
	PriceBookCorrect(ctx context.Context, prices []Price) error
	PriceBookLoad(ctx context.Context) (*PriceBook, error)
	// SetBillingZone makes zone (an IANA name) the zone of the billing
	// months, and bumps the price book version. It changes nothing if the
	// zone is that already; otherwise it refuses (CodeConflict, field
	// billing_zone) once a usage event is stored, since counters, carries
	// and monthly sums are kept by the months they were made in, and a
	// price book whose counted versions would change within a month of
	// zone (rating.CheckCountedVersions). A name that is not a zone is
	// CodeInvalid.
	SetBillingZone(ctx context.Context, zone string) error
	// PriceBookVersion is the version PriceBookLoad would return now: one
	// row, where loading reads every price and burst level.
	PriceBookVersion(ctx context.Context) (int64, error)
	// Events returns stored events in the order they were stored.
	Events(ctx context.Context, q EventQuery) ([]StoredEvent, error)
	// EachRollup calls fn with each rollup q selects, in the order of
	// bucket, scene, resource and instance, from one snapshot: a year of
	// an account's quarter hours can be millions of rows, which a caller
	// sums as they come rather than holds (an error from fn stops it).
	EachRollup(ctx context.Context, q RollupQuery, fn func(Rollup) error) error
	// DeadLetterAdd records a dead letter; one under a Key already stored
	// is not recorded again. published reports that the letter under d.Key
	// was stored before and has been marked published (DeadLetterPublished):
	// a new letter, or one stored but not yet marked, gives false.
	DeadLetterAdd(ctx context.Context, d DeadLetter) (published bool, err error)
	// DeadLetterPublished marks the letter under key published at at. A
	// letter marked already keeps its first time; no letter under key is
	// CodeNotFound.
	DeadLetterPublished(ctx context.Context, key string, at time.Time) error
	// DeadLetters and Outbox list in id order from after afterID, at most
	// limit (at least 1) at a time; a page of dead letters ends early at
	// MaxDeadLetterPage bytes.
	DeadLetters(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error)
	Outbox(ctx context.Context, afterID int64, limit int) ([]OutboxMessage, error)

	APIKeyCreate(ctx context.Context, k APIKey) error
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	APIKeys(ctx context.Context) ([]APIKey, error)
	APIKeyRevoke(ctx context.Context, id string, at time.Time) error

	Auditor

	Close() error
}

// WriteTx is the part of one write transaction the ledger engine drives.
// Lock methods lock rows in ascending id order, so that concurrent batches
// from any number of processes never deadlock.
type WriteTx interface {
	// HoldsLock locks the given holds and returns them with their legs.
	HoldsLock(ctx context.Context, ids []int64) ([]Hold, error)
	// ReadBatch locks the wallets in r.Lock and then reads, all at once (on
	// PostgreSQL in one round trip), what a batch is judged by.
	ReadBatch(ctx context.Context, r BatchReads) (BatchState, error)
	// Apply writes a batch's changes. It returns ErrRetry if a hold it
	// resolves is no longer open or a key or reversal is taken.
	Apply(ctx context.Context, c *Changes) error
	// Commit applies c as Apply does and commits the transaction; it must
	// be fn's last call. PostgreSQL sends the writes and the COMMIT in one
	// round trip.
	Commit(ctx context.Context, c *Changes) error
	// MonthPaid reads what each bucket has paid for the account's usage in
	// currency in the billing period starting at period, by resource (a
	// resource nothing was written for is not in it).
	MonthPaid(ctx context.Context, account AccountID, currency Currency, period time.Time) (map[string]Drawn, error)
}

// BatchReads asks for what a batch is judged by. Everything is read once
// the wallets in Lock are locked, so what concurrent batches committed on
// them is seen, and ids are reserved then, so within one wallet they grow
// in commit order.
type BatchReads struct {
	// Lock is locked in ascending id order; the engine locks one wallet
	// per account, its lead, and every change to any wallet of the
	// account is made under that lock, so the others need no lock of
	// their own and are read, as Read asks, once it is held.
	Lock, Read []int64
	Keys       []string // idempotency keys to look up
	Reverted   []int64  // transactions whose reversals to find
	// Fresh, increasing transaction and hold ids to reserve: never handed
	// out again, used or not.
	TxIDs, HoldIDs int

	EventIDs []string       // ids to look for among the stored usage events
	Targets  []string       // stored events to return whole: those to void or rerate
	Slots    []MinuteSlot   // minute slots to look for (EventID ignored)
	Counters []UsageCounter // counters to read (Quantity and PriceID ignored)
	Carries  []Carry        // the account periods whose carries to read (Residue ignored)
	Book     bool           // read the price book's version
}

// BatchState is what a BatchReads found.
type BatchState struct {
	Wallets   []Wallet            // the wallets in Read, in id order
	Records   []IdempotencyRecord // those of Keys that exist
	Reversals map[int64]int64     // those of Reverted reverted, to the reverting transaction; nil if none asked
	TxIDs     []int64             // the reserved transaction ids, increasing
	HoldIDs   []int64             // the reserved hold ids, increasing

	Seen        []StoredEvent  // those of EventIDs that are stored, as stored
	Stored      []StoredEvent  // those of Targets that are stored
	Taken       []MinuteSlot   // those of Slots taken, with the event that took each
	Counters    []UsageCounter // those of Counters ever written, with their quantities and versions
	Carries     []Carry        // those of Carries stored, with their residues
	BookVersion int64          // the price book's version, if Book
}

// Changes is everything one batch writes.
type Changes struct {
	Transactions []Transaction // new, with ids and complete postings
	Holds        []Hold        // new, with ids and legs
	Resolutions  []Hold        // holds leaving open: Status, ResolvedAt, PostedAmount, TxID
	Wallets      []Wallet      // the final state of every wallet the batch touched
	Keys         []IdempotencyRecord

	Events       []StoredEvent  // new usage events
	EventUpdates []StoredEvent  // events whose status changed (rerated, voided)
	Counters     []UsageCounter // quantities to add, and the version each now counts at (0: unchanged)
	Paid         []MonthPaid    // amounts to add, bucket by bucket
	Carries      []Carry        // residues to set
	Rollups      []Rollup       // quantities, amounts and counts to add
	FreedMinutes []MinuteSlot   // minute slots to give up, each only if the EventID named still holds it; before Minutes
	Minutes      []MinuteSlot   // minute slots to take
	Outbox       []OutboxMessage
	PriceUses    []PriceUse // latest event times to raise, each only if later than the stored one
	Reprices     []Reprice  // new; the events they change are among EventUpdates
}

// BurstStep computes one burst cycle; see Store.BurstCycle.
type BurstStep func(utilisation map[string]Utilisation, inForce, next map[string]int) (changes []BurstLevel, newNext map[string]int)

// Utilisation is a resource's latest reported utilisation.
type Utilisation struct {
	Percent    decimal.Decimal
	MeasuredAt time.Time
}

// IdempotencyRecord ties an idempotency key to the one effect it had.
type IdempotencyRecord struct {
	Key       string
	Hash      []byte // of the request, so a different request under the same key is caught
	TxID      int64  // the transaction it made, if any
	HoldID    int64  // the hold it made or resolved, if any
	CreatedAt time.Time
}

// EntryQuery selects a page of an account's entries. Entries come newest
// transaction first, and by wallet within a transaction.
type EntryQuery struct {
	Account AccountID
	After   EntryCursor // zero: from the newest
	Limit   int
}

// EntryCursor is the position of the last entry of the previous page.
type EntryCursor struct {
	TxID, WalletID int64
}

// Includes reports whether a posting comes after the cursor in page order.
func (c EntryCursor) Includes(txID, walletID int64) bool {
	return c.TxID == 0 || txID < c.TxID || (txID == c.TxID && walletID > c.WalletID)
}

// Auditor streams every row the ledger invariants are checked over. Each
// scan reads one consistent snapshot.
type Auditor interface {
	Audit(ctx context.Context, fn func(AuditReader) error) error
}

// AuditReader is one snapshot of the ledger.
type AuditReader interface {
	// Accounts streams every account, by id.
	Accounts(fn func(Account) error) error
	Wallets(fn func(Wallet) error) error
	// PostingsByWallet streams postings ordered by wallet and version.
	PostingsByWallet(fn func(Posting) error) error
	// PostingsByTx streams postings ordered by transaction.
	PostingsByTx(fn func(Posting) error) error
	// Transactions streams transactions, without postings, by id.
	Transactions(fn func(Transaction) error) error
	// Holds streams holds with their legs, by id.
	Holds(fn func(Hold) error) error
	Idempotency(fn func(IdempotencyRecord) error) error
	// Events streams stored usage events in the order they were stored.
	Events(fn func(StoredEvent) error) error
	// Rollups streams every rollup row.
	Rollups(fn func(Rollup) error) error
	// RollupDiffs streams, in key order, the rollup keys whose stored row
	// is not what the events of the key sum to.
	RollupDiffs(fn func(RollupDiff) error) error
	// MonthsPaid streams every MonthPaid row.
	MonthsPaid(fn func(MonthPaid) error) error
	// Prices streams every price version, by id.
	Prices(fn func(Price) error) error
	// Commitments streams every commitment, in the order they were added.
	Commitments(fn func(Commitment) error) error
	// PriceUses streams the latest event time recorded per price version and shard.
	PriceUses(fn func(PriceUse) error) error
	// Reprices streams every reprice, in the order they were stored.
	Reprices(fn func(Reprice) error) error
	// Counters streams every usage counter.
	Counters(fn func(UsageCounter) error) error
	// Carries streams every carry, those from before carries were kept
	// per period (a zero Period) too.
	Carries(fn func(Carry) error) error
	// BillingZone is the stored zone of the billing months (PriceBook.Zone).
	BillingZone() (string, error)
}
