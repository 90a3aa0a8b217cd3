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
