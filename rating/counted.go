package rating

import (
	"fmt"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
)

// Counts says whether a model prices an event by the usage counted in its
// month before it: graduated, volume and package prices do; per_unit and
// burst prices do not.
func Counts(m abacus.PriceModel) bool {
	return m == abacus.ModelGraduated || m == abacus.ModelVolume || m == abacus.ModelPackage
}

// CheckCountedVersions refuses a version of added that would make one
// month (UTC) run under two versions of a key that both count the month's
// usage. The month's counter would then hold usage of both, so each
// version's tiers would price the other's usage: a volume step would
// credit earlier usage at rates it never paid, and a void at its own
// version, priced at the top of the month, could give back more than the
// month paid. Such versions change at a month's first instant; a per_unit
// or burst version may take over, or be taken over from, at any time, as
// may a key's first version. Only a version added at a new valid_from is
// judged: a book stored before this rule still takes imports, and a
// revision of a stored version (a correction) keeps the change it had.
// Errors name prices[i].valid_from, i indexing added.
func CheckCountedVersions(stored, added []abacus.Price) error {
	type version struct {
		from     time.Time
		model    abacus.PriceModel
		revision int
		added    int  // index in added, or -1
		new      bool // added at a valid_from no stored version of the key has
	}
	type keyCur struct {
		key Key
		cur abacus.Currency
	}
	byKey := map[keyCur]map[time.Time]version{}
	put := func(p *abacus.Price, i int) {
		k := keyCur{KeyOf(p), p.Currency}
		if byKey[k] == nil {
			byKey[k] = map[time.Time]version{}
		}
		from := p.ValidFrom.UTC()
		v, ok := byKey[k][from]
		if !ok || p.Revision >= v.revision {
			byKey[k][from] = version{from, p.Model, p.Revision, i, i >= 0 && (!ok || v.new)}
		}
	}
	for i := range stored {
		put(&stored[i], -1)
	}
	for i := range added {
		put(&added[i], i)
	}
	first := -1 // the smallest index in added refused, for the same answer every time
	var refused error
	for _, versions := range byKey {
		vs := make([]version, 0, len(versions))
		for _, v := range versions {
			vs = append(vs, v)
		}
		slices.SortFunc(vs, func(a, b version) int { return a.from.Compare(b.from) })
		for j := 1; j < len(vs); j++ {
			prev, next := vs[j-1], vs[j]
			if !prev.new && !next.new || !Counts(prev.model) || !Counts(next.model) || PeriodOf(next.from).Equal(next.from) {
				continue
			}
			i := next.added
			if !next.new {
				i = prev.added
			}
			if first >= 0 && first <= i {
				continue
			}
			first, refused = i, abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("prices[%d].valid_from", i),
				"%s in %s: the %s version from %s would take over from the %s one from %s within a month (UTC), and both count the month's usage: "+
					"each would price the other's usage in its tiers, and a void or a volume credit could give back more than the month paid; "+
					"prices that count usage change versions at a month's first instant (such as %s), or one of the two is per_unit",
				KeyOf(&added[i]), added[i].Currency, next.model, next.from.Format(time.RFC3339), prev.model, prev.from.Format(time.RFC3339),
				PeriodOf(next.from).AddDate(0, 1, 0).Format(time.RFC3339))
		}
	}
	return refused
}

// discountAt is when the commitment that discounts an event under a price
// of model m is looked up: the event's time, or for a price that counts
// usage its month's first instant. Such a price's tiers reprice the
// month's usage (a volume step credits it, a void is priced at the top of
// the month), which must all have paid at one discount.
func discountAt(m abacus.PriceModel, t time.Time) time.Time {
	if Counts(m) {
		return PeriodOf(t)
	}
	return t
}
