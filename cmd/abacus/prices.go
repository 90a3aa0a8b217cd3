package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

func runPrices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "import" && args[0] != "list") {
		fmt.Fprint(stderr, `abacus prices: import and list the price book

Usage:
  abacus prices import [--db DB] FILE   add the prices and commitments of a YAML or JSON file
  abacus prices list [--db DB] [--all]  the prices in force now (--all: every version)

Prices are versioned: importing a price for a key that has one adds a new
version from its valid_from time; nothing is edited in place.
`)
		return exitError{2}
	}
	if args[0] == "import" {
		return pricesImport(ctx, args[1:], stdout, stderr)
	}
	return pricesList(ctx, args[1:], stdout, stderr)
}

func pricesImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prices", "import FILE", stderr)
	db := dbFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("name one price file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	prices, commitments, err := rating.ParseFile(f, fs.Arg(0))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for i := range prices {
		prices[i].CreatedAt = now
	}
	st, err := openMigrated(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	// The new versions must make a valid book with the old ones.
	book, err := st.PriceBookLoad(ctx)
	if err != nil {
		return err
	}
	if _, err := rating.NewBook(append(book.Prices, prices...), book.Levels, append(book.Commitments, commitments...)); err != nil {
		return err
	}
	if err := st.PriceBookAdd(ctx, prices, nil, commitments); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d prices and %d commitments from %s\n", len(prices), len(commitments), fs.Arg(0))
	return nil
}

func pricesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prices", "list", stderr)
	db := dbFlag(fs)
	all := fs.Bool("all", false, "every version, not only those in force now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openMigrated(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	book, err := st.PriceBookLoad(ctx)
	if err != nil {
		return err
	}
	prices := book.Prices
	if !*all {
		prices = inForce(prices, time.Now())
	}
	sort.SliceStable(prices, func(i, j int) bool {
		a, b := prices[i], prices[j]
		if a.ResourceID != b.ResourceID {
			return a.ResourceID < b.ResourceID
		}
		if a.SKUKind != b.SKUKind {
			return a.SKUKind < b.SKUKind
		}
		return a.ValidFrom.Before(b.ValidFrom)
	})
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSKU_TYPE\tSKU_KIND\tRESOURCE_ID\tUNIT\tMODEL\tPRICE\tCURRENCY\tVALID_FROM\tDESC")
	for _, p := range prices {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d %s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.SKUType, p.SKUKind, p.ResourceID, p.Unit, p.UnitType,
			p.Model, p.UnitPrice, p.Currency, p.ValidFrom.Format(time.RFC3339), p.Desc)
	}
	return tw.Flush()
}

// inForce keeps, per key and currency, the newest version valid at now,
// and every version that starts later.
func inForce(prices []abacus.Price, now time.Time) []abacus.Price {
	type key struct {
		k   rating.Key
		cur abacus.Currency
	}
	latest := map[key]abacus.Price{}
	var out []abacus.Price
	for _, p := range prices {
		if p.ValidFrom.After(now) {
			out = append(out, p)
			continue
		}
		k := key{rating.KeyOf(&p), p.Currency}
		if old, ok := latest[k]; !ok || !p.ValidFrom.Before(old.ValidFrom) {
			latest[k] = p
		}
	}
	for _, p := range latest {
		out = append(out, p)
	}
	return out
}
