package abacus

import "time"

// UsageCounter is how much an account used under one price key in one
// billing period: what tiered prices are counted against.
type UsageCounter struct {
	Account  AccountID
	Key      string // the price key, as rating spells it
	Currency Currency
	Period   time.Time // the period's start, UTC
	Quantity int64
	// PriceID is the version that counted its latest usage; 0 where that
	// is unknown (counted before migration 0017).
	PriceID int64
}

// PriceUse is the latest event time a price version has charged, kept per
// engine shard so that batches of different workers never write the same
// row. A version added later must take effect after every event charged at
// the version it takes over from: otherwise it would be the price in force
// at the time of events that paid another.
type PriceUse struct {
	PriceID int64
	Shard   int
	Latest  time.Time
}

// Reprice records that a stored event was rated again after its prices
// were corrected: usage transaction TxID moved Amount (negative where the
// corrected price is lower) on top of what the event had paid, and the
// event now names the corrected versions. The event's Charged is what it
// has paid in all, so its first charge, in EventTxID, was Charged less
// the Amount of each of its reprices.
type Reprice struct {
	EventSeq  int64
	Account   AccountID
	Currency  Currency
	EventTxID int64   // the transaction that first charged the event (0: it cost nothing then)
	TxID      int64   // this reprice's usage transaction (0: it moved nothing)
	Amount    Amount  // what the event's charge changed by
	PriceIDs  []int64 // the versions that had rated it
	CreatedAt time.Time
}

// MonthPaid is what each bucket has paid, net, for an account's usage of
// one resource in one currency and billing period: the sum of the Drawn of
// its events there. What the resource's credits, voids and reprices give
// back to a bucket is bounded by it, so money a voucher paid for one
// resource never comes back as cash another resource's usage paid. In
// Changes it is what a batch adds.
type MonthPaid struct {
	Account    AccountID
	Currency   Currency
	Period     time.Time // the period's start, UTC
	ResourceID string    // the events' resource_id
	Paid       Drawn
}

// Carry is what rounding to micro-units left over from an account's usage
// charges in one billing period: an exact decimal in [0, 0.000001), added
// to its next charge in that period. It is the period's, so that what a
// period gives back through it never reaches money another period paid. A
// zero Period is an account's carry from before carries were kept per
// period (migration 0018): kept as it was, and used by nothing.
type Carry struct {
	Account AccountID
	Period  time.Time // the period's start, UTC
	Residue string
	// Shared: the period had usage while its account's carry was one
	// across periods, so what it paid may differ from its exact cost by
	// more than its own carry. Set by migration 0018 only.
	Shared bool
}

// MinuteSlot records that an instance was metered in a wall-clock minute,
// for CSGHub's minute-level dedupe.
type MinuteSlot struct {
	Scene      int
	CustomerID string
	Minute     time.Time
	EventID    string
}

// PriceBook is every price version, burst level change and commitment,
// with the version that changes whenever any of them does.
type PriceBook struct {
	Version int64
	// Zone names the time zone whose calendar months are the billing
	// months (tiers, packages, carries, monthly sums): an IANA name, "UTC"
	// unless set (Store.SetBillingZone).
	Zone        string
	Prices      []Price
	Levels      []BurstLevel
	Commitments []Commitment
}

// OutboxMessage is an internal event written in the same transaction as
// what caused it, for later delivery (webhooks, email).
type OutboxMessage struct {
	ID        int64
	Kind      string // "low_balance"
	Account   AccountID
	Payload   string // JSON
	CreatedAt time.Time
}

// Outbox kinds.
const OutboxLowBalance = "low_balance"

// DeadLetter is a message that could not be understood, kept with the
// reason instead of being dropped.
type DeadLetter struct {
	ID          int64
	Key         string // if set, a second letter with the same key is not recorded
	Source      string // "nats"
	Subject     string
	Reason      string
	Payload     []byte
	Headers     map[string][]string // the message's headers as received; nil if it had none
	ReceivedAt  time.Time
	PublishedAt time.Time // when it was published to the dead letter subject; zero: not yet
}

// EventQuery selects stored events. With an Account they come by event
// time, ties in the order stored, so a page of one account costs its own
// rows however large the table; without one, in the order stored.
type EventQuery struct {
	IDs     []string    // only these events; empty: any
	Account AccountID   // empty: every account
	Status  EventStatus // empty: any
	// Uncommitted: only events flagged so (see StoredEvent.Uncommitted).
	Uncommitted bool
	From, To    time.Time // event time in [From, To); zero: unbounded
	AfterSeq    int64     // paging: the events after this one, in the listing's order
	// ByTime lists every account's events in event-time order (then
	// arrival), as an account's are, not in the order they were stored.
	ByTime bool
	Limit  int
	// MaxBytes, if not 0, ends the page after the event that brings its
	// TextBytes to MaxBytes, so that a page's memory is bounded whatever
	// its events hold (a listing of events with large extras took 38 MB a
	// request, QA).
	MaxBytes int
}

// Bytes is about what a dead letter takes to answer (see JSONBytes).
func (d *DeadLetter) Bytes() int {
	n := 512 + JSONBytes(d.Key) + JSONBytes(d.Source) + JSONBytes(d.Subject) + JSONBytes(d.Reason) + JSONBytes(d.Payload)
	for k, vs := range d.Headers {
		n += JSONBytes(k)
		for _, v := range vs {
			n += JSONBytes(v)
		}
	}
	return n
}

// MaxDeadLetterPage bounds the Bytes of a page of dead letters: a page
// ends after the letter that brings it there, however many its limit
// allows (each may hold a message of up to NATS's max payload).
const MaxDeadLetterPage = 1 << 20
