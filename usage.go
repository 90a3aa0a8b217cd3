package abacus

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"golang.org/x/text/unicode/norm"
)

// UsageEvent is one immutable measurement: who used what, how much, and
// when. Its ID is the dedupe key on every path (HTTP, NATS, files) and in
// every process: the database accepts an ID once.
//
// The fields follow CSGHub's metering event; CloudEvents and files carry
// the same facts.
type UsageEvent struct {
	ID           string    // the event id; a UUID is kept in lower case, hyphenated (CanonicalEventID)
	Account      AccountID // who pays (CSGHub user_uuid: a user or an org namespace)
	Value        int64     // how much, in the base unit of ValueType (minutes, tokens, …)
	ValueType    int       // 0 duration (minutes), 1 tokens, 2 quota, 3 count
	Scene        int       // what kind of usage, as CSGHub numbers scenes (10 inference, 11 space, …)
	OpUID        string    // the operator or producing service
	ResourceID   string    // the SKU resource; with the scene it selects the price
	ResourceName string    // display name
	CustomerID   string    // the instance shown on bills (deploy, task, model)
	Time         time.Time // when the usage happened (CSGHub created_at)
	Extra        string    // a JSON object as text, kept verbatim
	// SentID is the id as sent where Validate unwrapped a UUID from braces
	// or "urn:uuid:", which earlier releases stored as sent: the ledger
	// finds such an event under it. Not stored.
	SentID string
}

// Value types, as CSGHub numbers them.
const (
	ValueDuration = 0 // minutes
	ValueTokens   = 1
	ValueQuota    = 2
	ValueCount    = 3
)

// Limits on event fields.
const (
	MaxEventIDLength = 255
	MaxEventText     = 1000  // resource ids, names, instance ids, operator
	MaxEventExtra    = 16384 // bytes of extra JSON
	MaxScene         = 999   // scenes are numbered 0 to MaxScene
)

// Validate checks an event and puts its ID and account in canonical form.
// Errors name the field at fault, in the wire names CSGHub uses.
func (e *UsageEvent) Validate() error {
	if err := e.checkUTF8(); err != nil {
		return err
	}
	if e.ID == "" {
		return Errorf(CodeInvalid, "uuid", "is required: every event needs a unique id")
	}
	if len(e.ID) > MaxEventIDLength {
		return Errorf(CodeInvalid, "uuid", "is %d bytes long in UTF-8; an event id is at most %d", len(e.ID), MaxEventIDLength)
	}
	if !printable(e.ID) {
		return Errorf(CodeInvalid, "uuid", "must be printable characters without spaces")
	}
	switch e.ID {
	case ".", "..":
		// URLs drop dot segments (RFC 3986), so no client could send the
		// void of such an event to .../events/{id}/void.
		return Errorf(CodeInvalid, "uuid", "%q cannot be an event id: a URL path reads it as a directory, so the event could not be voided", e.ID)
	case "/":
		// Go's ServeMux takes a path segment that unescapes to "/" (%2F)
		// for a trailing slash, which no {id} matches, so its void would
		// find no route. "//", "a/" and "/a" are not one slash and do reach it.
		return Errorf(CodeInvalid, "uuid", "%q cannot be an event id: in the URL of its void (.../events/%%2F/void) it is read as a trailing slash, so the event could not be voided", e.ID)
	}
	if c := CanonicalEventID(e.ID); c != e.ID { // one event, one spelling
		if !strings.EqualFold(c, e.ID) {
			e.SentID = e.ID
		}
		e.ID = c
	}
	if e.Account == "" {
		return Errorf(CodeInvalid, "user_uuid", "is required: the account the usage is charged to")
	}
	acct, err := ParseCustomerID(string(e.Account))
	if err != nil {
		return RenameField(err, "user_uuid")
	}
	e.Account = acct
	if e.Value < 0 {
		return Errorf(CodeInvalid, "value", "%d is negative; usage is never negative (void an event to take it back)", e.Value)
	}
	if e.ValueType < ValueDuration || e.ValueType > ValueCount {
		return Errorf(CodeInvalid, "value_type", "%d is not one of 0 (duration), 1 (tokens), 2 (quota), 3 (count)", e.ValueType)
	}
	if e.Scene < 0 || e.Scene > MaxScene {
		return Errorf(CodeInvalid, "scene", "%d is not a scene number", e.Scene)
	}
	for _, f := range []struct{ name, v string }{
		{"op_uid", e.OpUID}, {"resource_id", e.ResourceID}, {"resource_name", e.ResourceName}, {"customer_id", e.CustomerID},
	} {
		if err := ValidateText(f.name, f.v, MaxEventText); err != nil {
			return err
		}
	}
	if e.Time.IsZero() {
		return Errorf(CodeInvalid, "created_at", "is required: when the usage happened")
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond) // before the check, so a stored event validates again
	if err := ValidateEventTime(e.Time); err != nil {
		return err
	}
	if err := ValidateText("extra", e.Extra, MaxEventExtra); err != nil {
		return err
	}
	return nil
}

