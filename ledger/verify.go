package ledger

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// Report is what Verify found: one entry per invariant.
type Report struct {
	Counts map[string]int64 // rows read, by kind
	Checks []*Check
}

// Check is one invariant and its violations.
type Check struct {
	Name       string
	Violations int64
	// Unrepriced counts the violations that are events charged at a price
	// a later version replaced for their time: most likely what a
	// correction has still to reprice (an account that could not pay, a
	// run stopped), though a book changed behind abacus's back reads the
	// same.
	Unrepriced int64
	Examples   []string // the first few, for people
}

const maxExamples = 10

func (c *Check) fail(format string, args ...any) {
	c.Violations++
	if len(c.Examples) < maxExamples {
		c.Examples = append(c.Examples, fmt.Sprintf(format, args...))
	}
}

// unrepriced fails the check for an event a correction is still to
// reprice.
func (c *Check) unrepriced(format string, args ...any) {
	c.Unrepriced++
	c.fail(format, args...)
}

// OK reports whether every invariant holds.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Violations > 0 {
			return false
		}
	}
	return true
}

// String formats the report for people.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d transactions, %d postings, %d wallets, %d holds, %d idempotency keys\n",
		r.Counts["transactions"], r.Counts["postings"], r.Counts["wallets"], r.Counts["holds"], r.Counts["keys"])
	for _, c := range r.Checks {
		if c.Violations == 0 {
			fmt.Fprintf(&b, "  ok    %s\n", c.Name)
			continue
		}
		fmt.Fprintf(&b, "  FAIL  %s: %d violation(s)\n", c.Name, c.Violations)
		for _, e := range c.Examples {
			fmt.Fprintf(&b, "          %s\n", e)
		}
	}
	var violations, unrepriced int64
	for _, c := range r.Checks {
		violations, unrepriced = violations+c.Violations, unrepriced+c.Unrepriced
	}
	switch {
	case violations == 0:
		b.WriteString("all ledger invariants hold\n")
	case violations == unrepriced:
		// Said as what it is: an operator whose correction was refused
		// for an account's money read its wait as damage (README QA).
		charges := "charges"
		if unrepriced == 1 {
			charges = "charge"
		}
		// It cannot tell a correction's version from one stored behind
		// abacus's back, so it names both (regression QA).
		fmt.Fprintf(&b, "every other invariant holds, but events are still charged at prices a later version replaced for their time (%d %s): "+
			"a correction (abacus prices import --correct) refused for its accounts' money, or stopped, is still to finish: run it again, after a top-up; "+
			"if none was run, the price book was changed outside abacus\n", unrepriced, charges)
	default:
		b.WriteString("LEDGER INVARIANTS VIOLATED\n")
	}
	return b.String()
}

