// Package billing turns usage rollups into periods and statements.
//
// Everything here is pure: no clock, no store, no I/O beyond the Source a
// caller hands to Build.
//
// # Periods and local time
//
// A period is a half-open interval [Start, End) of unit hour, day, week,
// month or year whose boundaries are local wall-clock boundaries in a
// time.Location: midnight, the first of the month, the top of the hour.
// A day across a DST change is therefore 23 or 25 hours long (23½ or 24½
// on Lord Howe Island), and the hours of Asia/Kathmandu (+05:45) start at
// a quarter past the UTC hour.
//
// Local clocks jump. The rule that keeps periods contiguous is:
//
//	A period whose nominal local start is X starts at the first instant
//	at which the clocks in loc read X or later.
//
// So:
//
//   - A local time that does not exist (spring forward) starts its period
//     at the end of the gap. In America/New_York on 10 March 2024 the
//     clocks go from 01:59:59 EST to 03:00 EDT: the hour period "02:00"
//     is empty and is left out, the 01:00 EST hour is followed by the
//     03:00 EDT hour. Where midnight does not exist (America/Sao_Paulo,
//     4 November 2018) the day starts at 01:00. A day skipped entirely
//     (Pacific/Apia, 30 December 2011) has no period.
//   - A local time that repeats (fall back) starts its period at its
//     first occurrence, and the repeat belongs to the period already
//     running. In America/New_York on 3 November 2024 the hour period
//     "01:00" runs from 01:00 EDT to 02:00 EST and lasts two hours.
//
// Hence every period's Start, read in loc, shows a unique local time, no
// two periods overlap, none leave a gap, and every boundary of a unit is
// also a boundary of each shorter unit (weeks aside): an hour never
// straddles midnight, a day never straddles a month. Weeks start on Monday
// (ISO 8601).
//
// A zone that sets its clocks back across a boundary (America/St_Johns
// did until 2006, from 00:01 to 23:01) repeats the time before it: the
// repeated 23:01 to midnight belongs to the new day, which began at the
// first midnight.
package billing

import (
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
)

// Unit is the length of a period.
type Unit string

// The period units.
const (
	Hour  Unit = "hour"
	Day   Unit = "day"
	Week  Unit = "week"
	Month Unit = "month"
	Year  Unit = "year"
)

// MaxPeriods is the most periods Periods and Build will produce for one
// range; a longer range is refused instead of eating memory.
const MaxPeriods = 100_000

// ParseUnit reads a period unit. It ignores case, so Jelastic's HOUR, DAY,
// WEEK, MONTH and YEAR are accepted as well. Jelastic's AGE (one bucket for
// the whole range) is not a unit and is refused.
func ParseUnit(s string) (Unit, error) {
	u := Unit(strings.ToLower(s))
	if !u.valid() {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return "", abacus.Errorf(abacus.CodeInvalid, "period", "%q is not one of hour, day, week, month, year", s)
	}
	return u, nil
}

func (u Unit) valid() bool {
	switch u {
	case Hour, Day, Week, Month, Year:
		return true
	}
	return false
}

// Period is the half-open interval [Start, End). Both are in the location
// the period was computed in.
type Period struct {
	Start, End time.Time
}

// Contains reports whether t lies in [Start, End).
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.Start) && t.Before(p.End)
}

// Duration returns End - Start.
func (p Period) Duration() time.Duration { return p.End.Sub(p.Start) }