// checkUTF8 names the first text field that is not valid UTF-8. Decoders
// hand such bytes on as sent, not replaced with U+FFFD, because replacing
// them would make distinct ids one and drop a real event as a duplicate.
func (e *UsageEvent) checkUTF8() error {
	for _, f := range []struct{ name, v string }{
		{"uuid", e.ID}, {"user_uuid", string(e.Account)}, {"op_uid", e.OpUID}, {"resource_id", e.ResourceID},
		{"resource_name", e.ResourceName}, {"customer_id", e.CustomerID}, {"extra", e.Extra},
	} {
		if !utf8.ValidString(f.v) {
			return Errorf(CodeInvalid, f.name, "is not valid UTF-8")
		}
	}
	return nil
}

// ValidateEventTime checks an event's time, naming created_at. Validate
// takes the zero time for a time left out, so a decoder that read
// 0001-01-01T00:00:00Z, a time sent, checks it here to refuse it as the
// out-of-range time it is rather than as missing.
func ValidateEventTime(t time.Time) error {
	t = t.UTC().Truncate(time.Microsecond)
	if y := t.Year(); y < 2000 || y > 9999 {
		return Errorf(CodeInvalid, "created_at", "%s is not between the years 2000 and 9999", t.Format(time.RFC3339Nano))
	}
	return nil
}

// CanonicalEventID returns id as ingestion keeps it: a UUID hyphenated,
// in either case, alone, in braces or after "urn:uuid:" (spellings of
// one UUID to CSGHub's uuid type), as lowercase 8-4-4-4-12, and any other
// id as sent. Kept as sent, the braced and urn spellings of one event's
// UUID were charged once each (QA). 32 hex digits alone are left as they
// are: as often a digest (MD5) as a UUID, and stored as sent before.
func CanonicalEventID(id string) string {
	inner := id
	switch {
	case len(id) == 38 && id[0] == '{' && id[37] == '}':
		inner = id[1:37]
	case len(id) == 45 && strings.EqualFold(id[:9], "urn:uuid:"):
		inner = id[9:]
	}
	if u, err := ParseAccountID(inner); err == nil {
		return string(u)
	}
	return id
}

