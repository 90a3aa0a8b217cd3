package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
)

// priceParams is how both stores keep the model-specific parts of a price:
// one JSON column, with every decimal as a string so nothing passes
// through a float.
type priceParams struct {
	CachedPrice *decimal.Decimal            `json:"cached_price,omitempty"`
	Tiers       []abacus.PriceTier          `json:"tiers,omitempty"`
	Package     int64                       `json:"package,omitempty"`
	Levels      []abacus.BurstPrice         `json:"levels,omitempty"`
	Discounts   []abacus.CommitmentDiscount `json:"discounts,omitempty"`
	License     *abacus.License             `json:"license,omitempty"`
}

// EncodePriceParams returns the JSON column of a price.
func EncodePriceParams(p *abacus.Price) (string, error) {
	pp := priceParams{Tiers: p.Tiers, Package: p.Package, Levels: p.Levels, Discounts: p.Discounts, License: p.License}
	if p.CachedPrice.Valid {
		pp.CachedPrice = &p.CachedPrice.Decimal
	}
	b, err := json.Marshal(pp)
	return string(b), err
}

// DecodePriceParams fills a price's model-specific parts from its column.
func DecodePriceParams(s string, p *abacus.Price) error {
	var pp priceParams
	if err := json.Unmarshal([]byte(s), &pp); err != nil {
		return fmt.Errorf("store: price %d: reading its parameters: %w", p.ID, err)
	}
	p.Tiers, p.Package, p.Levels, p.Discounts, p.License = pp.Tiers, pp.Package, pp.Levels, pp.Discounts, pp.License
	if pp.CachedPrice != nil {
		p.CachedPrice = decimal.NewNullDecimal(*pp.CachedPrice)
	}
	return nil
}

// FormatIDs writes the price ids that rated an event as both stores keep
// them: comma-separated.
func FormatIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// ParseIDs reads what FormatIDs wrote.
func ParseIDs(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	var ids []int64
	for _, p := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store: bad price id list %q", s)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// PriceVersionTaken is the error of adding prices[i] where the book has a
// version with its key, currency, valid_from and revision: a stored price
// is never edited, and two would make the book ambiguous.
func PriceVersionTaken(i int, p *abacus.Price) error {
	revision, advice := "", "prices are never edited: add a version with a later valid_from"
	if p.Revision > 0 { // a correction, which lost to another
		revision, advice = fmt.Sprintf(" at revision %d", p.Revision), "another correction stored it after this one read the book: see abacus prices list --all, and run this one again if the book should still say what it does"
	}
	return versionTaken{abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("prices[%d]", i),
		"sku_type %d, sku_kind %d, resource_id %q, sku_unit_type %s has a %s version valid from %s%s already; %s",
		p.SKUType, p.SKUKind, p.ResourceID, p.UnitType, p.Currency, p.ValidFrom.UTC().Format(time.RFC3339Nano), revision, advice)}
}

// versionTaken marks PriceVersionTaken's error, which an import that read
// the book before another stored the same version gets.
type versionTaken struct{ error }

func (v versionTaken) Unwrap() error { return v.error }

// IsPriceVersionTaken tells whether err is PriceVersionTaken's: another
// import stored a version of the same key, currency, valid_from and
// revision after the book was read. Read again, the book says whether it
// is the same version (nothing to add) or another (a real conflict).
func IsPriceVersionTaken(err error) bool {
	return errors.As(err, new(versionTaken))
}

// ErrRolledBack is what a dry run of a change returns from its
// transaction where it would have committed, so that the transaction is
// rolled back; the store's method answers nil in its place.
var ErrRolledBack = errors.New("store: a dry run, rolled back")

// PriceTooEarly is the error of adding prices[i] to take effect at or
// before latest, the time of the latest event charged at the version in
// force just before its valid_from: those events paid that version, and the new
// one would become the price of their time without charging them again.
func PriceTooEarly(i int, p *abacus.Price, latest time.Time) error {
	return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("prices[%d].valid_from", i),
		"%s is not after %s, the time of the latest event charged at the version of sku_type %d, sku_kind %d, resource_id %q, sku_unit_type %s in %s "+
			"in force then; those events paid that version, and one taking effect before them would not charge them again: give it a later valid_from, "+
			"or import with --correct to reprice them",
		p.ValidFrom.UTC().Format(time.RFC3339Nano), latest.UTC().Format(time.RFC3339Nano), p.SKUType, p.SKUKind, p.ResourceID, p.UnitType, p.Currency)
}