// Verify checks every ledger invariant over one consistent snapshot:
//
//   - postings sum to zero per currency, overall and in every transaction,
//     every transaction has two or more postings, and one of a named type
//     posts against the system account its type names, moving a
//     customer's money the way that type does;
//   - every wallet's balance is the fold of its postings, each posting's
//     balance_after is the running sum, and versions run 1, 2, 3, … with
//     the wallet's version equal to its count of postings;
//   - one effect per idempotency key, every transaction but usage and every
//     hold recorded under its key, and each transaction reverted at most
//     once, by a revert that names it and posts its postings negated;
//   - no debit left a wallet below its floor, and no wallet is below it now;
//   - every customer's wallets are in the account's currency;
//   - holds: each open hold's legs sum to its amount, every wallet holds
//     exactly what its open holds reserve, and each hold was resolved at
//     most once, a posted hold by exactly one transaction that drew at most
//     what it held;
//   - usage: each usage transaction moves what its events were charged,
//     less what voids gave back, per currency and account, each rollup
//     row holds what the events of its key sum to, and each standing event
//     of per-unit versions costs what they make of it;
//   - prices: every event names versions in force at its time (none added
//     later took over before it), exactly those its key fields lead to,
//     and each version's recorded latest use is no earlier than the events
//     it rated;
//   - counters: each tier counter holds what the standing events of its
//     month count, rated at the versions that charged them.
func Verify(ctx context.Context, a abacus.Auditor) (*Report, error) {
	v := &verifier{
		r: &Report{Counts: map[string]int64{}},
	}
	v.zeroSum = v.check("postings sum to zero per currency")
	v.txBalanced = v.check("every transaction balances per currency, has two or more postings, and posts as its type does")
	v.fold = v.check("every balance is the fold of its postings, with contiguous versions")
	v.floors = v.check("no wallet went below its floor")
	v.owners = v.check("every customer's wallets are in its currency")
	v.keys = v.check("one effect per idempotency key")
	v.reverts = newRevertCheck(v.check("each transaction reverted at most once, by its mirror image"))
	v.holds = v.check("holds are consistent and resolved at most once")
	v.usage = newUsageCheck(v.check("usage events agree with their transactions, rollups, exact costs and the buckets that paid"))
	v.prices = newPriceCheck(v.check("events name the price versions in force at their time"))
	v.counters = newCounterCheck(v.check("tier counters hold the usage their months' standing events count"))
	v.rerate = newRerateCheck(v.prices.c, v.usage.c)
	err := a.Audit(ctx, func(ar abacus.AuditReader) error {
		for _, step := range []func(abacus.AuditReader) error{v.loadZone, v.transactions, v.postingsByTx, v.accountRows, v.walletRows, v.postingsByWallet, v.holdRows, v.idempotency,
			v.prices.load, v.loadCounters, v.usage.loadReprices, v.events, v.usage.rollups, v.usage.monthsPaid, v.usage.loadCarries} {
			if err := step(ar); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: reading the ledger: %w", err)
	}
	v.finish()
	return v.r, nil
}

type walletState struct {
	abacus.Wallet
	sum      big.Int // fold of postings
	postings int64
	openHeld big.Int // what open holds reserve in it
}

type verifier struct {
	r                                                      *Report
	zeroSum, txBalanced, fold, floors, owners, keys, holds *Check
	reverts                                                *revertCheck

	currencyTotals map[abacus.Currency]*big.Int
	holdPosts      map[int64]int64 // hold id → the hold_post transaction
	holdPostDebits map[int64]*big.Int
	holdStatus     map[int64]abacus.HoldStatus
	holdCreated    map[int64]time.Time
	currencyOf     map[abacus.AccountID]abacus.Currency  // "" for a system account
	overdraftOf    map[abacus.AccountID]abacus.Overdraft // customers'
	txIDs          []int64                               // every transaction, in id order
	txTypes        []abacus.TxType                       // and its type
	wallets        map[int64]*walletState
	usage          *usageCheck
	prices         *priceCheck
	counters       *counterCheck
	rerate         *rerateCheck
}

// events streams the usage events once, for the checks that read them.
func (v *verifier) events(ar abacus.AuditReader) error {
	return ar.Events(func(e abacus.StoredEvent) error {
		v.usage.event(&e)
		v.prices.event(&e)
		v.counters.event(&e)
		v.rerate.event(&e)
		return nil
	})
}

// loadZone reads the zone of the billing months, which the usage checks
// count months in.
func (v *verifier) loadZone(ar abacus.AuditReader) error {
	name, err := ar.BillingZone()
	if err != nil {
		return err
	}
	zone, err := rating.BillingZone(name)
	if err != nil {
		return fmt.Errorf("the stored billing zone: %w", err)
	}
	v.usage.zone, v.rerate.zone = zone, zone
	return nil
}

func (v *verifier) loadCounters(ar abacus.AuditReader) error {
	if err := v.rerate.load(ar, v.prices.prices); err != nil {
		return err
	}
	return v.counters.load(ar, v.prices.prices, v.rerate.book)
}

func (v *verifier) check(name string) *Check {
	c := &Check{Name: name}
	v.r.Checks = append(v.r.Checks, c)
	return c
}

func (v *verifier) transactions(ar abacus.AuditReader) error {
	v.holdPosts = map[int64]int64{}
	v.holdPostDebits = map[int64]*big.Int{}
	return ar.Transactions(func(t abacus.Transaction) error {
		v.r.Counts["transactions"]++
		v.txIDs, v.txTypes = append(v.txIDs, t.ID), append(v.txTypes, t.Type)
		if t.Type == abacus.TxUsage {
			v.usage.txs[t.ID] = true
		}
		// Only a hold post draws from a hold (QA: a charge and a hold post,
		// alike in what they post, had passed for each other).
		switch {
		case t.Type == abacus.TxHoldPost && t.HoldID == 0:
			v.holds.fail("transaction %d (%s) names no hold", t.ID, t.Type)
		case t.Type != abacus.TxHoldPost && t.HoldID != 0:
			v.holds.fail("transaction %d (%s) names hold %d", t.ID, t.Type, t.HoldID)
		}
		if t.HoldID != 0 {
			if prev, dup := v.holdPosts[t.HoldID]; dup {
				v.holds.fail("hold %d is posted by transactions %d and %d", t.HoldID, prev, t.ID)
			}
			v.holdPosts[t.HoldID] = t.ID
			v.holdPostDebits[t.ID] = new(big.Int)
		}
		v.reverts.transaction(t)
		return nil
	})
}

func (v *verifier) postingsByTx(ar abacus.AuditReader) error {
	v.currencyTotals = map[abacus.Currency]*big.Int{}
	var cur int64 = -1
	var legs int
	var typ abacus.TxType
	misshapen := false // reported for cur already
	sums := map[abacus.Currency]*big.Int{}
	next := 0 // into v.txIDs: both streams come in transaction order
	noPostings := func(upTo int64) {
		for ; next < len(v.txIDs) && v.txIDs[next] < upTo; next++ {
			v.txBalanced.fail("transaction %d has no postings", v.txIDs[next])
		}
	}
	flush := func() {
		if cur < 0 {
			return
		}
		if legs < 2 {
			v.txBalanced.fail("transaction %d has %d posting(s)", cur, legs)
		}
		for c, s := range sums {
			if s.Sign() != 0 {
				v.txBalanced.fail("transaction %d: its %s postings sum to %s", cur, c, micros(s))
			}
		}
		clear(sums)
	}
	err := ar.PostingsByTx(func(p abacus.Posting) error {
		v.r.Counts["postings"]++
		if p.TxID != cur {
			flush()
			cur, legs, typ, misshapen = p.TxID, 0, "", false
			noPostings(cur)
			if next < len(v.txIDs) && v.txIDs[next] == cur {
				typ = v.txTypes[next]
				next++
			} else {
				v.txBalanced.fail("postings name transaction %d, which does not exist", cur)
			}
		}
		legs++
		if bad := shapeOf(typ, p); bad != "" && !misshapen {
			v.txBalanced.fail("transaction %d (%s) %s", cur, typ, bad)
			misshapen = true
		}
		v.usage.posting(p)
		v.reverts.posting(p)
		addTo(sums, p.Currency, p.Amount.Micros())
		addTo(v.currencyTotals, p.Currency, p.Amount.Micros())
		if d, ok := v.holdPostDebits[p.TxID]; ok && p.Amount.IsNegative() {
			d.Sub(d, big.NewInt(p.Amount.Micros()))
		}
		return nil
	})
	flush()
	noPostings(math.MaxInt64)
	return err
}

// addTo adds n to the sum m keeps under k.
func addTo[K comparable](m map[K]*big.Int, k K, n int64) {
	s := m[k]
	if s == nil {
		s = new(big.Int)
		m[k] = s
	}
	s.Add(s, big.NewInt(n))
}

// floorText names a floor, or its absence.
func floorText(floor abacus.Amount, has bool) string {
	if !has {
		return "none"
	}
	return floor.String()
}

func micros(n *big.Int) string {
	if n.IsInt64() {
		return abacus.AmountFromMicros(n.Int64()).String()
	}
	return n.String() + " micro-units"
}

// accountRows reads each account's currency, and a customer's overdraft.
// An account whose currency was changed behind the engine's back had its
// wallets stay in the old one, and the next top-up posted an unbalanced
// transaction (QA). An account whose overdraft said a limit of 0 while
// its cash had no floor was shown so, and charged on below zero (QA).
func (v *verifier) accountRows(ar abacus.AuditReader) error {
	v.currencyOf, v.overdraftOf = map[abacus.AccountID]abacus.Currency{}, map[abacus.AccountID]abacus.Overdraft{}
	return ar.Accounts(func(a abacus.Account) error {
		v.r.Counts["accounts"]++
		if _, system := abacus.SystemAccountByID(a.ID); system {
			a.Currency = ""
		} else {
			v.overdraftOf[a.ID] = a.Overdraft
		}
		v.currencyOf[a.ID] = a.Currency
		return nil
	})
}

func (v *verifier) walletRows(ar abacus.AuditReader) error {
	v.wallets = map[int64]*walletState{}
	return ar.Wallets(func(w abacus.Wallet) error {
		v.r.Counts["wallets"]++
		// A wallet's account exists: a foreign key says so.
		if cur := v.currencyOf[w.Account]; cur != "" && cur != w.Currency {
			v.owners.fail("wallet %d of account %s is in %s, but the account is in %s", w.ID, w.Account, w.Currency, cur)
		}
		if od, customer := v.overdraftOf[w.Account]; customer {
			if floor, has := od.Floor(w.Bucket); has != w.HasFloor || has && floor.Cmp(w.Floor) != 0 {
				v.floors.fail("wallet %d (%s %s): its floor is %s, but its account's overdraft makes it %s", w.ID, w.Account, w.Bucket,
					floorText(w.Floor, w.HasFloor), floorText(floor, has))
			}
		}
		v.wallets[w.ID] = &walletState{Wallet: w}
		return nil
	})
}

func (v *verifier) postingsByWallet(ar abacus.AuditReader) error {
	return ar.PostingsByWallet(func(p abacus.Posting) error {
		w := v.wallets[p.WalletID]
		if w == nil {
			v.fold.fail("posting of transaction %d names wallet %d, which does not exist", p.TxID, p.WalletID)
			return nil
		}
		w.postings++
		w.sum.Add(&w.sum, big.NewInt(p.Amount.Micros()))
		if p.Version != w.postings {
			v.fold.fail("wallet %d (%s): transaction %d has version %d where %d was due", w.ID, walletName(w), p.TxID, p.Version, w.postings)
		}
		if !w.sum.IsInt64() || w.sum.Int64() != p.BalanceAfter.Micros() {
			v.fold.fail("wallet %d (%s): transaction %d says the balance after it is %s but the postings so far sum to %s",
				w.ID, walletName(w), p.TxID, p.BalanceAfter, micros(&w.sum))
		}
		if p.Amount.IsNegative() && w.HasFloor && p.BalanceAfter.Cmp(w.Floor) < 0 {
			v.floors.fail("wallet %d (%s): transaction %d took the balance to %s, below its floor %s", w.ID, walletName(w), p.TxID, p.BalanceAfter, w.Floor)
		}
		return nil
	})
}

func walletName(w *walletState) string {
	name := string(w.Account)
	if s, ok := abacus.SystemAccountByID(w.Account); ok {
		name = string(s)
	}
	return fmt.Sprintf("%s %s %s", name, w.Bucket, w.Currency)
}

func (v *verifier) holdRows(ar abacus.AuditReader) error {
	v.holdStatus, v.holdCreated = map[int64]abacus.HoldStatus{}, map[int64]time.Time{}
	return ar.Holds(func(h abacus.Hold) error {
		v.r.Counts["holds"]++
		v.holdStatus[h.ID], v.holdCreated[h.ID] = h.Status, h.CreatedAt
		legs := new(big.Int)
		for _, l := range h.Legs {
			legs.Add(legs, big.NewInt(l.Amount.Micros()))
			if w := v.wallets[l.WalletID]; w != nil && h.Status == abacus.HoldOpen {
				w.openHeld.Add(&w.openHeld, big.NewInt(l.Amount.Micros()))
			}
		}
		if !legs.IsInt64() || legs.Int64() != h.Amount.Micros() {
			v.holds.fail("hold %d: its legs reserve %s but it holds %s", h.ID, micros(legs), h.Amount)
		}
		txID, posted := v.holdPosts[h.ID]
		switch h.Status {
		case abacus.HoldOpen:
			if posted || !h.ResolvedAt.IsZero() {
				v.holds.fail("hold %d is open but was resolved (transaction %d)", h.ID, txID)
			}
		case abacus.HoldPosted:
			if !posted || txID != h.TxID {
				v.holds.fail("hold %d is posted by transaction %d but the journal says %d", h.ID, h.TxID, txID)
			} else if d := v.holdPostDebits[txID]; !d.IsInt64() || d.Int64() != h.PostedAmount.Micros() {
				v.holds.fail("hold %d posted %s but transaction %d drew %s", h.ID, h.PostedAmount, txID, micros(d))
			}
			if !h.PostedAmount.IsPositive() || h.PostedAmount.Cmp(h.Amount) > 0 {
				v.holds.fail("hold %d posted %s of the %s it held", h.ID, h.PostedAmount, h.Amount)
			}
		case abacus.HoldVoided, abacus.HoldExpired:
			if posted {
				v.holds.fail("hold %d is %s but transaction %d posted it", h.ID, h.Status, txID)
			}
		default:
			v.holds.fail("hold %d has unknown status %q", h.ID, h.Status)
		}
		return nil
	})
}

// idempotency checks that no two keys record the same effect. A key that
// made a transaction is the only one naming it. A key with a hold and no
// transaction created the hold or voided or expired it: those are two
// effects, so a hold released that way may be named by two such keys (its
// creation's and its release's), any other hold by one.
func (v *verifier) idempotency(ar abacus.AuditReader) error {
	txKeys := map[int64]string{}
	holdKeys := map[int64][]abacus.IdempotencyRecord{}
	err := ar.Idempotency(func(rec abacus.IdempotencyRecord) error {
		v.r.Counts["keys"]++
		switch {
		case rec.TxID == 0 && rec.HoldID == 0:
			v.keys.fail("key %q records no effect", rec.Key)
			return nil
		case rec.TxID != 0:
			if prev, dup := txKeys[rec.TxID]; dup {
				v.keys.fail("keys %q and %q record the same effect (transaction %d)", prev, rec.Key, rec.TxID)
			}
			txKeys[rec.TxID] = rec.Key
		default:
			holdKeys[rec.HoldID] = append(holdKeys[rec.HoldID], rec)
		}
		if len(rec.Hash) == 0 {
			v.keys.fail("key %q has no request hash", rec.Key)
		}
		return nil
	})
	// Every transaction but usage came through Submit, under a key: one
	// that lost its key would apply again if its request were sent again.
	for i, id := range v.txIDs {
		if _, ok := txKeys[id]; !ok && v.txTypes[i] != abacus.TxUsage {
			v.keys.fail("transaction %d (%s) has no idempotency key: its request sent again would apply again", id, v.txTypes[i])
		}
	}
	// Likewise every hold was created under a key, stored with it, at its
	// time: a void's key names the hold too (QA: with the key deleted, the
	// request sent again held the money twice).
	for _, id := range slices.Sorted(maps.Keys(v.holdStatus)) {
		if !slices.ContainsFunc(holdKeys[id], func(rec abacus.IdempotencyRecord) bool { return rec.CreatedAt.Equal(v.holdCreated[id]) }) {
			v.keys.fail("hold %d has no idempotency key of its own: its request sent again would hold again", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(holdKeys)) {
		allowed := 1
		if st := v.holdStatus[id]; st == abacus.HoldVoided || st == abacus.HoldExpired {
			allowed = 2
		}
		if recs := holdKeys[id]; len(recs) > allowed {
			keys := make([]string, len(recs))
			for i, rec := range recs {
				keys[i] = rec.Key
			}
			v.keys.fail("keys %q record the same effect (hold %d, %s)", keys, id, v.holdStatus[id])
		}
	}
	return err
}

// finish compares what the scans accumulated.
func (v *verifier) finish() {
	v.usage.finish()
	v.prices.finish()
	v.counters.finish()
	v.reverts.finish(func(id int64) bool {
		_, found := slices.BinarySearch(v.txIDs, id)
		return found
	})
	currencies := make([]string, 0, len(v.currencyTotals))
	for c := range v.currencyTotals {
		currencies = append(currencies, string(c))
	}
	sort.Strings(currencies)
	for _, c := range currencies {
		if s := v.currencyTotals[abacus.Currency(c)]; s.Sign() != 0 {
			v.zeroSum.fail("the %s postings sum to %s", c, micros(s))
		}
	}
	ids := make([]int64, 0, len(v.wallets))
	for id := range v.wallets {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		w := v.wallets[id]
		if !w.sum.IsInt64() || w.sum.Int64() != w.Balance.Micros() {
			v.fold.fail("wallet %d (%s): stored balance %s but its postings sum to %s", id, walletName(w), w.Balance, micros(&w.sum))
		}
		if w.Version != w.postings {
			v.fold.fail("wallet %d (%s): stored version %d but it has %d postings", id, walletName(w), w.Version, w.postings)
		}
		if !w.openHeld.IsInt64() || w.openHeld.Int64() != w.Held.Micros() {
			v.holds.fail("wallet %d (%s): holds %s but its open holds reserve %s", id, walletName(w), w.Held, micros(&w.openHeld))
		}
		if w.HasFloor {
			if avail, err := w.Available(); err != nil || avail.Cmp(w.Floor) < 0 {
				v.floors.fail("wallet %d (%s): balance %s less held %s is below its floor %s", id, walletName(w), w.Balance, w.Held, w.Floor)
			}
		}
	}
}
