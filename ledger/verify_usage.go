package ledger

import (
	"cmp"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// usageCheck checks that the usage events and the ledger tell the same
// story: each usage transaction moves exactly what its events were charged
// (less what voids gave back, plus what reprices moved), per currency and
// per account, and each rollup row sums the events of its key that stand
// and what voids left of theirs. A transaction id that events name and the
// ledger lacks (or holds as another kind) moved nothing, so its events must
// net to nothing: a batch whose movements cancel out writes no transaction.
type usageCheck struct {
	c    *Check
	zone *time.Location // of the billing months
	txs  map[int64]bool // usage transactions

	ledgerByTx   map[txCurrency]*big.Int       // revenue postings of usage transactions
	eventsByTx   map[txCurrency]*big.Int       // what events say those transactions moved
	ledgerByAcct map[abacus.AccountID]*big.Int // customer postings of usage transactions
	eventsByAcct map[abacus.AccountID]*big.Int // what the account's events were charged, net of voids
	reprices     map[int64][]abacus.Reprice    // by event seq; each seen is deleted
	costs        map[abacus.AccountID]decimal.Decimal
	costUnknown  map[abacus.AccountID]bool // an event stored before abacus kept costs
	// What each bucket paid for an account's usage of a resource in a
	// month, as its events say and as the store keeps it; and, as its
	// events say, for all of the month's usage (keys with no resource).
	monthPaid, monthStored, paidByMonth map[paidKey]*big.Int
	// The exact cost of what stands of each account's month, and its
	// events; a month with an event of unknown cost is not in monthCost.
	monthCost   map[paidMonth]decimal.Decimal
	monthEvents map[paidMonth]int64
	monthNoCost map[paidMonth]bool
	// Per bucket: what usage transactions moved on it, and what the
	// events say it paid (negated), but for accounts with an event whose
	// split is an estimate.
	ledgerByBucket, eventsByBucket map[acctBucket]*big.Int
	estimated                      map[abacus.AccountID]bool
	// The stored carries per month; per account, all of them and the one
	// from before carries were kept per month (migration 0018); and the
	// months that had usage then (abacus.Carry.Shared).
	carries map[carryKey]decimal.Decimal
	carried map[abacus.AccountID]decimal.Decimal
	shared  map[carryKey]bool
	// The accounts with a carry across months (from before migration 0018).
	acrossMonths map[abacus.AccountID]bool
}

type acctBucket struct {
	account  abacus.AccountID
	currency abacus.Currency
	bucket   abacus.Bucket
}

type paidKey struct {
	account  abacus.AccountID
	currency abacus.Currency
	month    time.Time
	resource string
	bucket   abacus.Bucket
}

func comparePaidKeys(a, b paidKey) int {
	return cmp.Or(strings.Compare(string(a.account), string(b.account)), strings.Compare(string(a.currency), string(b.currency)),
		a.month.Compare(b.month), strings.Compare(a.resource, b.resource), strings.Compare(string(a.bucket), string(b.bucket)))
}

type txCurrency struct {
	tx       int64
	currency abacus.Currency
}

func newUsageCheck(c *Check) *usageCheck {
	return &usageCheck{c: c, txs: map[int64]bool{},
		ledgerByTx: map[txCurrency]*big.Int{}, eventsByTx: map[txCurrency]*big.Int{},
		ledgerByAcct: map[abacus.AccountID]*big.Int{}, eventsByAcct: map[abacus.AccountID]*big.Int{},
		reprices: map[int64][]abacus.Reprice{},
		costs:    map[abacus.AccountID]decimal.Decimal{}, costUnknown: map[abacus.AccountID]bool{}, monthPaid: map[paidKey]*big.Int{}, monthStored: map[paidKey]*big.Int{}, paidByMonth: map[paidKey]*big.Int{},
		monthCost: map[paidMonth]decimal.Decimal{}, monthEvents: map[paidMonth]int64{}, monthNoCost: map[paidMonth]bool{},
		ledgerByBucket: map[acctBucket]*big.Int{}, eventsByBucket: map[acctBucket]*big.Int{}, estimated: map[abacus.AccountID]bool{},
		carries: map[carryKey]decimal.Decimal{}, carried: map[abacus.AccountID]decimal.Decimal{}, shared: map[carryKey]bool{},
		acrossMonths: map[abacus.AccountID]bool{}}
}

// posting sees every posting, in transaction order.
func (u *usageCheck) posting(p abacus.Posting) {
	if !u.txs[p.TxID] {
		return
	}
	if _, system := abacus.SystemAccountByID(p.Account); system {
		if p.Account == abacus.SystemRevenue.ID() {
			addTo(u.ledgerByTx, txCurrency{p.TxID, p.Currency}, p.Amount.Micros())
		}
		return
	}
	addTo(u.ledgerByAcct, p.Account, p.Amount.Micros())
	addTo(u.ledgerByBucket, acctBucket{p.Account, p.Currency, p.Bucket}, p.Amount.Micros())
}

// loadReprices reads the reprices before the events they changed.
func (u *usageCheck) loadReprices(ar abacus.AuditReader) error {
	return ar.Reprices(func(r abacus.Reprice) error {
		u.reprices[r.EventSeq] = append(u.reprices[r.EventSeq], r)
		return nil
	})
}

// repriced moves what an event's reprices charged from its first
// transaction, where its Charged (the total) is counted, to theirs, and
// says whether it has any.
func (u *usageCheck) repriced(e *abacus.StoredEvent) bool {
	rs := u.reprices[e.Seq]
	for _, r := range rs {
		amount := r.Amount.Micros()
		switch {
		case r.EventTxID != e.TxID:
			u.c.fail("a reprice of event %s says it was first charged in transaction %d, the event says %d", e.ID, r.EventTxID, e.TxID)
		case amount == 0:
		case r.TxID == 0:
			u.c.fail("a reprice of event %s moved %s but names no usage transaction", e.ID, r.Amount)
		default:
			addTo(u.eventsByTx, txCurrency{e.TxID, e.Currency}, -amount)
			addTo(u.eventsByTx, txCurrency{r.TxID, e.Currency}, amount)
		}
	}
	delete(u.reprices, e.Seq)
	return len(rs) > 0
}

func (u *usageCheck) event(e *abacus.StoredEvent) {
	repriced := u.repriced(e)
	charged, refunded := e.Charged.Micros(), e.Refunded.Micros()
	switch e.Status {
	case abacus.EventCharged, abacus.EventUnpriced, abacus.EventVoided:
	default:
		u.c.fail("event %s has unknown status %q", e.ID, e.Status)
	}
	if e.Cost.Valid {
		u.costs[e.Account] = u.costs[e.Account].Add(e.Cost.Decimal)
	} else {
		u.costUnknown[e.Account] = true
	}
	if sum, err := e.Drawn.Sum(); err != nil || sum.Micros() != charged-refunded {
		u.c.fail("event %s: its buckets paid %s cash, %s bonus and %s voucher for it, which is not its charge %s less its refund %s",
			e.ID, e.Drawn.Cash, e.Drawn.Bonus, e.Drawn.Voucher, e.Charged, e.Refunded)
	}
	month, _ := rating.Month(e.Time, u.zone)
	um := paidMonth{e.Account, e.Currency, month}
	u.monthEvents[um]++
	if e.Cost.Valid {
		u.monthCost[um] = u.monthCost[um].Add(e.Cost.Decimal)
	} else {
		u.monthNoCost[um] = true
	}
	for _, b := range abacus.CustomerBuckets {
		paid := e.Drawn.Of(b).Micros()
		addTo(u.eventsByBucket, acctBucket{e.Account, e.Currency, b}, -paid)
		addTo(u.monthPaid, paidKey{e.Account, e.Currency, month, e.ResourceID, b}, paid)
		addTo(u.paidByMonth, paidKey{e.Account, e.Currency, month, "", b}, paid)
	}
	if e.DrawnEstimated {
		// Only migration 0013 marks an event so, and only a void that
		// gave money back: the mark takes its account out of the bucket
		// check, so one set on any other event hides what it marks (QA).
		if e.Status != abacus.EventVoided || refunded == 0 {
			u.c.fail("event %s is %s, refunded %s, yet marked as paid by buckets estimated, as only voids stored before migration 0013 are", e.ID, e.Status, e.Refunded)
		}
		u.estimated[e.Account] = true
	}
	if refunded != 0 && e.Status != abacus.EventVoided {
		u.c.fail("event %s is %s yet was refunded %s", e.ID, e.Status, e.Refunded)
	}
	if charged != 0 {
		if e.Status == abacus.EventUnpriced {
			u.c.fail("event %s is unpriced yet was charged %s", e.ID, e.Charged)
		}
		// An event first charged nothing names no transaction (0), where
		// what its reprices moved elsewhere must then net to nothing.
		if e.TxID == 0 && !repriced {
			u.c.fail("event %s was charged %s but names no usage transaction", e.ID, e.Charged)
		} else {
			addTo(u.eventsByTx, txCurrency{e.TxID, e.Currency}, charged)
			addTo(u.eventsByAcct, e.Account, -charged)
		}
	}
	if refunded != 0 {
		if e.VoidTxID == 0 {
			u.c.fail("event %s was voided but names no usage transaction that gave its %s back", e.ID, e.Refunded)
		} else {
			addTo(u.eventsByTx, txCurrency{e.VoidTxID, e.Currency}, -refunded)
			addTo(u.eventsByAcct, e.Account, refunded)
		}
	}
}

func (u *usageCheck) monthsPaid(ar abacus.AuditReader) error {
	return ar.MonthsPaid(func(m abacus.MonthPaid) error {
		for _, b := range abacus.CustomerBuckets {
			addTo(u.monthStored, paidKey{m.Account, m.Currency, m.Period, m.ResourceID, b}, m.Paid.Of(b).Micros())
		}
		return nil
	})
}

func (u *usageCheck) loadCarries(ar abacus.AuditReader) error {
	return ar.Carries(func(c abacus.Carry) error {
		d, err := decimal.NewFromString(c.Residue)
		if err != nil || d.IsNegative() || d.GreaterThanOrEqual(decimal.New(1, -6)) {
			u.c.fail("account %s: its carry for %s is %q, not a decimal in [0, 0.000001)", c.Account, carryPeriod(c.Period, u.zone), c.Residue)
			return nil
		}
		u.carried[c.Account] = u.carried[c.Account].Add(d)
		if c.Period.IsZero() {
			u.acrossMonths[c.Account] = true
		} else {
			k := carryKey{c.Account, c.Period.UTC()}
			u.carries[k], u.shared[k] = d, c.Shared
		}
		return nil
	})
}

// sharedOnlyWithCarryAcross checks that a month marked as having had usage
// while its account's carry was one across months belongs to an account
// that had such a carry: migration 0018 marks no other, and the mark takes
// the month out of the check of its own carry (QA).
func (u *usageCheck) sharedOnlyWithCarryAcross() {
	for _, k := range sortedKeys(u.shared, func(a, b carryKey) int {
		return cmp.Or(strings.Compare(string(a.account), string(b.account)), a.period.Compare(b.period))
	}) {
		if u.shared[k] && !u.acrossMonths[k.account] {
			u.c.fail("account %s: its carry for %s is marked as shared with a carry across months, which the account never had", k.account, carryPeriod(k.period, u.zone))
		}
	}
}

func carryPeriod(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return "every month before carries were kept per month"
	}
	return t.In(zone).Format("2006-01")
}

