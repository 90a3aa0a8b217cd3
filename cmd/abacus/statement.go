package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/billing"
	"github.com/abacus-billing/abacus/rating"
)

func runStatement(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("statement", "ACCOUNT", stderr)
	db := dbFlag(fs)
	from := fs.String("from", "", "start: a date (2026-11-01) or an RFC 3339 time, a date read in --tz (default: the start of this month)")
	to := fs.String("to", "", "end, not included, as --from (default: the end of --from's month)")
	unit := fs.String("period", "month", "a line per hour, day, week, month or year")
	tz := fs.String("tz", "", "the IANA time zone periods start in, such as Europe/Berlin (default: the database's billing zone, whose months tiers count by)")
	by := fs.String("by", "", "also a line per scene, resource and/or instance: a comma-separated list of them")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		// Saying what it was given: "name one account" answered an extra
		// argument as if none had been given (README QA).
		return usagef("name one account (given %d arguments; flags go before it)", fs.NArg())
	}
	acct, err := abacus.ResolveAccountRef(fs.Arg(0))
	if err != nil {
		return usagef("%s is not an account id: %v", shown(fs.Arg(0)), err)
	}
	loc, err := billing.ParseZone(*tz)
	if err != nil {
		return asFlagError(err)
	}
	period, err := billing.ParseUnit(*unit)
	if err != nil {
		return asFlagError(err)
	}
	group, err := groupBy(*by)
	if err != nil {
		return err
	}
	now := time.Now()
	start, end, err := statementSpan(*from, *to, loc, now)
	if err != nil {
		return err
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if *tz == "" {
		// Checked above in UTC; read again in the zone of the billing
		// months, so that a month's line holds its tiers' month.
		zone, err := storedZone(ctx, st)
		if err != nil {
			return err
		}
		if loc, err = rating.BillingZone(zone); err != nil {
			return err
		}
		if start, end, err = statementSpan(*from, *to, loc, now); err != nil {
			return err
		}
	}
	// A mistyped account would read as one without usage (QA), and so
	// would the platform's own, which usage never charges.
	account, err := st.AccountGet(ctx, acct)
	if err != nil {
		return err
	}
	if account.Kind == abacus.KindSystem {
		return usagef("%s is a system account, which usage does not charge: name a user's or an organization's", fs.Arg(0))
	}
	s, err := billing.Build(ctx, st, acct, start, end, period, loc, group)
	if ae := (*abacus.Error)(nil); *tz == "" && errors.As(err, &ae) && (ae.Field == "time_zone" || ae.Field == "time_offset") {
		// The zone was not asked for: --tz named a flag never given (QA).
		return usagef("%s (the billing zone, as no --tz was given: give one to read the periods in another zone)", ae.Message)
	}
	if err != nil {
		return asFlagError(err)
	}
	if s.Currency == "" { // no line said it
		s.Currency = account.Currency
	}
	printStatement(stdout, &s, group)
	return nil
}

// statementFlags names the flag that gives each field billing names.
var statementFlags = map[string]string{"from": "--from", "to": "--to", "period": "--period", "time_zone": "--tz", "time_offset": "--tz"}

// asFlagError says a statement that cannot be built as asked in the words
// of the flags (exit 2); any other error is as it is.
func asFlagError(err error) error {
	var ae *abacus.Error
	if !errors.As(err, &ae) || ae.Code != abacus.CodeInvalid {
		return err
	}
	if flag, ok := statementFlags[ae.Field]; ok {
		return usagef("%s: %s", flag, ae.Message)
	}
	return usagef("%v", err)
}

// statementSpan reads --from and --to: a date is its first instant in loc.
// With neither, the month now is in; with --from alone, to the end of its
// month.
func statementSpan(from, to string, loc *time.Location, now time.Time) (time.Time, time.Time, error) {
	read := func(flag, v string) (time.Time, error) {
		t, err := time.Parse(time.DateOnly, v)
		if err == nil {
			t = billing.DayStart(t.Year(), t.Month(), t.Day(), loc) // not midnight where clocks skip it
		} else if len(v) == len(time.DateOnly) && dateShape.MatchString(v) {
			return time.Time{}, usagef("--%s: %q is no day of the calendar", flag, v)
		} else if t, err = time.Parse(time.RFC3339Nano, rfc3339Upper(v)); err != nil {
			return time.Time{}, usagef("--%s: %q is not a date such as 2026-11-01 or an RFC 3339 time such as 2026-11-01T00:00:00Z", flag, v)
		}
		// Go's zero time is no time to billing, and from before it the
		// default --to would be it.
		if !t.After(time.Time{}) {
			return time.Time{}, usagef("--%s: %q is not after 0001-01-01T00:00:00Z, which abacus reads as no time: give a later one", flag, v)
		}
		return t, nil
	}
	var start, end time.Time
	var err error
	switch {
	case from == "" && to != "":
		return start, end, usagef("--to goes with --from")
	case from == "":
		y, m, _ := now.In(loc).Date()
		start = billing.DayStart(y, m, 1, loc)
	default:
		if start, err = read("from", from); err != nil {
			return start, end, err
		}
	}
	if to == "" { // the end of --from's month
		y, m, _ := start.In(loc).Date()
		if end = billing.DayStart(y, m+1, 1, loc); end.Year() > 9999 || end.UTC().Year() > 9999 {
			return start, end, usagef("--from: %s is in the last month before the year 10000, which RFC 3339 cannot write: give --to", from)
		}
		return start, end, nil
	}
	if end, err = read("to", to); err != nil {
		return start, end, err
	}
	// A day the zone skipped starts where the next does, which leaves
	// nothing between it and that day: say so, not that --to is not after
	// an instant the user never wrote (QA: Pacific/Apia's 2011-12-30).
	if !end.After(start) {
		if d, err := time.Parse(time.DateOnly, from); err == nil && start.In(loc).Day() != d.Day() {
			return start, end, usagef("--from: %s does not exist in %s, whose clocks skipped that day: it starts where %s does, %s, so nothing is between it and --to",
				from, loc, start.In(loc).Format(time.DateOnly), start.In(loc).Format(time.RFC3339))
		}
	}
	return start, end, nil
}

