package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
	"github.com/abacus-billing/abacus/store"
)

// pricesCorrect stores what of file corrects the book, then reprices the
// months, from that of the file's earliest valid_from, in which an event
// names a version of the file's keys no longer in force at its time. Both steps are
// idempotent, so a run that stopped half way is finished by running it
// again. A dry run says what it would store and how many events it would
// reprice, against the corrections held in memory, and changes nothing.
func pricesCorrect(ctx context.Context, st migrator, file *rating.File, book *abacus.PriceBook, ecfg ledger.Config, dryRun bool,
	stdout, stderr io.Writer) error {
	prices, err := file.Corrections(*book)
	if err != nil {
		return err
	}
	warn(stderr, file.WarningsFor(prices))
	corrected := *book
	corrected.Prices = slices.Clone(book.Prices)
	now := time.Now().UTC()
	for i := range prices {
		prices[i].CreatedAt = now
		p := prices[i]
		p.ID = -int64(i + 1) // until stored: stored ids are positive
		corrected.Prices = append(corrected.Prices, p)
	}
	zone, err := rating.BillingZone(book.Zone)
	if err != nil {
		return err
	}
	if _, err := rating.NewBook(zone, corrected.Prices, book.Levels, book.Commitments); err != nil {
		return err
	}
	if err := rating.CheckCountedVersions(zone, book.Prices, prices); err != nil {
		return file.Locate(err, prices, nil)
	}
	// Interrupted before the correction is stored, it has changed
	// nothing; after, it says what it did.
	before := func(err error) error {
		if ctx.Err() != nil {
			return errors.New("interrupted before anything was stored: nothing changed")
		}
		return err
	}
	if len(prices) > 0 && len(file.Prices) > 0 {
		// Before anything is stored: an event the corrected book cannot
		// price (a burst level taken away, say) would keep its month at
		// the old prices after the correction was stored.
		if err := pricedByCorrection(ctx, st, file, &corrected, stderr); err != nil {
			return before(err)
		}
	}
	if dryRun {
		fmt.Fprintf(stdout, "would store %s from %s (%s in the book already)\n", count(len(prices), "corrected price version"), file.Name, isAre(len(file.Prices)-len(prices)))
		for i := range prices {
			p := &prices[i]
			fmt.Fprintf(stdout, "  %s:%d: %s in %s from %s, revision %d\n", file.Name, file.Line(p), rating.KeyOf(p), p.Currency,
				p.ValidFrom.UTC().Format(time.RFC3339Nano), p.Revision)
		}
	} else if len(prices) > 0 {
		if ctx.Err() != nil {
			return before(ctx.Err())
		}
		// Seen through once begun, so that what it says is so.
		err := st.PriceBookCorrect(context.WithoutCancel(ctx), prices)
		if store.IsPriceVersionTaken(err) {
			// Another run stored a revision after the book was read. If it
			// was this correction (the same file applied twice at once), go
			// on from the book as it is now, as a run after it would (QA):
			// with nothing left to store, that run reprices only. Another
			// correction is a conflict, not one to stack this one on.
			book, rerr := st.PriceBookLoad(ctx)
			if rerr != nil {
				return before(rerr)
			}
			if again, cerr := file.Corrections(*book); cerr == nil && len(again) == 0 {
				return pricesCorrect(ctx, st, file, book, ecfg, dryRun, stdout, stderr)
			}
		}
		if err != nil {
			return file.Locate(err, prices, nil)
		}
	}
	var t repriceTally
	var failed error // of a reprice, which no interruption explains
	// Interrupted once the correction is stored, it says what it repriced.
	interrupted := func(err error) error {
		if ctx.Err() == nil || failed != nil {
			return err
		}
		if dryRun {
			return errors.New("interrupted: a dry run changes nothing")
		}
		t.print(stdout, stderr)
		return errors.New("interrupted: the events counted are repriced; run the same command again to finish: it is safe " +
			"(it stores nothing twice, and reprices only events still at versions no longer in force)" + t.refusedNote())
	}
	if !dryRun {
		fmt.Fprintf(stdout, "stored %s from %s (%s in the book already)\n", count(len(prices), "corrected price version"), file.Name, wasWere(len(file.Prices)-len(prices)))
		if len(prices) > 0 {
			stored, err := st.PriceBookLoad(ctx)
			if err != nil {
				return interrupted(err)
			}
			corrected = *stored
		}
	}
	if len(file.Prices) == 0 {
		return nil
	}
	stale, err := staleEvents(file, &corrected)
	if err != nil {
		return err
	}
	accounts, err := stale.accounts(ctx, st)
	if err != nil {
		return interrupted(err)
	}
	if dryRun {
		events, stales := 0, 0
		for _, acct := range accounts {
			err := stale.months(ctx, st, acct, func(ids []string, n int) error { events, stales = events+len(ids), stales+n; return nil })
			if err != nil {
				return interrupted(err)
			}
		}
		fmt.Fprintf(stdout, "would reprice %s of %s, in the months of %s at versions no longer in force; nothing was changed\n",
			count(events, "event"), count(len(accounts), "account"), count(stales, "event"))
		return nil
	}
	engine := ledger.New(st, withLogger(ecfg, quietLogger(stderr)))
	defer engine.Close()
	var chunk []string
	send := func() error {
		// Seen through, interrupted or not: it may commit whatever its
		// caller does, and the count must hold it.
		results, err := engine.Reprice(context.WithoutCancel(ctx), chunk)
		if err == nil {
			chunk = chunk[:0]
			t.add(results, stderr)
		}
		failed = err
		return err
	}
	// An account's events of one month go in one call: the engine gives a
	// month back and charges it again whole.
	start, reported := time.Now(), time.Now()
	for i, acct := range accounts {
		if ctx.Err() != nil {
			return interrupted(ctx.Err())
		}
		err := stale.months(ctx, st, acct, func(ids []string, _ int) error {
			if chunk = append(chunk, ids...); len(chunk) >= 2000 {
				return send()
			}
			return nil
		})
		if err != nil {
			return interrupted(err)
		}
		if time.Since(reported) >= 5*time.Second { // a large correction takes minutes
			reported = time.Now()
			fmt.Fprintf(stderr, "%d of %d accounts, %s repriced, %s\n", i+1, len(accounts), count(t.repriced, "event"),
				time.Since(start).Round(time.Second))
		}
	}
	if len(chunk) > 0 {
		if err := send(); err != nil {
			return err
		}
	}
	t.print(stdout, stderr)
	unpricedHint(ctx, st, book, stdout)
	switch {
	case t.refused.n == 1:
		return errors.New("1 event was refused (listed above); it keeps its old price: run the same command again once it can pay (or, where events of its month came in meanwhile, now)")
	case t.refused.n > 1:
		return fmt.Errorf("%d events were refused %s; they keep their old prices: run the same command again once they can pay (or, where events of their months came in meanwhile, now)", t.refused.n, t.refused.where())
	}
	return nil
}

