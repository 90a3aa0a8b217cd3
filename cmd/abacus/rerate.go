package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
)

func runRerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rerate", "", stderr)
	db := dbFlag(fs)
	usage := usageFlags(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	ecfg, err := usage()
	if err != nil {
		return err
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		if ctx.Err() != nil { // waiting for the database, another writer's lock say
			return errors.New("interrupted while opening the database, before any event was charged: nothing changed")
		}
		return err
	}
	defer st.Close()
	engine := ledger.New(st, withLogger(ecfg, quietLogger(stderr)))
	defer engine.Close()
	var t rerateTally
	// Interrupted, it stops listing, and says what it charged.
	interrupted := func() error {
		t.print(stdout, stderr, true)
		return errors.New("interrupted: the events counted are charged; run the same command again to finish: it is safe (it charges only the events still unpriced)" + t.refusedNote())
	}
	var after int64
	for {
		if ctx.Err() != nil {
			return interrupted()
		}
		// In the order the usage happened, over every page, so that an
		// account with money for some of its events pays for the earliest,
		// and tiers fill in time order.
		evs, err := st.Events(ctx, abacus.EventQuery{Status: abacus.EventUnpriced, ByTime: true, AfterSeq: after, Limit: 500})
		if err != nil {
			if ctx.Err() != nil {
				return interrupted()
			}
			return err
		}
		if len(evs) == 0 {
			break
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		after = evs[len(evs)-1].Seq
		// Seen through, interrupted or not: it may commit whatever its
		// caller does, and the count must hold it.
		results, err := engine.Rerate(context.WithoutCancel(ctx), ids)
		if err != nil {
			// What earlier pages charged stands, and is said (regression
			// QA: a write lock after thousands charged read as nothing done).
			t.print(stdout, stderr, true)
			return fmt.Errorf("%w; the events counted above are charged: running the same command again finishes the rest, and is safe (it charges only the events still unpriced)", err)
		}
		t.add(results, stderr)
	}
	t.print(stdout, stderr, false)
	switch {
	case t.refused.n == 1:
		return errors.New("1 event was refused (listed above); it is still unpriced" + t.refusedAdvice())
	case t.refused.n > 1:
		return fmt.Errorf("%d events were refused %s; they are still unpriced%s", t.refused.n, t.refused.where(), t.refusedAdvice())
	}
	return nil
}

// refusedAdvice says what lets the refused events be charged: a top-up,
// for those refused for their account's money; for the others (a licence
// count their price refuses, say), a price that takes them, or a void
// that ends them. Without it, every rerate after refused the same event
// and exited 1, and nothing said how to end it (README QA).
func (t *rerateTally) refusedAdvice() string {
	var advice string
	if t.forMoney > 0 {
		advice += "; an event refused for its account's money is charged by a rerate after a top-up"
	}
	if t.refused.n > t.forMoney {
		advice += "; an event refused for what it holds (a licence count, say) is charged by no rerate until its price takes that: abacus void EVENT_ID ends one that it never will"
	}
	return advice
}

// rerateTally counts what became of the events a rerate tried. A refused
// event (by its account's floor, say) stays unpriced: it is neither
// charged nor one that still has no price, and scripts must hear of it.
// One that another process (a second rerate, a void) took out of unpriced
// after it was listed is gone: no longer this run's to charge, and no
// failure.
type rerateTally struct {
	charged, gone  int
	still, refused listed
	forMoney       int // of the refused, those refused by their account's floor
	total          sums
}

// print is the command's summary; partial, of a run interrupted before it
// had listed every unpriced event (QA: "0 still have no price" read as
// none left, where it had listed none).
func (t *rerateTally) print(stdout, stderr io.Writer, partial bool) {
	t.still.more(stderr, "still have no price")
	t.refused.more(stderr, "refused")
	still := "still have no price"
	if t.still.n == 1 {
		still = "still has no price" // README QA: "1 still have"
	}
	if partial {
		still = "of those it listed " + still
	}
	fmt.Fprintf(stdout, "charged %s (%s in all); %d %s; %d refused", count(t.charged, "event"), t.total, t.still.n, still, t.refused.n)
	if t.gone > 0 {
		fmt.Fprintf(stdout, "; %d charged or voided by another process meanwhile", t.gone)
	}
	fmt.Fprintln(stdout)
}

// refusedNote adds the refused events to an interruption's message.
func (t *rerateTally) refusedNote() string {
	return t.refused.note("is still unpriced", "are still unpriced")
}

func (t *rerateTally) add(results []abacus.IngestResult, stderr io.Writer) {
	for _, r := range results {
		switch {
		case r.Status != abacus.IngestAccepted && r.Err != nil && r.Err.Code == abacus.CodeConflict && r.Err.Field == "status":
			t.gone++
		case r.Status != abacus.IngestAccepted:
			if r.Err != nil && r.Err.Code == abacus.CodeInsufficientFunds {
				t.forMoney++
			}
			t.refused.add(stderr, "event %s: %v", shown(r.ID), r.Err)
		case r.Unpriced:
			// Which price it lacks is what the operator adds next.
			t.still.add(stderr, "event %s still has no price: %s", shown(r.ID), r.UnpricedReason)
		default:
			t.charged++
			t.total.add(r.Currency, r.Charged)
		}
	}
}

func runVoid(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("void", "EVENT_ID...", stderr)
	db := dbFlag(fs)
	usage := usageFlags(fs) // a void under a volume price can cost: it draws as usage does
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("name the events to void")
	}
	ecfg, err := usage()
	if err != nil {
		return err
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	engine := ledger.New(st, withLogger(ecfg, quietLogger(stderr)))
	defer engine.Close()
	res, err := engine.VoidEvents(ctx, fs.Args())
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", shown(r.ID), r.Err)
		case r.Refunded.IsNegative():
			// Without the event the month's usage falls to a dearer volume
			// tier: its void takes money back, whatever its own charge was.
			fmt.Fprintf(stdout, "voided %s: %s taken back: without it, the month's usage is priced at a dearer volume tier (cash %s, bonus %s, voucher %s)\n",
				shown(r.ID), moneyText(r.Refunded.Decimal().Neg(), r.Currency), amountText(r.Back.Cash.Decimal(), r.Currency), amountText(r.Back.Bonus.Decimal(), r.Currency), amountText(r.Back.Voucher.Decimal(), r.Currency))
		default:
			fmt.Fprintf(stdout, "voided %s: %s given back (cash %s, bonus %s, voucher %s)\n",
				shown(r.ID), moneyText(r.Refunded.Decimal(), r.Currency), amountText(r.Back.Cash.Decimal(), r.Currency), amountText(r.Back.Bonus.Decimal(), r.Currency), amountText(r.Back.Voucher.Decimal(), r.Currency))
		}
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}