func groupBy(list string) (billing.GroupBy, error) {
	var g billing.GroupBy
	if list == "" {
		return g, nil
	}
	for _, d := range strings.Split(list, ",") {
		var on *bool
		switch strings.TrimSpace(d) {
		case "scene":
			on = &g.Scene
		case "resource":
			on = &g.Resource
		case "instance":
			on = &g.Instance
		default:
			return g, usagef("--by: %q is not one of scene, resource, instance", d)
		}
		if *on {
			return g, usagef("--by: %q is named twice", strings.TrimSpace(d))
		}
		*on = true
	}
	return g, nil
}

// printStatement writes a statement as a table: a line per period (and
// dimension grouped by), the total, and a warning while unpriced usage
// leaves the total short. Quantities show only by resource: a line of
// several adds minutes to tokens.
func printStatement(w io.Writer, s *billing.Statement, g billing.GroupBy) {
	fmt.Fprintf(w, "account %s, %s to %s (%s), by %s, in %s\n", s.Account, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339), s.Location, s.Unit, s.Currency)
	var rows [][]string
	head := []string{"period"}
	for _, d := range []struct {
		on   bool
		name string
	}{{g.Scene, "scene"}, {g.Resource, "resource"}, {g.Instance, "instance"}} {
		if d.on {
			head = append(head, d.name)
		}
	}
	row := func(cells ...string) { rows = append(rows, cells) }
	if g.Resource {
		head = append(head, "quantity")
	}
	row(append(head, "events", "amount", "unpriced")...)
	for _, l := range s.Lines {
		cells := []string{l.Period.Start.Format(time.RFC3339)}
		if g.Scene {
			cells = append(cells, fmt.Sprint(l.Scene))
		}
		if g.Resource {
			cells = append(cells, shown(l.ResourceID)) // "gpu " is not gpu, and a tab would shift the columns
		}
		if g.Instance {
			cells = append(cells, shown(l.CustomerID))
		}
		unpriced := ""
		switch {
		case l.UnpricedEvents != 0 && g.Resource:
			unpriced = fmt.Sprintf("%s in %s", l.UnpricedQuantity, count(int(l.UnpricedEvents), "event"))
		case l.UnpricedEvents != 0:
			unpriced = count(int(l.UnpricedEvents), "event")
		}
		if g.Resource {
			cells = append(cells, l.Quantity.String())
		}
		row(append(cells, fmt.Sprint(l.Events), l.Amount.String(), unpriced)...)
	}
	total := make([]string, len(head)+3)
	total[0], total[len(head)+1] = "total", s.Total.String()
	row(total...)
	writeColumns(w, rows)
	if s.UnpricedEvents != 0 {
		fmt.Fprintf(w, "unpriced events: %d (counted in the lines' usage, not in the total: abacus rerate charges them once a price exists, as far as the account's floor allows)\n", s.UnpricedEvents)
	}
}

// writeColumns writes rows as columns, each cell right-aligned to its
// column's width on a terminal: text/tabwriter counts characters, so a
// wide CJK or emoji id shifted the columns after it (QA).
func writeColumns(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, c := range r {
			b.WriteString(strings.Repeat(" ", 2+widths[i]-runewidth.StringWidth(c)))
			b.WriteString(c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

var dateShape = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// rfc3339Upper spells an RFC 3339 time as Go reads it: RFC 3339 takes a
// lower-case t and z, and a space between date and time (section 5.6),
// which Go's parser refuses (QA).
func rfc3339Upper(v string) string {
	if len(v) > len(time.DateOnly) && v[len(time.DateOnly)] == ' ' {
		v = v[:len(time.DateOnly)] + "T" + v[len(time.DateOnly)+1:]
	}
	return strings.ToUpper(v)
}
