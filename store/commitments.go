package store

import (
	"fmt"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// CommitmentRows is what AddCommitment needs of a store's write
// transaction.
type CommitmentRows interface {
	// Terms returns each stored commitment of c's term (account, months,
	// from and until): its id and its end now.
	Terms(c *abacus.Commitment) ([]StoredTerm, error)
	// ChargedIn returns the time of the account's last event charged at a
	// price in [from, to) (first: its first), or zero if it has none there.
	ChargedIn(acct abacus.AccountID, from, to time.Time, first bool) (time.Time, error)
	// Insert stores c's term and returns its id.
	Insert(c *abacus.Commitment) (int64, error)
	// InsertEnd records end as the end of the commitment id.
	InsertEnd(id int64, end time.Time) error
}

// StoredTerm is a stored commitment and its end now.
type StoredTerm struct {
	ID  int64
	End time.Time
}

// AddCommitment stores commitments[i], c, or, when commitments of its
// term are stored, records c's end for each that does not end then. It
// refuses, before writing anything of c, one whose account has an event
// charged at a price in the time whose charges it would change: an end
// charges no event again.
func AddCommitment(rows CommitmentRows, i int, c *abacus.Commitment, zone *time.Location) error {
	terms, err := rows.Terms(c)
	if err != nil {
		return err
	}
	if len(terms) == 0 {
		latest, err := rows.ChargedIn(c.Account, c.From, commitmentReach(c, zone), false)
		if err != nil {
			return err
		}
		if !latest.IsZero() {
			return commitmentTooEarly(i, c, latest, zone)
		}
		id, err := rows.Insert(c)
		if err != nil || c.End().Equal(c.Until) {
			return err
		}
		return rows.InsertEnd(id, c.End())
	}
	var moving []int64
	for _, s := range terms {
		if s.End.Equal(c.End()) {
			continue
		}
		from, to, later := endSpan(c, s.End, zone)
		at, err := rows.ChargedIn(c.Account, from, to, later)
		if err != nil {
			return err
		}
		if !at.IsZero() {
			return endRefused(i, c, s.End, at, zone)
		}
		moving = append(moving, s.ID)
	}
	for _, id := range moving {
		if err := rows.InsertEnd(id, c.End()); err != nil {
			return err
		}
	}
	return nil
}

// commitmentReach is the end of the time whose charges c's discounts
// decide: its End(), or, when that falls within a billing month (of zone), the
// month's end, since a price that counts usage (graduated, volume,
// package) takes the discount in force at its month's start for the whole
// month.
func commitmentReach(c *abacus.Commitment, zone *time.Location) time.Time {
	return reach(c.End(), zone)
}

// reach is the end of the time whose charges a commitment ending at end
// decides: end itself, or, when it falls within a month, that month's end,
// as a price that counts usage takes the discount of its month's start for
// the whole month.
func reach(end time.Time, zone *time.Location) time.Time {
	start, monthEnd := rating.Month(end, zone)
	if start.Equal(end) {
		return end.UTC()
	}
	return monthEnd
}

// endSpan is the time whose charges moving a stored commitment's end
// from was to c.End() would change: from the earlier of the two to the
// reach of the later. No event of the account charged at a price may fall
// in it, as an end charges nothing again. Moving the end later, the first
// such event bounds how far it may go; moving it earlier, the last one how
// early.
func endSpan(c *abacus.Commitment, was time.Time, zone *time.Location) (from, to time.Time, later bool) {
	lo, hi := was, c.End()
	later = hi.After(lo)
	if !later {
		lo, hi = hi, lo
	}
	return lo.UTC(), reach(hi, zone), later
}

// endRefused is the error of moving the end of commitments[i]
// (stored ending at was) over the time of an event of its account charged
// at a price (at, the first of them after was when the end moves later,
// else the last).
func endRefused(i int, c *abacus.Commitment, was, at time.Time, zone *time.Location) error {
	from, to, later := endSpan(c, was, zone)
	stored := "stored end " + was.UTC().Format(time.RFC3339Nano)
	if was.Equal(c.Until) {
		stored = "term's end " + was.UTC().Format(time.RFC3339Nano)
	}
	month := ""
	if end := c.End(); later && !to.Equal(end) || !later && !to.Equal(was) {
		month = fmt.Sprintf(" (for a price that counts usage, %s: it takes the discount of its month's start for the whole month)", to.In(zone).Format(time.RFC3339))
	}
	const rule = "an end moves only over time in which the account has no event charged at a price (whether the price has discounts or not, a voided event too), as an end charges no event again"
	if later {
		limit := "so its end cannot move later"
		if start, _ := rating.Month(at, zone); start.After(from) {
			limit = "so end it at " + start.In(zone).Format(time.RFC3339) + " at the latest"
		}
		return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].ended", i),
			"account %s has an event charged at %s, at or after the commitment's %s and before this end %s%s, charged without its discount: %s; %s",
			c.Account, at.UTC().Format(time.RFC3339Nano), stored, c.End().UTC().Format(time.RFC3339Nano), month, rule, limit)
	}
	if !at.Before(was) {
		// In the month of a mid-month stored end, after it: every earlier
		// end takes that month's discount from a counted price.
		return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].ended", i),
			"account %s has an event charged at %s, at or after the commitment's %s but in its month, whose discount a price that counts usage takes whole, "+
				"and an earlier end would take it back from that month: %s; so its end cannot move earlier",
			c.Account, at.UTC().Format(time.RFC3339Nano), stored, rule)
	}
	return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].ended", i),
		"account %s has an event charged at %s, at or after this end %s and before the commitment's %s%s, charged while it ran: %s; end it after that event",
		c.Account, at.UTC().Format(time.RFC3339Nano), c.End().UTC().Format(time.RFC3339Nano), stored, month, rule)
}

// commitmentTooEarly is the error of adding commitments[i] over a time
// in which the account has a charged event (latest, the last of them):
// its discount would apply to events already charged without it.
func commitmentTooEarly(i int, c *abacus.Commitment, latest time.Time, zone *time.Location) error {
	end, endField := c.End(), "until"
	if !c.Ended.IsZero() {
		endField = "ended"
	}
	if !latest.Before(end) {
		// Only the month of its end reaches the event: the end is at fault.
		start, _ := rating.Month(end, zone)
		return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].%s", i, endField),
			"account %s has an event charged at %s, after this commitment's end %s but in the same month, charged without its discount, "+
				"and a price that counts usage takes the discount of its month's start for the whole month: end it at %s, the month's start",
			c.Account, latest.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano), start.In(zone).Format(time.RFC3339))
	}
	reach := ""
	if r := commitmentReach(c, zone); !r.Equal(end) {
		reach = fmt.Sprintf(" (or before %s: a price that counts usage takes the discount of its month's start for the whole month)", r.In(zone).Format(time.RFC3339))
	}
	return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].from", i),
		"account %s has an event charged at %s, within %s to %s%s, without this commitment's discount: start it after that event",
		c.Account, latest.UTC().Format(time.RFC3339Nano), c.From.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano), reach)
}
