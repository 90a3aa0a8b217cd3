package billing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
	"sort"
	"time"

	"github.com/abacus-billing/abacus"
)

// Source reads rollups, one at a time: a statement holds its lines, not
// the rows they sum. The store implements it.
type Source interface {
	EachRollup(ctx context.Context, q abacus.RollupQuery, fn func(abacus.Rollup) error) error
}

// GroupBy says which dimensions split a period's usage into lines. With
// none set there is one line per period.
type GroupBy struct {
	Scene, Resource, Instance bool
}

// Line is the usage of one period, and of one scene, resource and instance
// for each dimension grouped by. A dimension not grouped by is left at its
// zero value (Scene 0, ResourceID "", CustomerID ""): read the GroupBy the
// statement was built with to tell that apart from a real scene 0.
type Line struct {
	Period     Period
	Scene      int
	ResourceID string
	CustomerID string // the instance
	Currency   abacus.Currency
	Quantity   *big.Int      // base units used, exactly: one producer's value near 2^63 would overflow an int64 sum
	Amount     abacus.Amount // money charged, net of voids and credits
	Events     int64         // events counted, net of voids
	// UnpricedQuantity and UnpricedEvents are the part of Quantity and
	// Events that had no price when the statement was built: Amount holds
	// nothing for them yet, so a line with unpriced events is not free but
	// not billed in full. abacus rerate charges them once a price exists.
	UnpricedQuantity *big.Int
	UnpricedEvents   int64
}

// Statement is an account's usage over [From, To) in periods of Unit in
// Location.
type Statement struct {
	Account  abacus.AccountID
	From, To time.Time // rounded outward to whole periods, in Location
	Unit     Unit
	Location *time.Location
	// Currency is the currency of every line; empty when there are none.
	Currency abacus.Currency
	Lines    []Line
	Total    abacus.Amount // the sum of the lines' amounts, exactly
	// Quantity is the sum of the lines' quantities. It adds base units of
	// different resources alike, so it only means something when the
	// statement covers one resource.
	Quantity *big.Int
	// UnpricedEvents counts the lines' unpriced events: while it is not 0
	// the total leaves out usage that will be charged once it is priced.
	UnpricedEvents int64
}

// Build returns the statement of account for [from, to) split into periods
// of unit in loc (nil means UTC). from and to are rounded outward to the
// enclosing periods, and Statement.From and To are the rounded values.
//
// Each rollup belongs to exactly one period: the one containing the start
// of its bucket. Lines come in period order, then scene, resource and
// instance. A line appears where at least one rollup row fell, even if its
// sums net to zero; a period with no rollup rows yields no line, so a
// statement of an idle account has no lines and a zero total. Sums are
// exact: a line's amount or event count, or the total, that does not fit
// in an int64 is an error (code overflow), however the rows are ordered.
// Quantities are exact at any size: they are only counts, and a sum past
// 2^63 of base units of different resources (QA: one producer's absurd
// value) had made the account's statements fail.
//
// The rollup query is for the periods' UTC span, which must be whole
// quarter hours (abacus.RollupBucket) at every period boundary: otherwise a
// bucket would straddle two periods. Every zone's rules in force today
// pass; a fixed offset such as +05:07 is refused with field "time_offset",
// a zone whose boundary falls off the quarter hour in the range with field
// "time_zone": historical local mean time, and the hours of a few days
// when a zone changed its clocks at 00:01 (America/St_Johns and
// America/Goose_Bay until 2011, America/Moncton until 2006, Asia/Gaza and
// Asia/Hebron in 2010–2011, Antarctica/Casey in 2020–2022), whose hour
// after the change starts at :01. Days and longer periods there pass.
//
// Build also refuses rows that do not belong to the query (another
// account, a bucket outside the span) and rows of more than one currency.
func Build(ctx context.Context, src Source, account abacus.AccountID, from, to time.Time, unit Unit, loc *time.Location, by GroupBy) (Statement, error) {
	if account == "" {
		return Statement{}, abacus.Errorf(abacus.CodeInvalid, "account", "is required")
	}
	// Accounts are stored in one spelling: another found no rollups and
	// gave an empty statement, not an error (QA).
	if id, err := abacus.ResolveAccountRef(string(account)); err != nil || id != account {
		return Statement{}, abacus.Errorf(abacus.CodeInvalid, "account", "%q is not an account id as abacus spells it (a UUID in lower case)", string(account))
	}
	loc = orUTC(loc)
	periods, err := Periods(from, to, unit, loc)
	if err != nil {
		return Statement{}, err
	}
	if err := checkBuckets(periods, loc); err != nil {
		return Statement{}, err
	}
	span := Period{Start: periods[0].Start, End: periods[len(periods)-1].End}
	type key struct {
		period     int
		scene      int
		resourceID string
		customerID string
	}
	type sums struct{ quantity, amount, events, unpricedQuantity, unpricedEvents wide }
	acc := make(map[key]*sums)
	var currency abacus.Currency
	rows := 0
	err = src.EachRollup(ctx, abacus.RollupQuery{Account: account, From: span.Start.UTC(), To: span.End.UTC()}, func(r abacus.Rollup) error {
		if r.Account != account {
			return abacus.Errorf(abacus.CodeInternal, "", "the rollup source returned a row of account %s for account %s", r.Account, account)
		}
		if rows++; rows == 1 {
			currency = r.Currency
		} else if r.Currency != currency {
			return abacus.Errorf(abacus.CodeCurrencyMismatch, "currency", "account %s has usage in both %s and %s", account, currency, r.Currency)
		}
		// The first period that ends after the bucket starts.
		p := sort.Search(len(periods), func(j int) bool { return periods[j].End.After(r.Bucket) })
		if p == len(periods) || r.Bucket.Before(periods[p].Start) {
			return abacus.Errorf(abacus.CodeInternal, "", "the rollup source returned a bucket at %s outside [%s, %s)",
				r.Bucket.UTC().Format(time.RFC3339), span.Start.UTC().Format(time.RFC3339), span.End.UTC().Format(time.RFC3339))
		}
		k := key{period: p}
		if by.Scene {
			k.scene = r.Scene
		}
		if by.Resource {
			k.resourceID = r.ResourceID
		}
		if by.Instance {
			k.customerID = r.CustomerID
		}
		s := acc[k]
		if s == nil {
			s = new(sums)
			acc[k] = s
		}
		s.quantity.add(r.Quantity)
		s.amount.add(r.Amount.Micros())
		s.events.add(r.Events)
		s.unpricedQuantity.add(r.UnpricedQuantity)
		s.unpricedEvents.add(r.UnpricedEvents)
		return nil
	})
	if err != nil {
		if ae := (*abacus.Error)(nil); !errors.As(err, &ae) { // the source's own, not a row's
			err = fmt.Errorf("reading rollups: %w", err)
		}
		return Statement{}, err
	}

	keys := make([]key, 0, len(acc))
	for k := range acc {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(
			cmp.Compare(a.period, b.period),
			cmp.Compare(a.scene, b.scene),
			cmp.Compare(a.resourceID, b.resourceID),
			cmp.Compare(a.customerID, b.customerID),
		)
	})

	st := Statement{
		Account:  account,
		From:     span.Start,
		To:       span.End,
		Unit:     unit,
		Location: loc,
		Currency: currency,
		Lines:    make([]Line, 0, len(keys)),
	}
	var total, unpriced wide
	st.Quantity = new(big.Int)
	for _, k := range keys {
		s := acc[k]
		q := s.quantity.big()
		a, ok2 := s.amount.int64()
		e, ok3 := s.events.int64()
		ue, ok4 := s.unpricedEvents.int64()
		for _, c := range []struct {
			ok    bool
			field string
		}{{ok2, "amount"}, {ok3, "events"}, {ok4, "unpriced_events"}} {
			if !c.ok {
				return Statement{}, overflow(c.field, "a line of the period starting %s", periods[k.period].Start.Format(time.RFC3339))
			}
		}
		total.add(a)
		unpriced.add(ue)
		st.Quantity.Add(st.Quantity, q)
		st.Lines = append(st.Lines, Line{
			Period:     periods[k.period],
			Scene:      k.scene,
			ResourceID: k.resourceID,
			CustomerID: k.customerID,
			Currency:   currency,
			Quantity:   q,
			Amount:     abacus.AmountFromMicros(a),
			Events:     e,

			UnpricedQuantity: s.unpricedQuantity.big(),
			UnpricedEvents:   ue,
		})
	}
	t, ok := total.int64()
	if !ok {
		return Statement{}, overflow("amount", "the statement total")
	}
	st.Total = abacus.AmountFromMicros(t)
	if st.UnpricedEvents, ok = unpriced.int64(); !ok {
		return Statement{}, overflow("unpriced_events", "the statement's count of unpriced events")
	}
	return st, nil
}

