package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
)

// pricesCorrect stores what of file corrects the book, then reprices every
// charged event that a version of the file's keys charged since the
// file's earliest valid_from. Both steps are idempotent, so a run that
// stopped half way is finished by running it again.
func pricesCorrect(ctx context.Context, st migrator, file *rating.File, book *abacus.PriceBook, ucfg ledger.UsageConfig, stdout, stderr io.Writer) error {
	prices, err := file.Corrections(*book)
	if err != nil {
		return err
	}
	if len(prices) > 0 {
		now := time.Now().UTC()
		for i := range prices {
			prices[i].CreatedAt = now
		}
		if _, err := rating.NewBook(append(book.Prices, prices...), book.Levels, book.Commitments); err != nil {
			return err
		}
		if err := st.PriceBookCorrect(ctx, prices); err != nil {
			return file.Locate(err, prices, nil)
		}
		if book, err = st.PriceBookLoad(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "stored %s from %s (%d were in the book already)\n", count(len(prices), "corrected price version"), file.Name, len(file.Prices)-len(prices))
	if len(file.Prices) == 0 {
		return nil
	}
	byAccount, err := repriceCandidates(ctx, st, file, book)
	if err != nil {
		return err
	}
	engine := ledger.New(st, ledger.Config{Logger: quietLogger(stderr), Usage: ucfg})
	defer engine.Close()
	var t repriceTally
	var chunk []string
	send := func() error {
		results, err := engine.Reprice(ctx, chunk)
		if err != nil {
			return err
		}
		chunk = chunk[:0]
		return t.add(results, stderr)
	}
	// An account's events go in one call, so a month of tiers is given
	// back and charged again as a whole.
	for _, acct := range slices.Sorted(maps.Keys(byAccount)) {
		chunk = append(chunk, byAccount[acct]...)
		if len(chunk) >= 2000 {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		if err := send(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "repriced %s: %s given back, %s charged again; %d refused\n", count(t.repriced, "event"), t.refunded, t.charged, t.refused)
	switch {
	case t.refused == 1:
		return errors.New("1 event was refused (listed above); it keeps its old price: run the same command again once it can pay")
	case t.refused > 1:
		return fmt.Errorf("%d events were refused (listed above); they keep their old prices: run the same command again once they can pay", t.refused)
	}
	return nil
}

// repriceCandidates finds, by account, the charged events at or after the
// file's earliest valid_from that name a version no longer in force at
// their time: those a correction changes, stored now or by an earlier run
// that stopped. It reads every event stored since, in pages.
func repriceCandidates(ctx context.Context, st migrator, file *rating.File, stored *abacus.PriceBook) (map[abacus.AccountID][]string, error) {
	book, err := rating.NewBook(stored.Prices, stored.Levels, stored.Commitments)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*abacus.Price, len(stored.Prices))
	for i := range stored.Prices {
		byID[stored.Prices[i].ID] = &stored.Prices[i]
	}
	since := file.Prices[0].ValidFrom
	for _, p := range file.Prices {
		if p.ValidFrom.Before(since) {
			since = p.ValidFrom
		}
	}
	stale := func(e abacus.StoredEvent) bool {
		for _, id := range e.PriceIDs {
			p := byID[id]
			if p == nil {
				return false // not a version this book knows: verify reports it
			}
			if now, ok := book.Price(rating.KeyOf(p), p.Currency, e.Time); !ok || now.ID != id {
				return true
			}
		}
		return false
	}
	out := map[abacus.AccountID][]string{}
	var after int64
	for {
		evs, err := st.Events(ctx, abacus.EventQuery{Status: abacus.EventCharged, From: since, AfterSeq: after, Limit: 1000})
		if err != nil || len(evs) == 0 {
			return out, err
		}
		for _, e := range evs {
			if stale(e) {
				out[e.Account] = append(out[e.Account], e.ID)
			}
		}
		after = evs[len(evs)-1].Seq
	}
}

// repriceTally counts what became of the events a correction repriced.
type repriceTally struct {
	repriced, refused int
	refunded, charged abacus.Amount
}

func (t *repriceTally) add(results []abacus.IngestResult, stderr io.Writer) error {
	for _, r := range results {
		switch {
		case r.Status != abacus.IngestAccepted:
			t.refused++
			fmt.Fprintf(stderr, "event %s: %v\n", r.ID, r.Err)
		case !r.Repriced: // repriced meanwhile, by another run
		default:
			t.repriced++
			var err1, err2 error
			t.refunded, err1 = t.refunded.Add(r.Refunded)
			t.charged, err2 = t.charged.Add(r.Charged)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
		}
	}
	return nil
}
