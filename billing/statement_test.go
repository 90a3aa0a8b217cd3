package billing_test

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/billing"
	"pgregory.net/rapid"
)

const acct = abacus.AccountID("0b7e4c1e-8a39-4f0e-9d55-2f1f7f2a7c11")

// fakeSource is an in-memory rollup store. Like a store, it returns the
// account's rows with a bucket in [From, To), unless raw is set, in which
// case it returns every row, as a broken store might.
type fakeSource struct {
	rows    []abacus.Rollup
	raw     bool
	err     error
	queries []abacus.RollupQuery
}

func (f *fakeSource) EachRollup(_ context.Context, q abacus.RollupQuery, fn func(abacus.Rollup) error) error {
	f.queries = append(f.queries, q)
	if f.err != nil {
		return f.err
	}
	for _, r := range f.rows {
		if f.raw || r.Account == q.Account && !r.Bucket.Before(q.From) && r.Bucket.Before(q.To) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func row(bucket string, scene int, resource, instance string, quantity, micros, events int64) abacus.Rollup {
	return abacus.Rollup{
		Account: acct, Bucket: utc(bucket), Scene: scene, ResourceID: resource, CustomerID: instance,
		Currency: "USD", Quantity: quantity, Amount: abacus.AmountFromMicros(micros), Events: events,
	}
}

// build calls Build and checks what every statement must satisfy.
func build(t tb, src *fakeSource, from, to time.Time, unit billing.Unit, loc *time.Location, by billing.GroupBy) billing.Statement {
	t.Helper()
	st, err := billing.Build(context.Background(), src, acct, from, to, unit, loc, by)
	if err != nil {
		t.Fatal(err)
	}
	checkStatement(t, src, st)
	return st
}

func checkStatement(t tb, src *fakeSource, st billing.Statement) {
	t.Helper()
	q := src.queries[len(src.queries)-1]
	if q.Account != acct || !q.From.Equal(st.From) || !q.To.Equal(st.To) || q.From.Location() != time.UTC || q.To.Location() != time.UTC {
		t.Fatalf("query %+v for a statement of %v to %v", q, st.From, st.To)
	}
	if !q.From.Equal(q.From.Truncate(abacus.RollupBucket)) || !q.To.Equal(q.To.Truncate(abacus.RollupBucket)) {
		t.Fatalf("query %v to %v is not in whole quarter hours", q.From, q.To)
	}
	if st.Lines == nil {
		t.Fatal("Lines is nil")
	}
	var total big.Int
	quantity := new(big.Int)
	var unpriced int64
	for i, l := range st.Lines {
		if l.UnpricedQuantity == nil {
			t.Fatalf("line %d: UnpricedQuantity is nil", i)
		}
		unpriced += l.UnpricedEvents
		if l.Period.Start.Before(st.From) || l.Period.End.After(st.To) || l.Period.Start.Location() != st.Location {
			t.Fatalf("line %d: period %v outside the statement %v to %v", i, l.Period, st.From, st.To)
		}
		if i > 0 && lineOrder(st.Lines[i-1], l) >= 0 {
			t.Fatalf("line %d (%+v) is not after line %d (%+v)", i, l, i-1, st.Lines[i-1])
		}
		total.Add(&total, big.NewInt(l.Amount.Micros()))
		quantity.Add(quantity, l.Quantity)
	}
	if total.Cmp(big.NewInt(st.Total.Micros())) != 0 || quantity.Cmp(st.Quantity) != 0 || unpriced != st.UnpricedEvents {
		t.Fatalf("total %v, quantity %d, unpriced events %d; the lines add up to %v, %d, %d", st.Total, st.Quantity, st.UnpricedEvents, &total, quantity, unpriced)
	}
}

func lineOrder(a, b billing.Line) int {
	return cmp.Or(
		a.Period.Start.Compare(b.Period.Start),
		cmp.Compare(a.Scene, b.Scene),
		cmp.Compare(a.ResourceID, b.ResourceID),
		cmp.Compare(a.CustomerID, b.CustomerID),
	)
}

func TestBuildHalfOpen(t *testing.T) {
	ny := load(t, "America/New_York")
	src := &fakeSource{rows: []abacus.Rollup{
		row("2024-05-01T23:45:00Z", 1, "gpu", "a", 1, 10, 1), // last quarter of 1 May, UTC
		row("2024-05-02T00:00:00Z", 1, "gpu", "a", 2, 20, 1), // first quarter of 2 May, UTC
		row("2024-05-02T03:45:00Z", 1, "gpu", "a", 4, 40, 1), // 23:45 on 1 May in New York
		row("2024-05-02T04:00:00Z", 1, "gpu", "a", 8, 80, 1), // midnight of 2 May in New York
	}}
	st := build(t, src, utc("2024-05-01T00:00:00Z"), utc("2024-05-03T00:00:00Z"), billing.Day, time.UTC, billing.GroupBy{})
	if len(st.Lines) != 2 || !is(st.Lines[0].Quantity, 1) || !is(st.Lines[1].Quantity, 14) {
		t.Fatalf("UTC lines %+v", st.Lines)
	}
	st = build(t, src, time.Date(2024, 5, 1, 0, 0, 0, 0, ny), time.Date(2024, 5, 3, 0, 0, 0, 0, ny), billing.Day, ny, billing.GroupBy{})
	if len(st.Lines) != 2 || !is(st.Lines[0].Quantity, 7) || !is(st.Lines[1].Quantity, 8) {
		t.Fatalf("New York lines %+v", st.Lines)
	}
	if !st.Lines[1].Period.Start.Equal(utc("2024-05-02T04:00:00Z")) {
		t.Fatalf("2 May in New York starts at %v", st.Lines[1].Period.Start)
	}
}

func TestBuildRoundsOutward(t *testing.T) {
	berlin := load(t, "Europe/Berlin")
	src := &fakeSource{rows: []abacus.Rollup{
		row("2024-03-30T23:00:00Z", 0, "x", "", 1, 1, 1), // 00:00 CET on 31 March: in
		row("2024-03-30T22:45:00Z", 0, "x", "", 1, 1, 1), // 23:45 on 30 March: out
		row("2024-03-31T21:45:00Z", 0, "x", "", 1, 1, 1), // 23:45 CEST on 31 March: in
		row("2024-03-31T22:00:00Z", 0, "x", "", 1, 1, 1), // 1 April: out
	}}
	st := build(t, src, time.Date(2024, 3, 31, 10, 7, 0, 0, berlin), time.Date(2024, 3, 31, 10, 8, 0, 0, berlin), billing.Day, berlin, billing.GroupBy{})
	if !st.From.Equal(utc("2024-03-30T23:00:00Z")) || !st.To.Equal(utc("2024-03-31T22:00:00Z")) || st.From.Location() != berlin {
		t.Fatalf("statement from %v to %v", st.From, st.To)
	}
	if len(st.Lines) != 1 || !is(st.Lines[0].Quantity, 2) || st.Lines[0].Period.Duration() != 23*time.Hour {
		t.Fatalf("lines %+v", st.Lines)
	}
	if st.Unit != billing.Day || st.Location != berlin || st.Account != acct || st.Currency != "USD" {
		t.Fatalf("statement %+v", st)
	}
}

// The repeated hour of New York's fall-back is one two-hour period with
// eight quarter hours in it.
func TestBuildRepeatedHour(t *testing.T) {
	ny := load(t, "America/New_York")
	var src fakeSource
	for b := utc("2024-11-03T04:00:00Z"); b.Before(utc("2024-11-03T08:00:00Z")); b = b.Add(abacus.RollupBucket) {
		src.rows = append(src.rows, abacus.Rollup{Account: acct, Bucket: b, Currency: "USD", Quantity: 1, Events: 1, Amount: abacus.AmountFromMicros(3)})
	}
	st := build(t, &src, utc("2024-11-03T04:00:00Z"), utc("2024-11-03T08:00:00Z"), billing.Hour, ny, billing.GroupBy{})
	var got []int64
	for _, l := range st.Lines {
		got = append(got, l.Quantity.Int64())
	}
	if !slices.Equal(got, []int64{4, 8, 4}) || st.Total.Micros() != 48 {
		t.Fatalf("quarter hours per line %v, total %v", got, st.Total)
	}
}

func TestBuildGroupBy(t *testing.T) {
	rows := []abacus.Rollup{
		row("2024-05-01T10:00:00Z", 2, "gpu", "b", 1, 1_000_001, 1),
		row("2024-05-01T10:15:00Z", 1, "gpu", "a", 2, 2_000_000, 1),
		row("2024-05-01T11:00:00Z", 1, "cpu", "a", 4, -500_000, -1), // a void
		row("2024-05-01T12:00:00Z", 2, "cpu", "b", 8, 7, 2),
		row("2024-05-01T13:00:00Z", 1, "gpu", "a", 16, 3, 1),
		row("2024-05-02T09:00:00Z", 1, "gpu", "a", 32, 11, 1),
		row("2024-05-02T09:15:00Z", 2, "gpu", "a", 64, 13, 1),
	}
	type want struct {
		day      int
		scene    int
		resource string
		instance string
		quantity int64
		micros   int64
		events   int64
	}
	for _, c := range []struct {
		by   billing.GroupBy
		want []want
	}{
		{billing.GroupBy{}, []want{
			{1, 0, "", "", 31, 2_500_011, 4},
			{2, 0, "", "", 96, 24, 2},
		}},
		{billing.GroupBy{Scene: true}, []want{
			{1, 1, "", "", 22, 1_500_003, 1},
			{1, 2, "", "", 9, 1_000_008, 3},
			{2, 1, "", "", 32, 11, 1},
			{2, 2, "", "", 64, 13, 1},
		}},
		{billing.GroupBy{Resource: true}, []want{
			{1, 0, "cpu", "", 12, -499_993, 1},
			{1, 0, "gpu", "", 19, 3_000_004, 3},
			{2, 0, "gpu", "", 96, 24, 2},
		}},
		{billing.GroupBy{Instance: true}, []want{
			{1, 0, "", "a", 22, 1_500_003, 1},
			{1, 0, "", "b", 9, 1_000_008, 3},
			{2, 0, "", "a", 96, 24, 2},
		}},
		{billing.GroupBy{Scene: true, Resource: true, Instance: true}, []want{
			{1, 1, "cpu", "a", 4, -500_000, -1},
			{1, 1, "gpu", "a", 18, 2_000_003, 2},
			{1, 2, "cpu", "b", 8, 7, 2},
			{1, 2, "gpu", "b", 1, 1_000_001, 1},
			{2, 1, "gpu", "a", 32, 11, 1},
			{2, 2, "gpu", "a", 64, 13, 1},
		}},
	} {
		// Rows in any order give the same statement.
		for _, order := range [][]abacus.Rollup{rows, reversed(rows)} {
			src := &fakeSource{rows: order}
			st := build(t, src, utc("2024-05-01T00:00:00Z"), utc("2024-05-03T00:00:00Z"), billing.Day, time.UTC, c.by)
			if len(st.Lines) != len(c.want) {
				t.Fatalf("%+v: %d lines, want %d: %+v", c.by, len(st.Lines), len(c.want), st.Lines)
			}
			for i, w := range c.want {
				l := st.Lines[i]
				if l.Period.Start.Day() != w.day || l.Scene != w.scene || l.ResourceID != w.resource || l.CustomerID != w.instance ||
					!is(l.Quantity, w.quantity) || l.Amount.Micros() != w.micros || l.Events != w.events || l.Currency != "USD" {
					t.Errorf("%+v: line %d is %+v, want %+v", c.by, i, l, w)
				}
			}
			if st.Total.Micros() != 2_500_035 || !is(st.Quantity, 127) {
				t.Errorf("%+v: total %v, quantity %d", c.by, st.Total, st.Quantity)
			}
		}
	}
}

func reversed(rows []abacus.Rollup) []abacus.Rollup {
	r := slices.Clone(rows)
	slices.Reverse(r)
	return r
}

func TestBuildEmpty(t *testing.T) {
	src := &fakeSource{rows: []abacus.Rollup{row("2024-06-01T00:00:00Z", 1, "gpu", "a", 1, 1, 1)}}
	st := build(t, src, utc("2024-05-01T00:00:00Z"), utc("2024-05-03T00:00:00Z"), billing.Hour, time.UTC, billing.GroupBy{Scene: true})
	if len(st.Lines) != 0 || !st.Total.IsZero() || !is(st.Quantity, 0) || st.Currency != "" {
		t.Fatalf("statement %+v", st)
	}
}

// Sums are exact and do not depend on the order of the rows: a partial
// sum past the int64 range is fine if the total is back in it.
func TestBuildOverflow(t *testing.T) {
	from, to := utc("2024-05-01T00:00:00Z"), utc("2024-05-03T00:00:00Z")
	day1, day2 := "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z"
	for _, c := range []struct {
		rows  []abacus.Rollup
		total int64 // 0: overflow
	}{
		// One line of max+1-1, in any order: fits.
		{[]abacus.Rollup{row(day1, 1, "a", "", 1, math.MaxInt64, 1), row(day1, 1, "a", "", 1, 1, 1), row(day1, 1, "a", "", 1, -1, 1)}, math.MaxInt64},
		{[]abacus.Rollup{row(day1, 1, "a", "", 1, 1, 1), row(day1, 1, "a", "", 1, math.MaxInt64, 1), row(day1, 1, "a", "", 1, -1, 1)}, math.MaxInt64},
		// Lines of min and 0: fit.
		{[]abacus.Rollup{row(day1, 1, "a", "", 1, math.MinInt64, 1), row(day2, 1, "a", "", 1, -1, 1), row(day2, 1, "a", "", 1, 1, 1)}, math.MinInt64},
		// A line of max+1, however the -1 of the next day comes.
		{[]abacus.Rollup{row(day1, 1, "a", "", 1, math.MaxInt64, 1), row(day1, 1, "a", "", 1, 1, 1), row(day2, 1, "a", "", 1, -1, 1)}, 0},
		// Two lines that each fit but not together.
		{[]abacus.Rollup{row(day1, 1, "a", "", 1, math.MaxInt64, 1), row(day2, 1, "a", "", 1, 1, 1)}, 0},
	} {
		for _, order := range [][]abacus.Rollup{c.rows, reversed(c.rows)} {
			st, err := billing.Build(context.Background(), &fakeSource{rows: order}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
			if c.total == 0 {
				wantCode(t, err, abacus.CodeOverflow, "amount")
				continue
			}
			if err != nil || st.Total.Micros() != c.total {
				t.Fatalf("rows %+v: total %v, %v; want %d", order, st.Total, err, c.total)
			}
		}
	}
	// Event counts are checked too.
	_, err := billing.Build(context.Background(), &fakeSource{rows: []abacus.Rollup{
		row(day1, 1, "a", "", 1, 1, math.MinInt64), row(day1, 1, "a", "", 1, 1, -1),
	}}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeOverflow, "events")
	// And unpriced ones, in a line and across lines.
	over := func(bucket string, n int64) abacus.Rollup {
		r := row(bucket, 1, "a", "", 1, 0, 1)
		r.UnpricedEvents = n
		return r
	}
	for _, rows := range [][]abacus.Rollup{{over(day1, math.MaxInt64), over(day1, 1)}, {over(day1, math.MaxInt64), over(day2, 1)}} {
		_, err = billing.Build(context.Background(), &fakeSource{rows: rows}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
		wantCode(t, err, abacus.CodeOverflow, "unpriced_events")
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	from, to := utc("2024-05-01T00:00:00Z"), utc("2024-05-03T00:00:00Z")
	ok := &fakeSource{}

	_, err := billing.Build(ctx, ok, "", from, to, billing.Day, time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "account")
	_, err = billing.Build(ctx, ok, acct, from, to, "AGE", time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "period")
	_, err = billing.Build(ctx, ok, acct, to, from, billing.Day, time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "to")
	_, err = billing.Build(ctx, ok, acct, from, from.AddDate(20, 0, 0), billing.Hour, time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "to")
	if len(ok.queries) != 0 {
		t.Fatalf("bad requests reached the source: %v", ok.queries)
	}

	// An offset that is not whole quarter hours would split buckets.
	odd, err := billing.FixedOffset(5*60 + 7)
	if err != nil {
		t.Fatal(err)
	}
	_, err = billing.Build(ctx, ok, acct, from, to, billing.Day, odd, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "time_offset")
	_, err = billing.Build(ctx, ok, acct, from, to, billing.Day, time.FixedZone("", 30), billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "time_offset")
	if !strings.Contains(err.Error(), "UTC+00:00:30") {
		t.Errorf("err = %v, want it to name the offset", err)
	}
	// ... but whole quarter hours are fine, even at hour resolution.
	for _, m := range []int{-570, 345, 765} {
		loc, _ := billing.FixedOffset(m)
		if _, err := billing.Build(ctx, ok, acct, from, to, billing.Hour, loc, billing.GroupBy{}); err != nil {
			t.Fatalf("offset %d: %v", m, err)
		}
	}
	// So would local mean time, as New York kept it until 1883.
	ny := load(t, "America/New_York")
	_, err = billing.Build(ctx, ok, acct, time.Date(1880, 1, 1, 0, 0, 0, 0, ny), time.Date(1880, 1, 2, 0, 0, 0, 0, ny), billing.Day, ny, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "time_zone")
	// So would the hour after a change at 00:01, as St. John's made them
	// until 2011; its day is fine.
	sj := load(t, "America/St_Johns")
	day := time.Date(2006, 4, 2, 0, 0, 0, 0, sj)
	_, err = billing.Build(ctx, ok, acct, day, day.AddDate(0, 0, 1), billing.Hour, sj, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "time_zone")
	if _, err := billing.Build(ctx, ok, acct, day, day.AddDate(0, 0, 1), billing.Day, sj, billing.GroupBy{}); err != nil {
		t.Fatalf("a day of St. John's with a change at 00:01: %v", err)
	}

	// The source's error comes back wrapped.
	boom := errors.New("boom")
	_, err = billing.Build(ctx, &fakeSource{err: boom}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}

	// Rows the query did not ask for mean a broken store.
	for _, r := range []abacus.Rollup{
		row("2024-05-03T00:00:00Z", 1, "a", "", 1, 1, 1),
		row("2024-04-30T23:45:00Z", 1, "a", "", 1, 1, 1),
		{Account: "someone-else", Bucket: from, Currency: "USD"},
	} {
		_, err = billing.Build(ctx, &fakeSource{rows: []abacus.Rollup{r}, raw: true}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
		wantCode(t, err, abacus.CodeInternal, "")
	}
	// One account, one currency.
	eur := row("2024-05-02T00:00:00Z", 1, "a", "", 1, 1, 1)
	eur.Currency = "EUR"
	_, err = billing.Build(ctx, &fakeSource{rows: []abacus.Rollup{row("2024-05-01T00:00:00Z", 1, "a", "", 1, 1, 1), eur}}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeCurrencyMismatch, "currency")
	// The source's error is the statement's, said as reading rollups.
	_, err = billing.Build(ctx, &fakeSource{err: errors.New("disk on fire")}, acct, from, to, billing.Day, time.UTC, billing.GroupBy{})
	if err == nil || err.Error() != "reading rollups: disk on fire" {
		t.Fatalf("a failing source: %v", err)
	}
}

// Every quarter-hour rollup of a whole local month lands in exactly one
// day line: the local day its bucket starts in.
func TestBuildMonthProperty(t *testing.T) {
	var locs []*time.Location
	for _, loc := range zones(t) {
		if loc.String() != "+05:07" { // Build refuses it
			locs = append(locs, loc)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		loc := rapid.SampledFrom(locs).Draw(t, "loc")
		year := rapid.IntRange(2000, 2040).Draw(t, "year")
		month := time.Month(rapid.IntRange(1, 12).Draw(t, "month"))
		keep := rapid.SampledFrom([]float64{1, 0.9, 0.5, 0.1}).Draw(t, "keep")
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0))

		mid := time.Date(year, month, 15, 12, 0, 0, 0, loc)
		if rapid.Bool().Draw(t, "with a clock change") {
			if _, end := mid.ZoneBounds(); !end.IsZero() && end.Year() < 2041 {
				mid = end.In(loc)
			}
		}
		months, err := billing.Periods(mid, mid.Add(1), billing.Month, loc)
		if err != nil {
			t.Fatal(err)
		}
		m := months[0]
		var src fakeSource
		var total int64
		for b := m.Start.UTC(); b.Before(m.End); b = b.Add(abacus.RollupBucket) {
			if rng.Float64() >= keep {
				continue
			}
			amount := rng.Int64N(2_000_000_000_000) - 500_000_000_000
			total += amount
			src.rows = append(src.rows, abacus.Rollup{
				Account: acct, Bucket: b, Scene: rng.IntN(3), ResourceID: "gpu", CustomerID: b.Format(time.RFC3339),
				Currency: "USD", Quantity: 1, Amount: abacus.AmountFromMicros(amount), Events: 1,
			})
		}
		rng.Shuffle(len(src.rows), func(i, j int) { src.rows[i], src.rows[j] = src.rows[j], src.rows[i] })

		// One row per instance: each row is one line.
		st := build(t, &src, m.Start, m.End, billing.Day, loc, billing.GroupBy{Scene: true, Instance: true})
		if !st.From.Equal(m.Start) || !st.To.Equal(m.End) {
			t.Fatalf("statement %v to %v, month %v", st.From, st.To, m)
		}
		if len(st.Lines) != len(src.rows) || st.Total.Micros() != total {
			t.Fatalf("%d lines for %d rows, total %v want %d", len(st.Lines), len(src.rows), st.Total, total)
		}
		byInstance := make(map[string]billing.Line)
		for _, l := range st.Lines {
			byInstance[l.CustomerID] = l
		}
		for _, r := range src.rows {
			l, ok := byInstance[r.CustomerID]
			if !ok || l.Amount != r.Amount || l.Scene != r.Scene || !l.Period.Contains(r.Bucket) {
				t.Fatalf("row %+v is in line %+v (found %v)", r, l, ok)
			}
			if y, mo, d := r.Bucket.In(loc).Date(); l.Period.Start.Year() != y || l.Period.Start.Month() != mo || l.Period.Start.Day() != d {
				t.Fatalf("row at %v (%v local) is in the day from %v", r.Bucket, r.Bucket.In(loc), l.Period.Start)
			}
		}

		// One line per day: the quarter hours add up to the day's length.
		st = build(t, &src, m.Start, m.End, billing.Day, loc, billing.GroupBy{})
		days, err := billing.Periods(m.Start, m.End, billing.Day, loc)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Lines) > len(days) || st.Total.Micros() != total || !is(st.Quantity, int64(len(src.rows))) {
			t.Fatalf("%d lines for %d days, total %v want %d, quantity %d for %d rows", len(st.Lines), len(days), st.Total, total, st.Quantity, len(src.rows))
		}
		for _, l := range st.Lines {
			if n := int64(l.Period.Duration() / abacus.RollupBucket); l.Quantity.Cmp(big.NewInt(n)) > 0 || (keep == 1 && !is(l.Quantity, n)) {
				t.Fatalf("day %v has %d quarter hours of %d", l.Period, l.Quantity, n)
			}
		}
	})
}

func is(q *big.Int, want int64) bool { return q != nil && q.IsInt64() && q.Int64() == want }

// TestBuildQuantityPastInt64: quantities are summed exactly past the int64
// range, in a line and in the statement, and the statement is built (QA:
// one producer's value near 2^63 on two resources made every statement of
// the account fail, though its money fit).
func TestBuildQuantityPastInt64(t *testing.T) {
	from, to := utc("2024-05-01T00:00:00Z"), utc("2024-05-03T00:00:00Z")
	day1, day2 := "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z"
	rows := []abacus.Rollup{
		row(day1, 1, "a", "", math.MaxInt64, 1, 1), row("2024-05-01T10:15:00Z", 1, "a", "", math.MaxInt64, 2, 1),
		row(day1, 1, "b", "", math.MaxInt64, 3, 1), row(day2, 1, "a", "", math.MinInt64, 4, 1),
	}
	top := new(big.Int).SetInt64(math.MaxInt64)
	for _, c := range []struct {
		by    billing.GroupBy
		lines []*big.Int
	}{
		{billing.GroupBy{}, []*big.Int{new(big.Int).Mul(top, big.NewInt(3)), big.NewInt(math.MinInt64)}},
		{billing.GroupBy{Resource: true}, []*big.Int{new(big.Int).Mul(top, big.NewInt(2)), top, big.NewInt(math.MinInt64)}},
	} {
		for _, order := range [][]abacus.Rollup{rows, reversed(rows)} {
			st := build(t, &fakeSource{rows: order}, from, to, billing.Day, time.UTC, c.by)
			if len(st.Lines) != len(c.lines) || st.Total.Micros() != 10 {
				t.Fatalf("%+v: %+v", c.by, st)
			}
			for i, l := range st.Lines {
				if l.Quantity.Cmp(c.lines[i]) != 0 {
					t.Fatalf("%+v: line %d quantity %v, want %v", c.by, i, l.Quantity, c.lines[i])
				}
			}
			if want := new(big.Int).Add(new(big.Int).Mul(top, big.NewInt(3)), big.NewInt(math.MinInt64)); st.Quantity.Cmp(want) != 0 {
				t.Fatalf("%+v: quantity %v, want %v", c.by, st.Quantity, want)
			}
		}
	}
}

// TestBuildAccountSpelledOtherwise: an account id in upper case is refused
// naming "account", not answered with an empty statement (QA).
func TestBuildAccountSpelledOtherwise(t *testing.T) {
	src := &fakeSource{rows: []abacus.Rollup{row("2024-05-01T10:00:00Z", 1, "a", "", 1, 1, 1)}}
	_, err := billing.Build(context.Background(), src, abacus.AccountID(strings.ToUpper(string(acct))), utc("2024-05-01T00:00:00Z"), utc("2024-05-02T00:00:00Z"), billing.Day, time.UTC, billing.GroupBy{})
	wantCode(t, err, abacus.CodeInvalid, "account")
}

// TestBuildUnpriced: a line says how much of its usage had no price, so a
// statement tells usage that was free from usage not billed yet; the
// statement counts the unpriced events of all its lines.
func TestBuildUnpriced(t *testing.T) {
	priced := row("2024-05-01T10:00:00Z", 1, "gpu", "a", 5, 0, 1) // free: a price of 0
	unpriced := row("2024-05-01T10:15:00Z", 1, "gpu", "a", 7, 0, 2)
	unpriced.UnpricedQuantity, unpriced.UnpricedEvents = 7, 2
	half := row("2024-05-01T10:00:00Z", 1, "cpu", "a", 10, 30, 3)
	half.UnpricedQuantity, half.UnpricedEvents = 4, 1
	src := &fakeSource{rows: []abacus.Rollup{priced, unpriced, half}}
	from, to := utc("2024-05-01T00:00:00Z"), utc("2024-05-02T00:00:00Z")

	st := build(t, src, from, to, billing.Day, time.UTC, billing.GroupBy{Resource: true})
	if len(st.Lines) != 2 || st.UnpricedEvents != 3 {
		t.Fatalf("%+v", st)
	}
	cpu, gpu := st.Lines[0], st.Lines[1]
	if !is(cpu.UnpricedQuantity, 4) || cpu.UnpricedEvents != 1 || !is(cpu.Quantity, 10) || cpu.Amount.Micros() != 30 {
		t.Fatalf("cpu line %+v, want 4 of its 10 units unpriced, in 1 event", cpu)
	}
	if !is(gpu.UnpricedQuantity, 7) || gpu.UnpricedEvents != 2 || !is(gpu.Quantity, 12) {
		t.Fatalf("gpu line %+v, want 7 of its 12 units unpriced, in 2 events", gpu)
	}

	st = build(t, &fakeSource{rows: []abacus.Rollup{priced}}, from, to, billing.Day, time.UTC, billing.GroupBy{})
	if len(st.Lines) != 1 || !is(st.Lines[0].UnpricedQuantity, 0) || st.Lines[0].UnpricedEvents != 0 || st.UnpricedEvents != 0 {
		t.Fatalf("free usage shown as unpriced: %+v", st)
	}
}