// Periods returns the consecutive periods of unit that cover [from, to) in
// loc: the first starts at the period boundary at or before from, the last
// ends at or after to. Periods that local time skips entirely are left out
// (see the package documentation), so the result has no gaps: each
// period's End is the next one's Start. A nil loc means UTC.
//
// It refuses an unknown unit (field "period"), a zero from or to, a to not
// after from (field "to"), and a range of more than MaxPeriods periods
// (field "to").
func Periods(from, to time.Time, unit Unit, loc *time.Location) ([]Period, error) {
	if !unit.valid() {
		return nil, abacus.Errorf(abacus.CodeInvalid, "period", "%q is not one of hour, day, week, month, year", string(unit))
	}
	if from.IsZero() {
		return nil, abacus.Errorf(abacus.CodeInvalid, "from", "is required")
	}
	if to.IsZero() {
		return nil, abacus.Errorf(abacus.CodeInvalid, "to", "is required")
	}
	if !to.After(from) {
		return nil, abacus.Errorf(abacus.CodeInvalid, "to", "%s is not after from (%s)", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	loc = orUTC(loc)
	key := alignKey(from, unit, loc)
	start := boundary(key, loc)
	var out []Period
	for skipped := 0; start.Before(to); {
		if len(out) == MaxPeriods || skipped > MaxPeriods {
			return nil, abacus.Errorf(abacus.CodeInvalid, "to", "%s to %s spans more than %d %s periods; use a longer period or a shorter range",
				from.Format(time.RFC3339), to.Format(time.RFC3339), MaxPeriods, unit)
		}
		key = nextKey(key, unit)
		end := boundary(key, loc)
		switch {
		case end.Equal(start):
			skipped++ // local time skips this period
			continue
		case end.Before(start):
			// Cannot happen: the first instant reading X or later never
			// comes before the first reading an earlier X.
			return nil, abacus.Errorf(abacus.CodeInternal, "", "period boundaries in %s go backwards at %s", loc, start.Format(time.RFC3339))
		}
		out = append(out, Period{Start: start, End: end})
		start = end
	}
	// RFC 3339 writes years of four digits: a period ending in the year
	// 10000 printed an end no client could read (QA).
	if last := out[len(out)-1]; last.End.Year() > 9999 || last.End.UTC().Year() > 9999 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "to", "the last %s period, from %s, ends in the year 10000, which RFC 3339 cannot write: end by its start, or use shorter periods",
			unit, last.Start.Format(time.RFC3339))
	}
	return out, nil
}

// Align returns the start of the period of unit containing t, in loc. A
// nil loc means UTC. Align panics if unit is not a valid Unit: parse
// untrusted input with ParseUnit.
func Align(t time.Time, unit Unit, loc *time.Location) time.Time {
	if !unit.valid() {
		panic("billing: Align with invalid unit " + string(unit))
	}
	loc = orUTC(loc)
	return boundary(alignKey(t, unit, loc), loc)
}

// Within returns the period of unit that contains t, in loc (nil: UTC),
// by the same rule as Periods. It panics if unit is not a valid Unit.
func Within(t time.Time, unit Unit, loc *time.Location) Period {
	if !unit.valid() {
		panic("billing: Within with invalid unit " + string(unit))
	}
	loc = orUTC(loc)
	key := alignKey(t, unit, loc)
	p := Period{Start: boundary(key, loc)}
	for range 100 { // a period local time skips entirely ends where it starts
		key = nextKey(key, unit)
		if p.End = boundary(key, loc); p.End.After(p.Start) {
			break
		}
	}
	return p
}

// alignKey returns the nominal local start (as a UTC wall time) of the
// period containing t.
func alignKey(t time.Time, unit Unit, loc *time.Location) time.Time {
	key := truncWall(wallOf(t, loc), unit)
	// The clock at t reads at least key, so the period of key starts at or
	// before t. But after clocks fell back across a boundary (from 00:30
	// back from 00:30 to 23:30, say) the next period may have begun already.
	for range 100 { // once at most in practice; bounded against time overflow
		next := nextKey(key, unit)
		if boundary(next, loc).After(t) {
			break
		}
		key = next
	}
	return key
}

// A wall time is a local clock reading stored as a time.Time in UTC, so
// that arithmetic on it is calendar arithmetic, free of DST.

// wallOf returns the reading of loc's clocks at t.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, mo, d := l.Date()
	h, mi, s := l.Clock()
	return time.Date(y, mo, d, h, mi, s, l.Nanosecond(), time.UTC)
}