// staleFinder finds the events at or after since that name a version of
// the file's keys no longer in force at their time, and so the months a
// correction changes, stored now or by an earlier run that stopped.
type staleFinder struct {
	book  *rating.Book
	byID  map[int64]*abacus.Price
	keys  map[priceKey]bool // the file's
	since time.Time
}

type priceKey struct {
	key rating.Key
	cur abacus.Currency
}

// staleEvents looks at the events of the file's keys, from its earliest
// valid_from on: what the file corrects, and nothing else.
func staleEvents(file *rating.File, stored *abacus.PriceBook) (*staleFinder, error) {
	book, err := rating.BookOf(stored)
	if err != nil {
		return nil, err
	}
	f := &staleFinder{book: book, byID: make(map[int64]*abacus.Price, len(stored.Prices)), keys: map[priceKey]bool{}, since: file.Prices[0].ValidFrom}
	for i := range stored.Prices {
		f.byID[stored.Prices[i].ID] = &stored.Prices[i]
	}
	for i := range file.Prices {
		p := &file.Prices[i]
		f.keys[priceKey{rating.KeyOf(p), p.Currency}] = true
		if p.ValidFrom.Before(f.since) {
			f.since = p.ValidFrom
		}
	}
	return f, nil
}

// keysOf lists the price keys e was charged at.
func (f *staleFinder) keysOf(e *abacus.StoredEvent) []priceKey {
	var out []priceKey
	for _, id := range e.PriceIDs {
		if p := f.byID[id]; p != nil {
			out = append(out, priceKey{rating.KeyOf(p), p.Currency})
		}
	}
	return out
}

