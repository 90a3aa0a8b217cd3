package main

import (
	"context"
	"fmt"
	"io"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
)

func runRerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rerate", "", stderr)
	db := dbFlag(fs)
	usage := usageFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ucfg, err := usage()
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	engine := ledger.New(st, ledger.Config{Logger: quietLogger(stderr), Usage: ucfg})
	defer engine.Close()
	var charged, still int
	var total abacus.Amount
	var after int64
	for {
		evs, err := st.Events(ctx, abacus.EventQuery{Status: abacus.EventUnpriced, AfterSeq: after, Limit: 500})
		if err != nil || len(evs) == 0 {
			if err == nil {
				break
			}
			return err
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		after = evs[len(evs)-1].Seq
		results, err := engine.Rerate(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range results {
			switch {
			case r.Status != abacus.IngestAccepted:
				fmt.Fprintf(stderr, "event %s: %v\n", r.ID, r.Err)
			case r.Unpriced:
				still++
			default:
				charged++
				if total, err = total.Add(r.Charged); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintf(stdout, "charged %d events (%s in all); %d still have no price\n", charged, total, still)
	return nil
}

func runVoid(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("void", "EVENT_ID...", stderr)
	db := dbFlag(fs)
	usage := usageFlags(fs) // a void under a volume price can cost: it draws as usage does
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("name the events to void")
	}
	ucfg, err := usage()
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	engine := ledger.New(st, ledger.Config{Logger: quietLogger(stderr), Usage: ucfg})
	defer engine.Close()
	res, err := engine.VoidEvents(ctx, fs.Args())
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", r.ID, r.Err)
		} else {
			fmt.Fprintf(stdout, "voided %s: %s given back\n", r.ID, r.Refunded)
		}
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}
