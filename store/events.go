package store

import (
	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// FormatCost is an event's exact cost as stored: its decimal, or NULL.
func FormatCost(c decimal.NullDecimal) *string {
	if !c.Valid {
		return nil
	}
	s := c.Decimal.String()
	return &s
}

// ParseCost reads an event's exact cost as stored.
func ParseCost(s *string) (decimal.NullDecimal, error) {
	if s == nil {
		return decimal.NullDecimal{}, nil
	}
	d, err := decimal.NewFromString(*s)
	return decimal.NullDecimal{Decimal: d, Valid: err == nil}, err
}

// StatusCondition is the SQL condition that an event has status s, with
// the status spelled in the statement rather than bound, so that the
// partial index of a rare status (unpriced, voided) serves every plan of
// it: a generic PostgreSQL plan, which a connection may settle on for a
// statement it runs often, cannot match a bound value to an index's
// condition. Only the statuses abacus knows are spelled.
func StatusCondition(s abacus.EventStatus) (string, error) {
	switch s {
	case abacus.EventCharged, abacus.EventUnpriced, abacus.EventVoided:
		return "status = '" + string(s) + "'", nil
	}
	return "", abacus.Errorf(abacus.CodeInvalid, "status", "%q is not charged, unpriced or voided", s)
}