// CheckNewEvent refuses what Validate lets through but an event coming
// in must not be. It is for events not stored yet: one stored before a
// rule, sent again, is a duplicate as ever.
//
//   - An id not in Unicode normalization form C: "café" with é as one
//     character or as e and a combining accent is one id to anyone reading
//     it, and a tool that normalises it on a retry would have it charged
//     twice (QA).
//   - The nil UUID as id (also as 32 zeros), what a producer that never
//     set the event's id sends, and the words a serializer writes for no
//     value ("null", "undefined", "None", "nil", "<nil>", "NaN", "(null)",
//     "nullptr"): the first such event was charged and every later one,
//     of any account, taken for a repeat of it (QA).
//   - A scene CSGHub credits (1 portal charge, 3 cash charge, 41 dataset
//     sale income): usage is charged, so such an event would take from
//     the account what CSGHub gives it (QA).
//   - A control character in a text field, or a character that is not
//     printable in a key (checkUnseen).
func CheckNewEvent(e *UsageEvent) error {
	if e.ID == string(nilAccountID) || e.ID == strings.Repeat("0", 32) {
		return Errorf(CodeInvalid, "uuid", "is the nil UUID, which a producer that never set the event's id sends; give every event an id of its own")
	}
	for _, w := range []string{"null", "undefined", "none", "nil", "<nil>", "nan", "(null)", "nullptr"} {
		if strings.EqualFold(e.ID, w) {
			return Errorf(CodeInvalid, "uuid", "%q is what a serializer writes for no value, not an id: give every event an id of its own", e.ID)
		}
	}
	if !norm.NFC.IsNormalString(e.ID) {
		return Errorf(CodeInvalid, "uuid", "is not in Unicode normalization form C (NFC): a letter and a combining mark that one character spells (e and U+0301 for é) would make it look like another id; send it composed")
	}
	if e.ResourceID == "" {
		return Errorf(CodeInvalid, "resource_id", "is missing: every price is keyed by a resource_id, so an event without one could never be priced")
	}
	if name, ok := creditScenes[e.Scene]; ok {
		return Errorf(CodeInvalid, "scene", "%d (%s) is a scene CSGHub credits to the account, not usage to charge: post it to the ledger as a top-up or grant", e.Scene, name)
	}
	for _, f := range []struct {
		name, v string
		key     bool
	}{{"resource_id", e.ResourceID, true}, {"customer_id", e.CustomerID, true}, {"op_uid", e.OpUID, false}, {"resource_name", e.ResourceName, false}} {
		if err := checkUnseen(f.name, f.v, f.key); err != nil {
			return err
		}
	}
	return nil
}

// CheckKeyText refuses, naming field, text that cannot be a key of a new
// event: a character that is not printable, or text not in NFC (see
// checkUnseen). Rating holds a price key an event names in its extra to it.
func CheckKeyText(field, s string) error { return checkUnseen(field, s, true) }

// checkUnseen refuses a character a reader of the text would not see.
// A control character (an escape that recolours the terminal listing it, a
// stray CR after a key) is never part of what a producer means; a name
// may hold tabs and line breaks, as may an op_uid, which nothing sums or
// rates by. A key (an instance, a resource a price is keyed by) is
// printable text in NFC, as a price's resource_id must be:
// "gpu" and "gpu" with U+200B or a no-break space look alike and would be
// rated and summed apart, and no price could be keyed by the second.
func checkUnseen(field, s string, key bool) error {
	ascii := true
	for i, r := range s {
		ascii = ascii && r < utf8.RuneSelf
		switch {
		case r >= ' ' && r < 0x7f: // printable ASCII, most of every event
		case !key && (r == '\t' || r == '\n' || r == '\r'):
		case unicode.IsControl(r):
			return Errorf(CodeInvalid, field, "holds the control character %U at byte %d; send the text without it", r, i)
		case key && !unicode.IsPrint(r):
			return Errorf(CodeInvalid, field, "holds %U at byte %d, which is no printable character (or one this abacus's Unicode tables do not know): a key is printable text, so that two keys that look alike are not rated and summed apart", r, i)
		}
	}
	// Two spellings of one text in Unicode (é as one character, or as e
	// and a combining accent) would be two keys, as they would be two ids.
	if key && !ascii && !norm.NFC.IsNormalString(s) {
		return Errorf(CodeInvalid, field, "is not in Unicode normalization form C (NFC): it would be another key than the same text composed; send it composed")
	}
	return nil
}

// creditScenes are the scenes CSGHub's statements credit (its credit
// path); every other scene is charged.
var creditScenes = map[int]string{1: "portal charge", 3: "cash charge", 41: "dataset sale income"}

// printable reports whether s is UTF-8 whose every character is visible:
// no control or format characters (U+0085, U+200B, U+FEFF) and no spaces
// of any kind (U+00A0, U+2028), by which two ids that look the same could
// differ.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// IngestStatus is what became of one event.
type IngestStatus string

// Ingest statuses.
const (
	IngestAccepted  IngestStatus = "accepted"  // stored, and charged or kept as unpriced
	IngestDuplicate IngestStatus = "duplicate" // its id was seen before; nothing changed
	IngestRejected  IngestStatus = "rejected"  // bad, or refused by the account's floor; nothing changed
)

