package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/abacus-billing/abacus/store"
)

func runPrices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "import" && args[0] != "list") {
		fmt.Fprint(stderr, `abacus prices: import and list the price book

Usage:
  abacus prices import [--db DB] [--dry-run] FILE
                                        add the prices and commitments of a YAML or JSON file
                                        (--dry-run: check it all, say what, store nothing)
  abacus prices import --correct [--dry-run] FILE
                                        correct the book to the file's prices and reprice
                                        the events they change (--dry-run: only say what)
  abacus prices list [--db DB] [--all]  the prices in force now and those to come (--all: every version)
  abacus prices list --commitments [--all]
                                        the commitments not ended yet (--all: every one)

Prices are versioned: importing a price for a key that has one adds a new
version from its valid_from time; nothing is edited in place. What the book
holds already, unchanged, is left out, so a file can be imported again
after versions are added to it. A version may not take effect before events
already charged at the one it takes over from, nor change a stored one:
--correct allows both (a changed version is stored again as its next
revision) and then charges those events again at the corrected prices,
appending the difference. A commitment is ended early by giving its entry
ended: TIME and importing the file (not with --correct).
`)
		if len(args) > 0 && isHelp(args[0]) {
			return nil
		}
		return exitError{2}
	}
	if args[0] == "import" {
		return pricesImport(ctx, args[1:], stdout, stderr)
	}
	return pricesList(ctx, args[1:], stdout, stderr)
}

func pricesImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prices import", "FILE", stderr)
	db := dbFlag(fs)
	correct := fs.Bool("correct", false, "correct the book: accept versions that take effect before events already charged, and changed stored versions (as their next revision), then reprice the events they change")
	dryRun := fs.Bool("dry-run", false, "check the file against the book and the events charged, say what would be stored (with --correct: and how many events would be repriced), and change nothing")
	usage := usageFlags(fs) // a reprice charges as usage does
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("name one price file")
	}
	in, name := io.Reader(os.Stdin), "standard input" // "-", as abacus ingest reads it (QA)
	if fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}
	file, err := rating.ReadFile(in, name)
	if err != nil {
		return err
	}
	openDB := openMigrated
	if *dryRun { // it changes nothing, the schema neither (QA: it migrated, and made a database that was not there)
		openDB = func(ctx context.Context, db string, _ io.Writer) (migrator, error) { return openCurrent(ctx, db) }
	}
	st, err := openDB(ctx, *db, stderr)
	if err != nil {
		if ctx.Err() != nil { // waiting for the database, another writer's lock say
			return errors.New("interrupted while opening the database, before anything was stored: nothing changed")
		}
		return err
	}
	defer st.Close()
	if len(file.Prices)+len(file.Commitments) == 0 { // QA: "its 0 prices were stored already", with --correct too
		fmt.Fprintf(stdout, "nothing to import: %s holds no prices and no commitments\n", file.Name)
		return nil
	}
	book, err := st.PriceBookLoad(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted before anything was stored: nothing changed")
		}
		return err
	}
	if *correct {
		ecfg, err := usage()
		if err != nil {
			return err
		}
		return pricesCorrect(ctx, st, file, book, ecfg, *dryRun, stdout, stderr)
	}
	return pricesAdd(ctx, st, file, book, *dryRun, stdout, stderr)
}

// pricesAdd imports what of file book does not hold; a dry run checks it
// all as the import would, and stores nothing.
func pricesAdd(ctx context.Context, st migrator, file *rating.File, book *abacus.PriceBook, dryRun bool, stdout, stderr io.Writer) error {
	for attempt := 1; ; attempt++ {
		prices, commitments, err := file.Unstored(*book)
		if err != nil {
			return err
		}
		kept := fmt.Sprintf("%s and %s were stored already", count(len(file.Prices)-len(prices), "price"), count(len(file.Commitments)-len(commitments), "commitment"))
		if len(prices)+len(commitments) == 0 {
			fmt.Fprintf(stdout, "nothing new in %s: its %s\n", file.Name, kept)
			return nil
		}
		now := time.Now().UTC()
		for i := range prices {
			prices[i].CreatedAt = now
		}
		// The new versions must make a valid book with the old ones.
		zone, err := rating.BillingZone(book.Zone)
		if err != nil {
			return err
		}
		if _, err := rating.NewBook(zone, append(book.Prices, prices...), book.Levels, append(book.Commitments, commitments...)); err != nil {
			return err
		}
		if err := rating.CheckCountedVersions(zone, book.Prices, prices); err != nil {
			return file.Locate(err, prices, commitments)
		}
		terms := rating.TermsOf(book.Commitments)
		if err := rating.CheckCommitmentTerms(commitments, terms); err != nil {
			return file.Locate(err, prices, commitments)
		}
		add := st.PriceBookAdd
		if dryRun {
			add = st.PriceBookCheck
		}
		err = add(ctx, prices, commitments)
		if store.IsPriceVersionTaken(err) && attempt < 3 {
			// Another import stored a version of the file after the book
			// was read (two nodes importing the book as they start, say):
			// read it again, as a run after that one would (QA: the same
			// file imported twice at once was told to edit its versions).
			if book, err = st.PriceBookLoad(ctx); err != nil {
				return err
			}
			continue
		}
		warn(stderr, file.WarningsFor(prices))
		if err != nil {
			return file.Locate(err, prices, commitments)
		}
		warnUnknownAccounts(ctx, st, file, prices, commitments, stderr)
		ends := 0 // commitments of a stored term, whose end the file moves
		for i := range commitments {
			if terms.Hold(&commitments[i]) {
				ends++
			}
		}
		what := fmt.Sprintf("%s and %s", count(len(prices), "price"), count(len(commitments)-ends, "commitment"))
		if ends > 0 {
			moved := "moved"
			if dryRun {
				moved = "move"
			}
			what += ", and " + moved + " the end of " + count(ends, "stored commitment")
		}
		if dryRun {
			fmt.Fprintf(stdout, "would import %s from %s; %s (a dry run: nothing changed)\n", what, file.Name, kept)
			return nil
		}
		fmt.Fprintf(stdout, "imported %s from %s; %s\n", what, file.Name, kept)
		unpricedHint(ctx, st, book, stdout)
		return nil
	}
}