// rollups checks each rollup row against the events of its key: the
// usage and count of those that stand and of those unpriced, and what each
// was charged net of what a void gave back (with tiers a void gives back what the month's
// last units cost, so a voided event's charge and refund need not
// cancel). Compared as one sum per account, usage moved to another
// quarter hour, scene, resource or instance went unseen (QA).
func (u *usageCheck) rollups(ar abacus.AuditReader) error {
	return ar.RollupDiffs(func(d abacus.RollupDiff) error {
		k := cmp.Or(d.Stored, d.Events)
		key := fmt.Sprintf("the rollup of account %s, quarter hour from %s, scene %d, resource %q, instance %q", k.Account, k.Bucket.Format(time.RFC3339), k.Scene, k.ResourceID, k.CustomerID)
		// The unpriced part is said of both sides if of either, so that
		// where only it differs the difference shows (QA).
		unpriced := slices.ContainsFunc([]*abacus.Rollup{d.Stored, d.Events}, func(r *abacus.Rollup) bool {
			return r != nil && (r.UnpricedQuantity != 0 || r.UnpricedEvents != 0)
		})
		switch {
		case d.Stored == nil:
			u.c.fail("%s is missing; its events say %s", key, rollupSums(d.Events, unpriced))
		case d.Events == nil:
			u.c.fail("%s holds %s, but no event has its key", key, rollupSums(d.Stored, unpriced))
		default:
			u.c.fail("%s holds %s; its events say %s", key, rollupSums(d.Stored, unpriced), rollupSums(d.Events, unpriced))
		}
		return nil
	})
}