// CommitmentReach is the end of the time whose charges c's discounts
// decide: its End(), or, when that falls within a billing month (of zone), the
// month's end, since a price that counts usage (graduated, volume,
// package) takes the discount in force at its month's start for the whole
// month.
func CommitmentReach(c *abacus.Commitment, zone *time.Location) time.Time {
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

// EndSpan is the time whose charges moving a stored commitment's end
// from was to c.End() would change: from the earlier of the two to the
// reach of the later. No event of the account charged at a price may fall
// in it, as an end charges nothing again. Moving the end later, the first
// such event bounds how far it may go (Later); moving it earlier, the last
// one how early.
func EndSpan(c *abacus.Commitment, was time.Time, zone *time.Location) (from, to time.Time, later bool) {
	lo, hi := was, c.End()
	later = hi.After(lo)
	if !later {
		lo, hi = hi, lo
	}
	return lo.UTC(), reach(hi, zone), later
}

// CommitmentEndRefused is the error of moving the end of commitments[i]
// (stored ending at was) over the time of an event of its account charged
// at a price (at, the first of them after was when the end moves later,
// else the last).
func CommitmentEndRefused(i int, c *abacus.Commitment, was, at time.Time, zone *time.Location) error {
	from, to, later := EndSpan(c, was, zone)
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
			"account %s has an event charged at %s, after the commitment's %s and before this end %s%s, charged without its discount: %s; %s",
			c.Account, at.UTC().Format(time.RFC3339Nano), stored, c.End().UTC().Format(time.RFC3339Nano), month, rule, limit)
	}
	return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].ended", i),
		"account %s has an event charged at %s, at or after this end %s and before the commitment's %s%s, charged while it ran: %s; end it after that event",
		c.Account, at.UTC().Format(time.RFC3339Nano), c.End().UTC().Format(time.RFC3339Nano), stored, month, rule)
}

// CommitmentTooEarly is the error of adding commitments[i] over a time
// in which the account has a charged event (latest, the last of them):
// its discount would apply to events already charged without it.
func CommitmentTooEarly(i int, c *abacus.Commitment, latest time.Time, zone *time.Location) error {
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
	if r := CommitmentReach(c, zone); !r.Equal(end) {
		reach = fmt.Sprintf(" (or before %s: a price that counts usage takes the discount of its month's start for the whole month)", r.In(zone).Format(time.RFC3339))
	}
	return abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("commitments[%d].from", i),
		"account %s has an event charged at %s, within %s to %s%s, without this commitment's discount: start it after that event",
		c.Account, latest.UTC().Format(time.RFC3339Nano), c.From.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano), reach)
}

// CheckZoneChange refuses to make zone the billing zone in place of have
// when usage events are stored (used), whose counters, carries and
// monthly sums are kept by have's months, unless zone's months are the
// same (another name of the zone: QA had Etc/UTC refused on a database of
// UTC months), or when a stored price version that counts usage would
// start within one of zone's months.
func CheckZoneChange(have, zone *time.Location, used bool, stored []abacus.Price) error {
	if used && !rating.SameMonths(have, zone) {
		return abacus.Errorf(abacus.CodeConflict, "billing_zone",
			"this database bills by the calendar months of %s and holds usage events already, whose tier counters, carries and monthly sums are kept by those months; "+
				"the billing zone can only change before the first event (start a new database to bill by the months of %s)", have, zone)
	}
	if err := rating.CheckCountedVersions(zone, nil, stored); err != nil {
		var ae *abacus.Error
		if errors.As(err, &ae) {
			return abacus.Errorf(abacus.CodeConflict, "billing_zone", "the price book does not fit the months of %s: %s", zone, ae.Message)
		}
		return err
	}
	return nil
}
