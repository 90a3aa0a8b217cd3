package billing_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zone data on every machine
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/billing"
	"pgregory.net/rapid"
)

func load(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// wantCode checks that err is an *abacus.Error with code and field.
func wantCode(t tb, err error, code abacus.ErrorCode, field string) {
	t.Helper()
	var e *abacus.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *abacus.Error %s on %q", err, code, field)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("err = %v (code %s, field %q), want code %s, field %q", err, e.Code, e.Field, code, field)
	}
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// checkPeriods checks that ps are non-empty, contiguous, in loc, and
// agree with Align at both ends.
func checkPeriods(t tb, ps []billing.Period, unit billing.Unit, loc *time.Location) {
	t.Helper()
	if len(ps) == 0 {
		t.Fatal("no periods")
	}
	for i, p := range ps {
		if !p.Start.Before(p.End) {
			t.Fatalf("period %d: %v is empty", i, p)
		}
		if p.Start.Location() != loc || p.End.Location() != loc {
			t.Fatalf("period %d: %v is not in %v", i, p, loc)
		}
		if i > 0 && !ps[i-1].End.Equal(p.Start) {
			t.Fatalf("period %d starts at %v, the one before ends at %v", i, p.Start, ps[i-1].End)
		}
		if a := billing.Align(p.Start, unit, loc); !a.Equal(p.Start) {
			t.Fatalf("Align(%v) = %v, want itself", p.Start, a)
		}
		if a := billing.Align(p.End.Add(-time.Nanosecond), unit, loc); !a.Equal(p.Start) {
			t.Fatalf("Align(%v - 1ns) = %v, want %v", p.End, a, p.Start)
		}
	}
}

// samePeriods reports whether a and b are the same instants, whatever
// their locations.
func samePeriods(a, b []billing.Period) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Start.Equal(b[i].Start) || !a[i].End.Equal(b[i].End) {
			return false
		}
	}
	return true
}