// warnUnknownAccounts warns of the commitments of accounts that do not
// exist: one made ahead of its account is fine, but a mistyped id gives a
// discount to nobody, and nothing said so (QA).
func warnUnknownAccounts(ctx context.Context, st abacus.Store, file *rating.File, prices []abacus.Price, commitments []abacus.Commitment, stderr io.Writer) {
	for i, c := range commitments {
		_, err := st.AccountGet(ctx, c.Account)
		if abacus.ErrorCodeOf(err) == abacus.CodeNotFound {
			err = abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("commitments[%d].account", i), "account %s does not exist (yet): its discount counts once an event or the API makes it; check the id", c.Account)
			warn(stderr, []string{file.Locate(err, prices, commitments).Error()})
		} else if err != nil {
			warn(stderr, []string{fmt.Sprintf("could not check that the commitments' accounts exist: %v", err)})
			return
		}
	}
}

// warn prints a price file's warnings, each on a line of its own.
func warn(stderr io.Writer, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
}

// unpricedHint says so when events wait unpriced that the book now
// prices and the book before (nil: none) did not: new prices do not
// charge them by themselves (QA: nothing said so). It rates the first
// hintScan of them; an event the book still does not price, of another
// key or currency say, is not worth a word (QA: the hint came after every
// import while any event waited), nor one the book priced before, which
// a rerate refused (its account's floor) and would refuse again (QA).
func unpricedHint(ctx context.Context, st abacus.Store, before *abacus.PriceBook, stdout io.Writer) {
	stored, err := st.PriceBookLoad(ctx)
	if err != nil {
		return
	}
	book, err := rating.BookOf(stored)
	if err != nil {
		return
	}
	var old *rating.Book
	if before != nil {
		old, _ = rating.BookOf(before)
	}
	var after int64
	scanned, priced := 0, 0
	for scanned < hintScan {
		evs, err := st.Events(ctx, abacus.EventQuery{Status: abacus.EventUnpriced, AfterSeq: after, Limit: min(1000, hintScan-scanned)})
		if err != nil || len(evs) == 0 {
			break
		}
		for i := range evs {
			ev, cur := &evs[i].UsageEvent, evs[i].Currency
			if book.Lacks(ev, cur) == "" && (old == nil || old.Lacks(ev, cur) != "") {
				priced++
			}
		}
		scanned += len(evs)
		after = evs[len(evs)-1].Seq
	}
	switch {
	case priced == 0:
	case scanned < hintScan:
		if priced == 1 {
			fmt.Fprintln(stdout, "the book now prices 1 event that was waiting unpriced: run `abacus rerate` to charge it")
		} else {
			fmt.Fprintf(stdout, "the book now prices %d events that were waiting unpriced: run `abacus rerate` to charge them\n", priced)
		}
	default:
		fmt.Fprintf(stdout, "of the first %d events waiting unpriced, the book now prices %d it did not, and more are waiting: run `abacus rerate` to charge every one it prices\n", hintScan, priced)
	}
}

// hintScan is how many waiting events unpricedHint rates at most.
const hintScan = 10000

func pricesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prices list", "", stderr)
	db := dbFlag(fs)
	all := fs.Bool("all", false, "every version, not only those in force now or to come (with --commitments: every commitment, ended ones too)")
	commitments := fs.Bool("commitments", false, "list the commitments instead of the prices")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	book, err := st.PriceBookLoad(ctx)
	if err != nil {
		return err
	}
	if *commitments {
		return listCommitments(stdout, book.Commitments, *all, time.Now())
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
		return a.ValidFrom.Before(b.ValidFrom) || a.ValidFrom.Equal(b.ValidFrom) && a.Revision < b.Revision
	})
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSKU_TYPE\tSKU_KIND\tRESOURCE_ID\tUNIT\tMODEL\tPRICE\tCURRENCY\tVALID_FROM\tREVISION\tDISCOUNTS\tLICENSE\tDESC")
	for _, p := range prices {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d %s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", p.ID, p.SKUType, p.SKUKind, p.ResourceID, p.Unit, p.UnitType,
			p.Model, priceText(&p), p.Currency, p.ValidFrom.Format(time.RFC3339Nano), p.Revision, discountsText(p.Discounts), licenseText(p.License), p.Desc)
	}
	return tw.Flush()
}

// listCommitments writes the commitments that have not ended by now (all:
// every one, ended early too), by account and start: a commitment decides the discounts
// its account's events get, and had no listing (QA).
func listCommitments(w io.Writer, cs []abacus.Commitment, all bool, now time.Time) error {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c abacus.Commitment) bool { return !all && !c.End().After(now) })
	slices.SortFunc(cs, func(a, b abacus.Commitment) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), a.From.Compare(b.From), a.Until.Compare(b.Until), cmp.Compare(a.Months, b.Months))
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT	MONTHS	FROM	UNTIL	ENDED")
	for _, c := range cs {
		ended := "-" // runs its term
		if c.End().Before(c.Until) {
			ended = c.Ended.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", c.Account, c.Months, c.From.Format(time.RFC3339Nano), c.Until.Format(time.RFC3339Nano), ended)
	}
	return tw.Flush()
}

// priceText is what defines a price under its model. UnitPrice alone is
// zero for every model but per_unit and package, so showing it would be a
// wrong number.
func priceText(p *abacus.Price) string {
	switch p.Model {
	case abacus.ModelGraduated, abacus.ModelVolume:
		return tiersText(p.Tiers)
	case abacus.ModelPackage:
		return fmt.Sprintf("%s per package of %d", p.UnitPrice, p.Package)
	case abacus.ModelBurst:
		return levelsText(p.Levels)
	}
	if p.CachedPrice.Valid {
		return fmt.Sprintf("%s, cached %s", p.UnitPrice, p.CachedPrice.Decimal)
	}
	return p.UnitPrice.String()
}

// tiersText writes tiers as the ranges of base units they price, such as
// "0-1000: 0.01, 1000+: 0.008 + 5 flat"; UpTo 0 is the unbounded last tier.
func tiersText(tiers []abacus.PriceTier) string {
	parts := make([]string, len(tiers))
	var from int64
	for i, t := range tiers {
		bounds := fmt.Sprintf("%d+", from)
		if t.UpTo != 0 {
			bounds = fmt.Sprintf("%d-%d", from, t.UpTo)
		}
		parts[i] = bounds + ": " + t.UnitPrice.String()
		if !t.FlatFee.IsZero() {
			parts[i] += " + " + t.FlatFee.String() + " flat"
		}
		from = t.UpTo
	}
	return strings.Join(parts, ", ")
}

func levelsText(levels []abacus.BurstPrice) string {
	parts := make([]string, len(levels))
	for i, l := range levels {
		parts[i] = fmt.Sprintf("level %d: %s", l.Level, l.UnitPrice)
	}
	return strings.Join(parts, ", ")
}

// discountsText writes each discount as the percentage it takes off from
// its number of months on: exact, since a fraction times 100 is.
func discountsText(ds []abacus.CommitmentDiscount) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%d+ months: %s%% off", d.Months, d.Fraction.Shift(2))
	}
	return strings.Join(parts, ", ")
}

func licenseText(l *abacus.License) string {
	if l == nil {
		return "-"
	}
	s := l.Type + ": " + l.Name
	if l.UserMetric != "" {
		s += ", metric " + l.UserMetric
	}
	if l.Burstable {
		return s + ", burstable"
	}
	return s + ", not burstable"
}

// inForce keeps, per key and currency, the newest version valid at now,
// and every version that starts later: of each, the latest revision.
func inForce(prices []abacus.Price, now time.Time) []abacus.Price {
	type key struct {
		k   rating.Key
		cur abacus.Currency
	}
	type version struct {
		key
		from int64
	}
	latest := map[key]abacus.Price{}
	later := map[version]abacus.Price{}
	for _, p := range prices {
		k := key{rating.KeyOf(&p), p.Currency}
		if p.ValidFrom.After(now) {
			v := version{k, p.ValidFrom.UnixNano()}
			if old, ok := later[v]; !ok || p.Revision > old.Revision {
				later[v] = p
			}
			continue
		}
		if old, ok := latest[k]; !ok || p.ValidFrom.After(old.ValidFrom) || p.ValidFrom.Equal(old.ValidFrom) && p.Revision > old.Revision {
			latest[k] = p
		}
	}
	out := slices.Collect(maps.Values(latest))
	return append(out, slices.Collect(maps.Values(later))...)
}