// truncWall returns the nominal start of the period of unit containing the
// wall time w.
func truncWall(w time.Time, unit Unit) time.Time {
	y, mo, d := w.Date()
	switch unit {
	case Hour:
		return time.Date(y, mo, d, w.Hour(), 0, 0, 0, time.UTC)
	case Day:
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	case Week:
		back := (int(w.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, mo, d-back, 0, 0, 0, 0, time.UTC)
	case Month:
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
	default: // Year
		return time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
	}
}

// nextKey returns the nominal start of the period after the one starting
// at the wall time key.
func nextKey(key time.Time, unit Unit) time.Time {
	switch unit {
	case Hour:
		return key.Add(time.Hour)
	case Day:
		return key.AddDate(0, 0, 1)
	case Week:
		return key.AddDate(0, 0, 7)
	case Month:
		return key.AddDate(0, 1, 0) // key is the first, so no overflow into the month after
	default: // Year
		return key.AddDate(1, 0, 0)
	}
}

// DayStart returns the first instant of the local date y-m-d in loc (nil:
// UTC): its midnight, or, where clocks skip midnight (America/Havana's
// spring), the end of the gap. time.Date would give an instant of the day
// before there. Out-of-range months and days normalize as in time.Date.
func DayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	return boundary(time.Date(y, m, d, 0, 0, 0, 0, time.UTC), orUTC(loc))
}

// boundary returns the first instant at which loc's clocks read the wall
// time w or later, in loc.
func boundary(w time.Time, loc *time.Location) time.Time {
	y, mo, d := w.Date()
	h, mi, s := w.Clock()
	// time.Date is right for a time that exists once. For a time that
	// repeats or does not exist it picks either of the two offsets around
	// the transition, without saying which; sort that out below.
	c := time.Date(y, mo, d, h, mi, s, w.Nanosecond(), loc)
	switch cw := wallOf(c, loc); {
	case cw.After(w):
		// w falls in a gap and c lies after it, read with the offset from
		// before the gap: the gap ends where c's zone begins.
		start, _ := c.ZoneBounds()
		if !start.IsZero() {
			return start.In(loc)
		}
	case cw.Before(w):
		// w falls in a gap and c lies before it: the gap starts where
		// c's zone ends.
		_, end := c.ZoneBounds()
		if !end.IsZero() {
			return end.In(loc)
		}
	default:
		// w exists. If the zone before c's also reads w at some instant,
		// that is an earlier occurrence (fall back): take the first.
		for {
			start, _ := c.ZoneBounds()
			if start.IsZero() {
				break
			}
			_, off := start.Add(-time.Nanosecond).In(loc).Zone()
			e := w.Add(-time.Duration(off) * time.Second)
			if !e.Before(start) || !wallOf(e, loc).Equal(w) {
				break
			}
			c = e.In(loc)
		}
	}
	return c
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// FixedOffset returns the location minutes east of UTC, with no DST, named
// like "UTC+05:45". It is how Jelastic's timeOffset is read: its unit and
// sign are undocumented, and seed-apis §2.5 assumes minutes east of UTC.
// Offsets of a day or more are refused (field "time_offset"). An offset
// that is not a whole number of quarter hours is accepted here, but Build
// refuses it, since usage is summed in quarter hours of UTC.
func FixedOffset(minutes int) (*time.Location, error) {
	if minutes <= -24*60 || minutes >= 24*60 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "time_offset", "%d minutes is not between -1439 and 1439", minutes)
	}
	if minutes == 0 {
		return time.UTC, nil
	}
	return time.FixedZone(offsetName(minutes*60), minutes*60), nil
}

// offsetName formats an offset in seconds as "UTC+05:45" (or
// "UTC-00:00:30" when it has seconds).
func offsetName(sec int) string {
	sign := byte('+')
	if sec < 0 {
		sign, sec = '-', -sec
	}
	b := []byte{'U', 'T', 'C', sign}
	b = append2(b, sec/3600)
	b = append(b, ':')
	b = append2(b, sec/60%60)
	if sec%60 != 0 {
		b = append(b, ':')
		b = append2(b, sec%60)
	}
	return string(b)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