func (f *staleFinder) stale(e *abacus.StoredEvent) bool {
	_, ok := f.staleKey(e)
	return ok
}

// staleKey returns the first of the file's keys e was charged at a
// version of that is no longer in force at its time.
func (f *staleFinder) staleKey(e *abacus.StoredEvent) (priceKey, bool) {
	for _, id := range e.PriceIDs {
		p := f.byID[id]
		if p == nil {
			continue // not a version this book knows: verify reports it
		}
		k := priceKey{rating.KeyOf(p), p.Currency}
		if !f.keys[k] {
			continue
		}
		if now, ok := f.book.Price(k.key, k.cur, e.Time); !ok || now.ID != id {
			return k, true
		}
	}
	return priceKey{}, false
}

// pricedByCorrection refuses a correction, before it is stored, that
// leaves a charged event it makes stale with no price (a burst level the
// event paid taken away, say): the reprice would refuse the event's month,
// and the book would then say what its month was never charged. It names
// the events and the file's line of the version that cannot price them.
// The engine refuses such a month all the same, for an event that comes
// in after this check.
func pricedByCorrection(ctx context.Context, st migrator, file *rating.File, corrected *abacus.PriceBook, stderr io.Writer) error {
	f, err := staleEvents(file, corrected)
	if err != nil {
		return err
	}
	const listed = 20
	n := 0
	noCounters := func(rating.Counter) int64 { return 0 } // tiers never make an event unpriced
	err = f.scan(ctx, st, func(e *abacus.StoredEvent) error {
		k, ok := f.staleKey(e)
		if !ok || e.Status != abacus.EventCharged { // a voided event is settled at nothing
			return nil
		}
		r, err := f.book.Rate(&e.UsageEvent, e.Currency, noCounters)
		if err == nil && !r.Unpriced {
			return nil
		}
		reason := r.Reason
		if err != nil {
			reason = err.Error()
		}
		line := 0
		if p, ok := f.book.Price(k.key, k.cur, e.Time); ok {
			line = file.Line(p)
			// Not stored yet, the version's id is a stand-in of no use to anyone.
			reason = strings.Replace(reason, fmt.Sprintf(" price %d ", p.ID), " price ", 1)
		}
		if n++; n <= listed {
			fmt.Fprintf(stderr, "event %q of account %s at %s could not be priced by the version of %s:%d (%s)\n",
				e.ID, e.Account, e.Time.UTC().Format(time.RFC3339Nano), file.Name, line, reason)
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case n == 0:
		return nil
	case n > listed:
		fmt.Fprintf(stderr, "and %d more\n", n-listed)
	}
	return fmt.Errorf("%s could not be priced by the corrected prices (listed above): "+
		"correct the file so that it prices them, or void them first; nothing was stored", count(n, "event"))
}

// accounts lists, in order, the accounts with stale events. It reads every
// event since, in pages, and keeps only the accounts, so memory stays
// bounded by their number.
func (f *staleFinder) accounts(ctx context.Context, st migrator) ([]abacus.AccountID, error) {
	found := map[abacus.AccountID]bool{}
	err := f.scan(ctx, st, func(e *abacus.StoredEvent) error {
		if f.stale(e) {
			found[e.Account] = true
		}
		return nil
	})
	return slices.Sorted(maps.Keys(found)), err
}

// scan hands each every event since, in pages.
func (f *staleFinder) scan(ctx context.Context, st migrator, each func(*abacus.StoredEvent) error) error {
	var after int64
	for {
		evs, err := st.Events(ctx, abacus.EventQuery{From: f.since, AfterSeq: after, Limit: 1000})
		if err != nil || len(evs) == 0 {
			return err
		}
		for i := range evs {
			if err := each(&evs[i]); err != nil {
				return err
			}
		}
		after = evs[len(evs)-1].Seq
	}
}

// months hands each, one billing month (the period tiers count
// over) at a time, the ids of acct's events to reprice in a month in which
// any is stale, and how many are. Those are the stale events and every
// event of the month that shares a price key with one, and so on: an
// event is given back and charged again whole, so every event counted in
// the same tiers (a token event's completion tokens, say, when only its
// prompt price changed) must be charged again with it, from the start of
// the month, for the month to come out as the corrected book makes it.
// It reads them through the account's index in event-time order, so
// memory holds one month of one account.
func (f *staleFinder) months(ctx context.Context, st migrator, acct abacus.AccountID, each func(ids []string, stale int) error) error {
	type event struct {
		id    string
		keys  []priceKey
		stale bool
	}
	var month []event
	var start time.Time
	flush := func() error {
		affected := map[priceKey]bool{}
		for _, e := range month {
			if e.stale {
				for _, k := range e.keys {
					affected[k] = true
				}
			}
		}
		in := make([]bool, len(month))
		for grown := len(affected) > 0; grown; {
			grown = false
			for i, e := range month {
				if in[i] || !slices.ContainsFunc(e.keys, func(k priceKey) bool { return affected[k] }) {
					continue
				}
				in[i] = true
				for _, k := range e.keys {
					grown = grown || !affected[k]
					affected[k] = true
				}
			}
		}
		var ids []string
		stale := 0
		for i, e := range month {
			if in[i] {
				ids = append(ids, e.id)
			}
			if e.stale {
				stale++
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return each(ids, stale)
	}
	var after int64
	for {
		evs, err := st.Events(ctx, abacus.EventQuery{Account: acct, From: f.book.PeriodOf(f.since), AfterSeq: after, Limit: 1000})
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return flush()
		}
		for i := range evs {
			e := &evs[i]
			if len(e.PriceIDs) == 0 {
				continue // unpriced (abacus rerate's), or voided before it was
			}
			if m := f.book.PeriodOf(e.Time); !m.Equal(start) {
				if err := flush(); err != nil {
					return err
				}
				month, start = month[:0], m
			}
			month = append(month, event{e.ID, f.keysOf(e), f.stale(e)})
		}
		after = evs[len(evs)-1].Seq
	}
}

// repriceTally counts what became of the events a correction repriced.
type repriceTally struct {
	repriced          int
	refused           listed
	refunded, charged sums
}

// print is the command's summary.
func (t *repriceTally) print(stdout, stderr io.Writer) {
	t.refused.more(stderr, "refused")
	fmt.Fprintf(stdout, "repriced %s: %s given back, %s charged again; %d refused\n", count(t.repriced, "event"), t.refunded, t.charged, t.refused.n)
}

// refusedNote adds the refused events to an interruption's message.
func (t *repriceTally) refusedNote() string {
	return t.refused.note("keeps its old price", "keep their old prices")
}

func (t *repriceTally) add(results []abacus.IngestResult, stderr io.Writer) {
	for _, r := range results {
		switch {
		case r.Status != abacus.IngestAccepted:
			t.refused.add(stderr, "event %s: %v", shown(r.ID), r.Err)
		case !r.Repriced: // repriced meanwhile, by another run
		default:
			t.repriced++
			t.refunded.add(r.Currency, r.Refunded)
			t.charged.add(r.Currency, r.Charged)
		}
	}
}