func TestParseUnit(t *testing.T) {
	for in, want := range map[string]billing.Unit{
		"hour": billing.Hour, "day": billing.Day, "week": billing.Week, "month": billing.Month, "year": billing.Year,
		"HOUR": billing.Hour, "DAY": billing.Day, "WEEK": billing.Week, "MONTH": billing.Month, "YEAR": billing.Year,
		"Month": billing.Month,
	} {
		got, err := billing.ParseUnit(in)
		if err != nil || got != want {
			t.Errorf("ParseUnit(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "AGE", "hours", "daily", " day", "quarter", "minute", strings.Repeat("x", 1000)} {
		_, err := billing.ParseUnit(in)
		wantCode(t, err, abacus.CodeInvalid, "period")
	}
}

func TestPeriodsAcrossAYear(t *testing.T) {
	zones := []*time.Location{
		time.UTC,
		load(t, "America/New_York"),
		load(t, "Europe/Berlin"),
		load(t, "Australia/Lord_Howe"),
		load(t, "Asia/Kathmandu"),
		time.FixedZone("", -(3*3600 + 30*60)),
	}
	for _, loc := range zones {
		from := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
		to := time.Date(2025, 1, 1, 0, 0, 0, 0, loc)
		// New York and Berlin skip one local hour in spring; the hour
		// they repeat in autumn is one period of two hours.
		hours := 366 * 24
		if loc.String() == "America/New_York" || loc.String() == "Europe/Berlin" {
			hours--
		}
		for _, c := range []struct {
			unit billing.Unit
			n    int
		}{{billing.Hour, hours}, {billing.Day, 366}, {billing.Week, 53}, {billing.Month, 12}, {billing.Year, 1}} {
			t.Run(fmt.Sprintf("%s/%s", loc, c.unit), func(t *testing.T) {
				ps, err := billing.Periods(from, to, c.unit, loc)
				if err != nil {
					t.Fatal(err)
				}
				checkPeriods(t, ps, c.unit, loc)
				if len(ps) != c.n {
					t.Fatalf("%d periods, want %d", len(ps), c.n)
				}
				if !ps[0].Start.Equal(billing.Align(from, c.unit, loc)) || ps[len(ps)-1].End.Before(to) {
					t.Fatalf("periods span %v to %v, want to cover %v to %v", ps[0].Start, ps[len(ps)-1].End, from, to)
				}
				if c.unit != billing.Week {
					if !ps[0].Start.Equal(from) || !ps[len(ps)-1].End.Equal(to) {
						t.Fatalf("periods span %v to %v, want exactly %v to %v", ps[0].Start, ps[len(ps)-1].End, from, to)
					}
				}
				// Each period is a union of whole hours.
				for _, p := range ps {
					if !billing.Align(p.Start, billing.Hour, loc).Equal(p.Start) {
						t.Fatalf("%v does not start an hour", p.Start)
					}
				}
			})
		}
	}
}

func TestPeriodsWeekStartsMonday(t *testing.T) {
	ps, err := billing.Periods(utc("2020-12-31T10:00:00Z"), utc("2021-01-05T00:00:00Z"), billing.Week, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	want := []billing.Period{
		{utc("2020-12-28T00:00:00Z"), utc("2021-01-04T00:00:00Z")},
		{utc("2021-01-04T00:00:00Z"), utc("2021-01-11T00:00:00Z")},
	}
	if !samePeriods(ps, want) {
		t.Fatalf("got %v, want %v", ps, want)
	}
	for in, want := range map[string]string{
		"2021-01-03T23:59:59Z": "2020-12-28T00:00:00Z", // ISO week 53 of 2020
		"2020-12-28T00:00:00Z": "2020-12-28T00:00:00Z",
		"2020-12-27T23:59:59Z": "2020-12-21T00:00:00Z",
		"2024-12-31T12:00:00Z": "2024-12-30T00:00:00Z", // ISO week 1 of 2025
		"2027-01-01T00:00:00Z": "2026-12-28T00:00:00Z", // Friday
	} {
		if got := billing.Align(utc(in), billing.Week, time.UTC); !got.Equal(utc(want)) {
			t.Errorf("Align(%s, week) = %v, want %s", in, got, want)
		}
	}
	// A week across the spring change in Berlin is an hour short.
	berlin := load(t, "Europe/Berlin")
	ps, err = billing.Periods(time.Date(2024, 3, 27, 0, 0, 0, 0, berlin), time.Date(2024, 3, 28, 0, 0, 0, 0, berlin), billing.Week, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Duration() != 167*time.Hour || ps[0].Start.Weekday() != time.Monday {
		t.Fatalf("got %v, want one week of 167 h from Monday", ps)
	}
}

func TestPeriodsMonthsAndLeapYears(t *testing.T) {
	ps, err := billing.Periods(utc("2024-01-31T12:00:00Z"), utc("2024-02-01T00:00:01Z"), billing.Month, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	want := []billing.Period{
		{utc("2024-01-01T00:00:00Z"), utc("2024-02-01T00:00:00Z")},
		{utc("2024-02-01T00:00:00Z"), utc("2024-03-01T00:00:00Z")},
	}
	if !samePeriods(ps, want) {
		t.Fatalf("got %v, want %v", ps, want)
	}
	// Months never skip or double: every month of 2023..2025.
	ps, err = billing.Periods(utc("2023-01-31T00:00:00Z"), utc("2025-12-31T00:00:00Z"), billing.Month, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	checkPeriods(t, ps, billing.Month, time.UTC)
	for i, p := range ps {
		if p.Start.Day() != 1 || p.Start.Month() != time.Month(i%12+1) {
			t.Fatalf("period %d starts %v", i, p.Start)
		}
	}
	for _, c := range []struct {
		year, febDays, yearDays int
	}{{2000, 29, 366}, {2023, 28, 365}, {2024, 29, 366}, {2100, 28, 365}} {
		feb := time.Date(c.year, 2, 10, 0, 0, 0, 0, time.UTC)
		ps, err := billing.Periods(feb, feb.Add(time.Hour), billing.Month, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if got := ps[0].Duration() / (24 * time.Hour); int(got) != c.febDays {
			t.Errorf("February %d has %d days, want %d", c.year, got, c.febDays)
		}
		ps, err = billing.Periods(feb, feb.Add(time.Hour), billing.Year, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if got := ps[0].Duration() / (24 * time.Hour); int(got) != c.yearDays {
			t.Errorf("%d has %d days, want %d", c.year, got, c.yearDays)
		}
		days, err := billing.Periods(ps[0].Start, ps[0].End, billing.Day, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != c.yearDays {
			t.Errorf("%d has %d day periods, want %d", c.year, len(days), c.yearDays)
		}
	}
	// The last day of a month aligns to that month, not the next.
	if got := billing.Align(utc("2024-02-29T23:59:59Z"), billing.Month, time.UTC); !got.Equal(utc("2024-02-01T00:00:00Z")) {
		t.Errorf("Align(2024-02-29T23:59:59Z, month) = %v", got)
	}
}

// A day and the hours in it, around a clock change.
func TestPeriodsClockChanges(t *testing.T) {
	type hour struct {
		start string // UTC
		local string // Start read in the zone
		dur   time.Duration
	}
	for _, c := range []struct {
		zone     string
		day      string // local date
		dayStart string // UTC
		dayLen   time.Duration
		hours    []hour // the hour periods from 00:00 local, as many as given
	}{
		{"America/New_York", "2024-03-10", "2024-03-10T05:00:00Z", 23 * time.Hour, []hour{
			{"2024-03-10T05:00:00Z", "00:00 EST", time.Hour},
			{"2024-03-10T06:00:00Z", "01:00 EST", time.Hour},
			{"2024-03-10T07:00:00Z", "03:00 EDT", time.Hour}, // 02:00 does not exist
			{"2024-03-10T08:00:00Z", "04:00 EDT", time.Hour},
		}},
		{"America/New_York", "2024-11-03", "2024-11-03T04:00:00Z", 25 * time.Hour, []hour{
			{"2024-11-03T04:00:00Z", "00:00 EDT", time.Hour},
			{"2024-11-03T05:00:00Z", "01:00 EDT", 2 * time.Hour}, // 01:00 happens twice
			{"2024-11-03T07:00:00Z", "02:00 EST", time.Hour},
		}},
		{"Europe/Berlin", "2024-03-31", "2024-03-30T23:00:00Z", 23 * time.Hour, []hour{
			{"2024-03-30T23:00:00Z", "00:00 CET", time.Hour},
			{"2024-03-31T00:00:00Z", "01:00 CET", time.Hour},
			{"2024-03-31T01:00:00Z", "03:00 CEST", time.Hour},
		}},
		{"Europe/Berlin", "2024-10-27", "2024-10-26T22:00:00Z", 25 * time.Hour, []hour{
			{"2024-10-26T22:00:00Z", "00:00 CEST", time.Hour},
			{"2024-10-26T23:00:00Z", "01:00 CEST", time.Hour},
			{"2024-10-27T00:00:00Z", "02:00 CEST", 2 * time.Hour},
			{"2024-10-27T02:00:00Z", "03:00 CET", time.Hour},
		}},
		// Lord Howe Island moves its clocks by half an hour at 02:00.
		{"Australia/Lord_Howe", "2024-04-07", "2024-04-06T13:00:00Z", 24*time.Hour + 30*time.Minute, []hour{
			{"2024-04-06T13:00:00Z", "00:00 +11", time.Hour},
			{"2024-04-06T14:00:00Z", "01:00 +11", 90 * time.Minute}, // 01:30..02:00 happens twice
			{"2024-04-06T15:30:00Z", "02:00 +1030", time.Hour},
		}},
		{"Australia/Lord_Howe", "2024-10-06", "2024-10-05T13:30:00Z", 23*time.Hour + 30*time.Minute, []hour{
			{"2024-10-05T13:30:00Z", "00:00 +1030", time.Hour},
			{"2024-10-05T14:30:00Z", "01:00 +1030", time.Hour},
			{"2024-10-05T15:30:00Z", "02:30 +11", 30 * time.Minute}, // 02:00..02:30 does not exist
			{"2024-10-05T16:00:00Z", "03:00 +11", time.Hour},
		}},
		// Kathmandu is +05:45: its days and hours start at a quarter past.
		{"Asia/Kathmandu", "2024-01-15", "2024-01-14T18:15:00Z", 24 * time.Hour, []hour{
			{"2024-01-14T18:15:00Z", "00:00 +0545", time.Hour},
			{"2024-01-14T19:15:00Z", "01:00 +0545", time.Hour},
		}},
		// Brazil changed its clocks at midnight: on 4 November 2018 the
		// day began at 01:00; on 16 February 2019 23:00 happened twice.
		{"America/Sao_Paulo", "2018-11-04", "2018-11-04T03:00:00Z", 23 * time.Hour, []hour{
			{"2018-11-04T03:00:00Z", "01:00 -02", time.Hour},
		}},
		{"America/Sao_Paulo", "2019-02-16", "2019-02-16T02:00:00Z", 25 * time.Hour, nil},
		{"Pacific/Chatham", "2024-04-07", "2024-04-06T10:15:00Z", 25 * time.Hour, nil},
	} {
		t.Run(c.zone+"/"+c.day, func(t *testing.T) {
			loc := load(t, c.zone)
			noon, err := time.ParseInLocation("2006-01-02 15:04", c.day+" 12:00", loc)
			if err != nil {
				t.Fatal(err)
			}
			days, err := billing.Periods(noon, noon.Add(time.Nanosecond), billing.Day, loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != 1 {
				t.Fatalf("got %v, want one day", days)
			}
			d := days[0]
			if !d.Start.Equal(utc(c.dayStart)) || d.Duration() != c.dayLen {
				t.Fatalf("day is %v (%v), want from %s for %v", d, d.Duration(), c.dayStart, c.dayLen)
			}
			hours, err := billing.Periods(d.Start, d.End, billing.Hour, loc)
			if err != nil {
				t.Fatal(err)
			}
			checkPeriods(t, hours, billing.Hour, loc)
			if !hours[0].Start.Equal(d.Start) || !hours[len(hours)-1].End.Equal(d.End) {
				t.Fatalf("the hours span %v to %v, not the day %v", hours[0].Start, hours[len(hours)-1].End, d)
			}
			for i, h := range c.hours {
				got := hours[i]
				if !got.Start.Equal(utc(h.start)) || got.Start.Format("15:04 MST") != h.local || got.Duration() != h.dur {
					t.Errorf("hour %d is %v (%s, %v), want from %s (%s) for %v",
						i, got, got.Start.Format("15:04 MST"), got.Duration(), h.start, h.local, h.dur)
				}
			}
		})
	}
}

func TestAlignRepeatedAndMissingHours(t *testing.T) {
	ny := load(t, "America/New_York")
	for in, want := range map[string]string{
		"2024-11-03T05:30:00Z": "2024-11-03T05:00:00Z", // 01:30 EDT
		"2024-11-03T06:30:00Z": "2024-11-03T05:00:00Z", // 01:30 EST, the repeat
		"2024-11-03T07:00:00Z": "2024-11-03T07:00:00Z", // 02:00 EST
		"2024-03-10T06:59:59Z": "2024-03-10T06:00:00Z", // 01:59:59 EST
		"2024-03-10T07:00:00Z": "2024-03-10T07:00:00Z", // 03:00 EDT
	} {
		if got := billing.Align(utc(in), billing.Hour, ny); !got.Equal(utc(want)) {
			t.Errorf("Align(%s, hour, New York) = %v, want %s", in, got.UTC(), want)
		}
	}
	// time.Date picks either reading of a repeated time; Align must not care.
	if got := billing.Align(time.Date(2024, 11, 3, 1, 45, 0, 0, ny), billing.Hour, ny); !got.Equal(utc("2024-11-03T05:00:00Z")) {
		t.Errorf("Align(01:45 on 3 November, hour) = %v", got.UTC())
	}
	// A nil location is UTC.
	if got := billing.Align(utc("2024-05-05T05:05:05Z"), billing.Day, nil); !got.Equal(utc("2024-05-05T00:00:00Z")) || got.Location() != time.UTC {
		t.Errorf("Align(nil location) = %v", got)
	}
}

// Samoa skipped 30 December 2011: that day has no period.
func TestPeriodsSkippedDay(t *testing.T) {
	apia := load(t, "Pacific/Apia")
	ps, err := billing.Periods(time.Date(2011, 12, 29, 12, 0, 0, 0, apia), time.Date(2012, 1, 1, 0, 0, 0, 0, apia), billing.Day, apia)
	if err != nil {
		t.Fatal(err)
	}
	checkPeriods(t, ps, billing.Day, apia)
	var got []string
	for _, p := range ps {
		got = append(got, p.Start.Format("Jan 2"))
		if p.Duration() != 24*time.Hour {
			t.Errorf("%v lasts %v", p, p.Duration())
		}
	}
	if fmt.Sprint(got) != "[Dec 29 Dec 31]" {
		t.Fatalf("days %v, want [Dec 29 Dec 31]", got)
	}
}

func TestPeriodsFixedOffsets(t *testing.T) {
	minus := time.FixedZone("", -(3*3600 + 30*60))
	ps, err := billing.Periods(utc("2024-06-01T02:00:00Z"), utc("2024-06-01T04:00:00Z"), billing.Day, minus)
	if err != nil {
		t.Fatal(err)
	}
	want := []billing.Period{
		{utc("2024-05-31T03:30:00Z"), utc("2024-06-01T03:30:00Z")},
		{utc("2024-06-01T03:30:00Z"), utc("2024-06-02T03:30:00Z")},
	}
	if !samePeriods(ps, want) {
		t.Fatalf("got %v, want %v", ps, want)
	}
	checkPeriods(t, ps, billing.Day, minus)

	kathmandu, err := billing.FixedOffset(345)
	if err != nil {
		t.Fatal(err)
	}
	if kathmandu.String() != "UTC+05:45" {
		t.Errorf("FixedOffset(345) is named %q", kathmandu)
	}
	if got := billing.Align(utc("2024-01-14T19:14:59Z"), billing.Hour, kathmandu); !got.Equal(utc("2024-01-14T18:15:00Z")) {
		t.Errorf("Align(hour, +05:45) = %v", got.UTC())
	}
	if loc, err := billing.FixedOffset(-210); err != nil || loc.String() != "UTC-03:30" {
		t.Errorf("FixedOffset(-210) = %v, %v", loc, err)
	}
	if loc, err := billing.FixedOffset(0); err != nil || loc != time.UTC {
		t.Errorf("FixedOffset(0) = %v, %v", loc, err)
	}
	for _, m := range []int{1440, -1440, 100000} {
		_, err := billing.FixedOffset(m)
		wantCode(t, err, abacus.CodeInvalid, "time_offset")
	}
}

func TestPeriodsErrors(t *testing.T) {
	from := utc("2024-01-01T00:00:00Z")
	_, err := billing.Periods(from, from.Add(time.Hour), "AGE", time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "period")
	_, err = billing.Periods(from, from, billing.Day, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "to")
	_, err = billing.Periods(from, from.Add(-time.Hour), billing.Day, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "to")
	_, err = billing.Periods(time.Time{}, from, billing.Day, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "from")
	_, err = billing.Periods(from, time.Time{}, billing.Day, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "to")

	// Exactly MaxPeriods is fine, one more is not.
	ps, err := billing.Periods(from, from.Add(billing.MaxPeriods*time.Hour), billing.Hour, time.UTC)
	if err != nil || len(ps) != billing.MaxPeriods {
		t.Fatalf("%d periods, %v", len(ps), err)
	}
	_, err = billing.Periods(from, from.Add(billing.MaxPeriods*time.Hour+time.Nanosecond), billing.Hour, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "to")
	_, err = billing.Periods(from, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), billing.Hour, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "to")
	// Years have no such problem.
	if _, err := billing.Periods(from, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), billing.Year, time.UTC); err != nil {
		t.Fatal(err)
	}
	// A period ending in the year 10000, in the zone or in UTC, has an end
	// RFC 3339 cannot write (QA: statements printed 10000-01-01T00:00:00Z).
	lastDay := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if _, err := billing.Periods(lastDay, lastDay.Add(time.Hour), billing.Hour, time.UTC); err != nil {
		t.Fatal(err)
	}
	_, err = billing.Periods(lastDay, lastDay.Add(time.Hour), billing.Day, time.UTC)
	wantCode(t, err, abacus.CodeInvalid, "to")
	minus := time.FixedZone("-01:00", -3600)
	lateHour := time.Date(9999, 12, 31, 22, 0, 0, 0, minus) // ends at 23:00 there, in the year 10000 in UTC
	if _, err := billing.Periods(lateHour.Add(-time.Hour), lateHour, billing.Hour, minus); err != nil {
		t.Fatal(err)
	}
	_, err = billing.Periods(lateHour, lateHour.Add(time.Hour), billing.Hour, minus)
	wantCode(t, err, abacus.CodeInvalid, "to")

	defer func() {
		if recover() == nil {
			t.Error("Align with a bad unit did not panic")
		}
	}()
	billing.Align(from, "fortnight", time.UTC)
}

// zones are the locations the properties run in: DST in both hemispheres,
// half-hour and 45-minute offsets and DST shifts, changes at midnight, a
// skipped day, and fixed offsets.
func zones(t testing.TB) []*time.Location {
	var out []*time.Location
	for _, name := range []string{
		"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu",
		"Pacific/Chatham", "America/Sao_Paulo", "Pacific/Apia", "Asia/Tehran", "America/Havana",
	} {
		out = append(out, load(t, name))
	}
	return append(out, time.FixedZone("-09:30", -(9*3600+30*60)), time.FixedZone("+05:07", 5*3600+7*60))
}

// drawInstant returns an instant between 1990 and 2040, often within
// hours of a clock change in loc, and a span from a nanosecond to 60 days.
// (rapid's integers lean to the low end of their range, so the spread
// comes from a drawn seed.)
func drawInstant(t *rapid.T, loc *time.Location) (time.Time, time.Duration) {
	rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
	lo, hi := utc("1990-01-01T00:00:00Z").Unix(), utc("2040-01-01T00:00:00Z").Unix()
	at := time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(2)*rng.Int64N(1e9))
	if rapid.Bool().Draw(t, "near a change") {
		if _, end := at.In(loc).ZoneBounds(); !end.IsZero() {
			at = end.Add(time.Duration(rng.Int64N(6*3600)-3*3600) * time.Duration(rng.Int64N(2)) * time.Second)
		}
	}
	span := time.Duration(math.Exp(rng.Float64() * math.Log(float64(60*24*time.Hour))))
	return at, max(span, 1)
}

func TestAlignProperties(t *testing.T) {
	locs := zones(t)
	units := []billing.Unit{billing.Hour, billing.Day, billing.Week, billing.Month, billing.Year}
	rapid.Check(t, func(t *rapid.T) {
		loc := rapid.SampledFrom(locs).Draw(t, "loc")
		unit := rapid.SampledFrom(units).Draw(t, "unit")
		at, span := drawInstant(t, loc)
		t.Logf("at %v (%v), span %v", at.UTC(), at.In(loc), span)

		s := billing.Align(at, unit, loc)
		if s.After(at) || s.Location() != loc {
			t.Fatalf("Align(%v) = %v", at, s)
		}
		ps, err := billing.Periods(at, at.Add(span), unit, loc)
		if err != nil {
			t.Fatal(err)
		}
		checkPeriods(t, ps, unit, loc)
		first, last := ps[0], ps[len(ps)-1]
		if !first.Start.Equal(s) || !first.Contains(at) || !last.Contains(at.Add(span-1)) {
			t.Fatalf("periods %v..%v do not tightly cover [%v, %v)", first, last, at, at.Add(span))
		}
		if w := billing.Within(at, unit, loc); !w.Start.Equal(first.Start) || !w.End.Equal(first.End) {
			t.Fatalf("Within(%v) = %v, want %v, the period Periods gives", at, w, first)
		}
		// Periods nest: every boundary of a unit is one of each shorter unit.
		for _, shorter := range units {
			if shorter == unit {
				break
			}
			if shorter == billing.Week {
				continue
			}
			if got := billing.Align(s, shorter, loc); !got.Equal(s) {
				t.Fatalf("%s period starts at %v, inside the %s from %v", unit, s, shorter, got)
			}
		}
	})
}

// tzif returns a minimal TZif (version 1) zone: offset before at every
// instant before the transition at at, offset after from then on.
func tzif(at time.Time, before, after int32) []byte {
	be32 := func(b []byte, v int32) []byte { return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
	b := append([]byte("TZif"), make([]byte, 16)...)
	for _, n := range []int32{0, 0, 0, 1, 2, 4} { // isut, isstd, leap, time, type, char counts
		b = be32(b, n)
	}
	b = be32(b, int32(at.Unix()))
	b = append(b, 1)                  // the transition is to type 1
	b = append(be32(b, before), 0, 0) // type 0: not DST, name at 0
	b = append(be32(b, after), 0, 2)  // type 1: not DST, name at 2
	return append(b, "A\x00B\x00"...)
}

// No zone in the tz database moves its clocks back across a boundary
// (they change at a boundary, such as midnight, or inside a period), but
// the rule copes: here clocks go back from 00:30 to 23:30, so 10 January
// begins at the first midnight and the repeated half hour of 9 January
// is part of it.
func TestPeriodsFallBackAcrossMidnight(t *testing.T) {
	loc, err := time.LoadLocationFromTZData("Test/Odd", tzif(utc("2024-01-09T23:30:00Z"), 3600, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := utc("2024-01-09T23:45:00Z").In(loc).Format("Jan 2 15:04 MST"); got != "Jan 9 23:45 B" {
		t.Fatalf("the test zone reads %s", got)
	}
	days, err := billing.Periods(utc("2024-01-09T12:00:00Z"), utc("2024-01-10T12:00:00Z"), billing.Day, loc)
	if err != nil {
		t.Fatal(err)
	}
	checkPeriods(t, days, billing.Day, loc)
	want := []billing.Period{
		{utc("2024-01-08T23:00:00Z"), utc("2024-01-09T23:00:00Z")},
		{utc("2024-01-09T23:00:00Z"), utc("2024-01-11T00:00:00Z")},
	}
	if !samePeriods(days, want) {
		t.Fatalf("days %v, want %v", days, want)
	}
	if got := billing.Align(utc("2024-01-09T23:45:00Z"), billing.Day, loc); !got.Equal(utc("2024-01-09T23:00:00Z")) {
		t.Errorf("Align(23:45 B, day) = %v, want 10 January", got)
	}
	if got := billing.Within(utc("2024-01-09T23:45:00Z"), billing.Day, loc); !samePeriods([]billing.Period{got}, want[1:]) {
		t.Errorf("Within(23:45 B, day) = %v, want 10 January", got)
	}
	hours, err := billing.Periods(days[0].Start, days[1].End, billing.Hour, loc)
	if err != nil {
		t.Fatal(err)
	}
	checkPeriods(t, hours, billing.Hour, loc)
	if h := hours[24]; !h.Start.Equal(days[1].Start) || h.Duration() != 2*time.Hour {
		t.Errorf("the first hour of 10 January is %v", h)
	}
}

func TestParseZone(t *testing.T) {
	for name, want := range map[string]string{"": "UTC", "UTC": "UTC", "Asia/Kathmandu": "Asia/Kathmandu", "America/New_York": "America/New_York"} {
		loc, err := billing.ParseZone(name)
		if err != nil || loc.String() != want {
			t.Errorf("ParseZone(%q) = %v, %v, want %s", name, loc, err, want)
		}
	}
	for _, name := range []string{"Mars/Olympus_Mons", "Local", "local", "localtime", "posixrules", "posix/Europe/Berlin", "right/UTC",
		"../etc/passwd", "/usr/share/zoneinfo/UTC", "Europe/Berlin\x00"} {
		_, err := billing.ParseZone(name)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Code != abacus.CodeInvalid || ae.Field != "time_zone" {
			t.Errorf("ParseZone(%q): %v, want an invalid time_zone", name, err)
		}
	}
	// A long name is clipped between characters, not inside one (QA).
	if _, err := billing.ParseZone(strings.Repeat("é", 40)); err == nil || !utf8.ValidString(err.Error()) {
		t.Errorf("a long name: %q", err)
	}
}

// TestDayStart: a local date starts at its midnight, or where the clocks
// skip midnight, when they start again; time.Date gave an instant of the
// day before (QA: Havana's statement of 8 March 2026 began on the 7th).
func TestDayStart(t *testing.T) {
	for _, c := range []struct {
		zone string
		date string
		want string
	}{
		{"America/Havana", "2026-03-08", "2026-03-08T01:00:00-04:00"},
		{"America/Santiago", "2026-09-06", "2026-09-06T01:00:00-03:00"},
		{"Europe/Berlin", "2026-03-29", "2026-03-29T00:00:00+01:00"},
		{"America/New_York", "2026-11-01", "2026-11-01T00:00:00-04:00"},
		{"Asia/Kathmandu", "2026-11-02", "2026-11-02T00:00:00+05:45"},
		{"UTC", "2026-13-01", "2027-01-01T00:00:00Z"},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		var y, m, d int
		fmt.Sscanf(c.date, "%d-%d-%d", &y, &m, &d)
		if got := billing.DayStart(y, time.Month(m), d, loc).Format(time.RFC3339); got != c.want {
			t.Errorf("%s in %s starts at %s, want %s", c.date, c.zone, got, c.want)
		}
	}
}
