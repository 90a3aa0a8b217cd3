package store

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// The cost column holds an event's exact cost only where its charge net
// of its refund does not say it: NULL stands for that net amount, which it
// is whenever the carry played no part (most events, and one byte of the
// row). CostUnknown, the column's default, marks an event stored before
// abacus kept costs.
const CostUnknown = "unknown"

// Drawn is what each bucket paid, from the three micro-unit columns that
// store it.
func Drawn(cash, bonus, voucher int64) abacus.Drawn {
	return abacus.Drawn{Cash: abacus.AmountFromMicros(cash), Bonus: abacus.AmountFromMicros(bonus), Voucher: abacus.AmountFromMicros(voucher)}
}

// FormatCost is an event's exact cost as stored.
func FormatCost(e *abacus.StoredEvent) *string {
	s := CostUnknown
	switch {
	case !e.Cost.Valid:
	case e.Cost.Decimal.Equal(e.Charged.Decimal().Sub(e.Refunded.Decimal())):
		return nil
	default:
		s = e.Cost.Decimal.String()
	}
	return &s
}

// ParseCost reads an event's exact cost as stored, once its charge and
// refund are read.
func ParseCost(e *abacus.StoredEvent, s *string) error {
	switch {
	case s == nil:
		e.Cost = decimal.NullDecimal{Decimal: e.Charged.Decimal().Sub(e.Refunded.Decimal()), Valid: true}
	case *s == CostUnknown:
		e.Cost = decimal.NullDecimal{}
	default:
		d, err := decimal.NewFromString(*s)
		if err != nil {
			return fmt.Errorf("event %s: cost %q: %w", e.ID, *s, err)
		}
		e.Cost = decimal.NullDecimal{Decimal: d, Valid: true}
	}
	return nil
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

// NotAPosition refuses an account listing's after that is not the seq of
// one of the account's own events. An empty page had answered it, which is
// what "nothing new" looks like: a client passing another listing's
// position stopped following without a word (QA).
func NotAPosition(q abacus.EventQuery) error {
	return abacus.Errorf(abacus.CodeInvalid, "after", "%d is not a position of account %s's events: page with the next_after of its page before, or the seq of one of its events", q.AfterSeq, q.Account)
}