// checkBuckets makes sure every period boundary is a whole quarter hour of
// UTC, so that each rollup bucket lies wholly inside one period.
func checkBuckets(periods []Period, loc *time.Location) error {
	check := func(t time.Time) error {
		if t.Equal(t.Truncate(abacus.RollupBucket)) {
			return nil
		}
		name, off := t.Zone()
		if start, end := t.ZoneBounds(); start.IsZero() && end.IsZero() {
			return abacus.Errorf(abacus.CodeInvalid, "time_offset", "the offset %s is not a whole number of quarter hours, and usage is summed in quarter hours of UTC", offsetName(off))
		}
		return abacus.Errorf(abacus.CodeInvalid, "time_zone", "in %s a period starts at %s (%s, %s), which is not a whole quarter hour of UTC, and usage is summed in quarter hours of UTC",
			loc, t.Format("2006-01-02 15:04:05"), name, t.UTC().Format(time.RFC3339))
	}
	for _, p := range periods {
		if err := check(p.Start); err != nil {
			return err
		}
	}
	return check(periods[len(periods)-1].End)
}

func overflow(field, format string, args ...any) error {
	return abacus.Errorf(abacus.CodeOverflow, field, format+" does not fit in an int64", args...)
}

// wide is a signed 128-bit two's complement accumulator. Summing int64s in
// it cannot overflow (short of 2^64 terms), so whether a sum fits depends
// only on its value, not on the order of the rows: a checked int64 sum
// could fail on +max, +1, -1 and succeed on +max, -1, +1.
type wide struct{ hi, lo uint64 }

func (w *wide) add(x int64) {
	var xhi uint64
	if x < 0 {
		xhi = ^uint64(0)
	}
	var carry uint64
	w.lo, carry = bits.Add64(w.lo, uint64(x), 0)
	w.hi, _ = bits.Add64(w.hi, xhi, carry)
}

// big returns the sum.
func (w wide) big() *big.Int {
	b := new(big.Int).SetUint64(w.hi)
	b.Lsh(b, 64).Or(b, new(big.Int).SetUint64(w.lo))
	if int64(w.hi) < 0 { // negative: subtract 2^128
		b.Sub(b, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return b
}

// int64 returns the sum and whether it fits in an int64.
func (w wide) int64() (int64, bool) {
	v := int64(w.lo)
	if (v < 0 && w.hi == ^uint64(0)) || (v >= 0 && w.hi == 0) {
		return v, true
	}
	return 0, false
}