func rollupSums(r *abacus.Rollup, unpriced bool) string {
	sums := fmt.Sprintf("%d units, %s %s charged, %d events", r.Quantity, r.Amount, r.Currency, r.Events)
	if unpriced {
		sums += fmt.Sprintf(" (%d units in %d events unpriced)", r.UnpricedQuantity, r.UnpricedEvents)
	}
	return sums
}

func (u *usageCheck) finish() {
	for _, seq := range slices.Sorted(maps.Keys(u.reprices)) {
		u.c.fail("%d reprices name event %d, which is not stored", len(u.reprices[seq]), seq)
	}
	zero := new(big.Int)
	// What the store keeps per resource and month, which bounds the
	// credits of the resource's usage, is what its events say; and credits
	// and refunds go back to a bucket at most what it paid for the month's
	// usage, so promotional money never comes back as cash or as more. The
	// month's, not the resource's: until migration 0025 the bound was the
	// month's, and a resource's credits went to buckets that paid others.
	paidKeys := map[paidKey]bool{}
	for k := range u.monthPaid {
		paidKeys[k] = true
	}
	for k := range u.monthStored {
		paidKeys[k] = true
	}
	u.monthsNotBelowZero()
	u.monthsCarried()
	u.sharedOnlyWithCarryAcross()
	for _, k := range sortedKeys(paidKeys, comparePaidKeys) {
		events, stored := orZero(u.monthPaid[k], zero), orZero(u.monthStored[k], zero)
		if events.Cmp(stored) != 0 {
			u.c.fail("account %s: its events say its %s bucket paid %s %s for the usage of resource %q in %s, but the store keeps %s", k.account, k.bucket,
				micros(events), k.currency, k.resource, k.month.Format("2006-01"), micros(stored))
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(u.paidByMonth), comparePaidKeys) {
		if events := u.paidByMonth[k]; k.bucket != abacus.BucketCash && events.Sign() < 0 {
			u.c.fail("account %s: its %s bucket got back %s %s more for the usage of %s than it paid for it", k.account, k.bucket,
				micros(new(big.Int).Neg(events)), k.currency, k.month.Format("2006-01"))
		}
	}
	buckets := map[acctBucket]bool{}
	for k := range u.ledgerByBucket {
		buckets[k] = true
	}
	for k := range u.eventsByBucket {
		buckets[k] = true
	}
	for _, k := range sortedKeys(buckets, func(a, b acctBucket) int {
		return cmp.Or(strings.Compare(string(a.account), string(b.account)), strings.Compare(string(a.currency), string(b.currency)),
			strings.Compare(string(a.bucket), string(b.bucket)))
	}) {
		l, e := orZero(u.ledgerByBucket[k], zero), orZero(u.eventsByBucket[k], zero)
		if l.Cmp(e) != 0 && !u.estimated[k.account] {
			u.c.fail("account %s: usage transactions took %s %s from its %s bucket but its events say it paid %s", k.account,
				micros(new(big.Int).Neg(l)), k.currency, k.bucket, micros(new(big.Int).Neg(e)))
		}
	}
	keys := map[txCurrency]bool{}
	for k := range u.ledgerByTx {
		keys[k] = true
	}
	for k := range u.eventsByTx {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys, func(a, b txCurrency) int {
		return cmp.Or(cmp.Compare(a.tx, b.tx), strings.Compare(string(a.currency), string(b.currency)))
	}) {
		l, e := orZero(u.ledgerByTx[k], zero), orZero(u.eventsByTx[k], zero)
		if l.Cmp(e) != 0 {
			u.c.fail("usage transaction %d moved %s %s to revenue but its events say %s", k.tx, micros(l), k.currency, micros(e))
		}
	}
	accts := map[abacus.AccountID]bool{}
	for a := range u.ledgerByAcct {
		accts[a] = true
	}
	for a := range u.eventsByAcct {
		accts[a] = true
	}
	for a := range u.costs {
		accts[a] = true
	}
	for _, a := range sortedKeys(accts, func(x, y abacus.AccountID) int { return strings.Compare(string(x), string(y)) }) {
		l, e := orZero(u.ledgerByAcct[a], zero), orZero(u.eventsByAcct[a], zero)
		if l.Cmp(e) != 0 {
			u.c.fail("account %s: usage transactions moved %s but its events were charged %s", a, micros(l), micros(new(big.Int).Neg(e)))
		}
		// What an account was charged for usage is its events' exact costs
		// less its carries.
		if cost, ok := u.costs[a]; ok && !u.costUnknown[a] {
			carried := u.carried[a]
			if diff := cost.Add(decimal.NewFromBigInt(e, -6)); !diff.Equal(carried) {
				u.c.fail("account %s: its events' exact costs come to %s but it was charged %s for them, which leaves %s; its carries hold %s",
					a, cost, micros(new(big.Int).Neg(e)), diff, carried)
			}
		}
	}
}

// monthsNotBelowZero checks that no account's month of usage came to less
// than nothing: every price's month costs C(total) >= 0 whatever its
// credits and voids, so a month below zero gave back money never paid.
// It sums the exact costs of what stands, which are rounded only at 20
// places (half a unit there per event). A month with an event stored
// before costs were kept is judged by what its buckets paid instead,
// which the account's carry may move by a micro-unit per event across
// months.
func (u *usageCheck) monthsNotBelowZero() {
	months := map[paidMonth]bool{}
	for m := range u.monthEvents {
		months[m] = true
	}
	for _, m := range sortedKeys(months, comparePaidMonths) {
		n := u.monthEvents[m]
		came := u.monthCost[m]
		slack := decimal.New(n, -rating.CostScale)
		if u.monthNoCost[m] {
			paid := new(big.Int)
			for _, b := range abacus.CustomerBuckets {
				if p := u.paidByMonth[paidKey{m.account, m.currency, m.start, "", b}]; p != nil {
					paid.Add(paid, p)
				}
			}
			came, slack = decimal.NewFromBigInt(paid, -6), decimal.New(n, -6)
		}
		if came.Add(slack).Sign() < 0 {
			u.c.fail("account %s: its usage of %s came to %s %s: more came back than was paid for it", m.account, m.start.Format("2006-01"),
				came, m.currency)
		}
	}
}

// monthsCarried checks that each month was charged its events' exact
// costs less its own carry, so that what it gives back through the carry
// never reaches another month's money. A month that had usage while its
// account's carry was one across months (before migration 0018) is left
// to the check of the account's sum.
func (u *usageCheck) monthsCarried() {
	months := map[paidMonth]bool{}
	for m := range u.monthCost {
		months[m] = true
	}
	for _, m := range sortedKeys(months, comparePaidMonths) {
		k := carryKey{m.account, m.start}
		if u.monthNoCost[m] || u.costUnknown[m.account] || u.shared[k] {
			continue
		}
		paid := new(big.Int)
		for _, b := range abacus.CustomerBuckets {
			if p := u.paidByMonth[paidKey{m.account, m.currency, m.start, "", b}]; p != nil {
				paid.Add(paid, p)
			}
		}
		carry := u.carries[k]
		if diff := u.monthCost[m].Sub(decimal.NewFromBigInt(paid, -6)); !diff.Equal(carry) {
			u.c.fail("account %s: its usage of %s costs %s exactly and was charged %s for it, which leaves %s; its carry for the month holds %s",
				m.account, m.start.Format("2006-01"), u.monthCost[m], micros(paid), diff, carry)
		}
	}
}

func orZero(n, zero *big.Int) *big.Int {
	if n == nil {
		return zero
	}
	return n
}

func sortedKeys[K comparable](m map[K]bool, cmp func(a, b K) int) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, cmp)
	return out
}

// comparePaidMonths orders months by account, currency and start.
func comparePaidMonths(a, b paidMonth) int {
	return cmp.Or(strings.Compare(string(a.account), string(b.account)), strings.Compare(string(a.currency), string(b.currency)), a.start.Compare(b.start))
}