// IngestResult is the answer for one event of a batch.
type IngestResult struct {
	ID       string
	Status   IngestStatus
	Err      *Error // with IngestRejected: why, naming the field
	Charged  Amount // with IngestAccepted: what the ledger took
	Refunded Amount // for a void or a reprice: what the account got back (see StoredEvent.Refunded)
	// Currency, with IngestAccepted, is the account's: what Charged and
	// Refunded are in. A summary over several accounts sums by it.
	Currency Currency
	// Back is, for a void, what came back to each bucket (negative where
	// a credit was taken back); it sums to Refunded.
	Back     Drawn
	Unpriced bool // accepted, but no price was valid at its time: kept to be rated later
	// UnpricedReason says, with Unpriced, which price it lacks (a key
	// with no version in its currency at its time, a burst level its price
	// does not list), so that an operator knows what to add.
	UnpricedReason string
	// Repriced says a reprice charged the event again (Refunded back at
	// the prices it was charged, Charged at the corrected ones); false
	// where its prices still stand.
	Repriced bool
	// Uncommitted: charged, and flagged (see StoredEvent.Uncommitted).
	Uncommitted bool
	// DuplicateOf, with IngestDuplicate, is the other event that holds the
	// instance's minute under the minute dedupe; empty for a repeated id.
	DuplicateOf string
}

// EventStatus is where a stored event is in its life.
type EventStatus string

// Event statuses.
const (
	EventCharged  EventStatus = "charged"  // rated and charged (perhaps zero)
	EventUnpriced EventStatus = "unpriced" // stored; no price was valid at its time yet
	EventVoided   EventStatus = "voided"   // its charge was reversed
)

// TextBytes is about what a stored event takes to answer: its fields of
// text as JSON (see JSONBytes), which its size varies by, and a fixed
// part for the rest.
func (e *StoredEvent) TextBytes() int {
	n := 512
	for _, s := range []string{e.ID, string(e.Account), e.OpUID, e.ResourceID, e.ResourceName, e.CustomerID, e.Extra} {
		n += JSONBytes(s)
	}
	return n
}

// StoredEvent is an event as the ledger keeps it, with its rating.
type StoredEvent struct {
	UsageEvent
	Seq        int64 // the order it was stored in
	Status     EventStatus
	ReceivedAt time.Time
	Currency   Currency
	Charged    Amount // the money taken for it (net of earlier carry); negative for a volume-tier credit
	// Drawn is what each bucket has paid for it, net of what came back:
	// it sums to Charged less Refunded. A bucket a credit went to is
	// negative. What a bucket paid for an account's month bounds what
	// credits give back to it, so promotional money never comes back as cash.
	Drawn Drawn
	// DrawnEstimated says Drawn is an estimate: the event was voided before
	// abacus kept what came back to each bucket (migration 0013).
	DrawnEstimated bool
	PriceIDs       []int64 // the price rows that rated it
	// Uncommitted flags usage of a licence that requires a subscription
	// (not burstable) by an account with no commitment active at its time:
	// charged all the same, and listed for the operator to follow up.
	Uncommitted bool
	TxID        int64 // the usage transaction that charged it
	VoidTxID    int64 // the transaction that reversed it
	// Refunded is what its void gave back: what the month's cost dropped by
	// without it. That is Charged for a per-unit price, but with tiers it is
	// priced at the top of the month's usage, not where the event once was.
	Refunded Amount
	// Cost is the exact amount its charge stands for, before the account's
	// carry rounds it to micro-units: the rating's cost, less what a void
	// gave back (exactly). Charges, refunds and carry add up to the costs,
	// so a reprice gives back exactly this. Not Valid for an event stored
	// before abacus kept it (migration 0012).
	Cost decimal.NullDecimal
}

// Drawn is how much of a charge each bucket paid.
type Drawn struct {
	Cash, Bonus, Voucher Amount
}

// Of points at the amount of bucket b (one of CustomerBuckets), nil for
// any other bucket.
func (d *Drawn) Of(b Bucket) *Amount {
	switch b {
	case BucketCash:
		return &d.Cash
	case BucketBonus:
		return &d.Bonus
	case BucketVoucher:
		return &d.Voucher
	}
	return nil
}

// Sum is what the buckets paid together.
func (d Drawn) Sum() (Amount, error) {
	s, err := d.Cash.Add(d.Bonus)
	if err != nil {
		return Amount{}, err
	}
	return s.Add(d.Voucher)
}
