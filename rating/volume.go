package rating

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
)

// CheckVolumeVersions refuses a version of added that would make one
// month (UTC) run under two versions of a key where either is a volume
// price. A volume tier prices all of the month's usage, so a step into a
// cheaper tier credits the month's earlier usage; under a new version
// that credit would be at the new version's rates, not at those the
// usage paid, and a dearer new version would credit more than was ever
// charged. Versions next to a volume one therefore start at a month's
// first instant. Only changes that involve a version of added are judged,
// so a book stored before this rule still takes imports. Errors name
// prices[i].valid_from, i indexing added.
func CheckVolumeVersions(stored, added []abacus.Price) error {
	type version struct {
		from     time.Time
		model    abacus.PriceModel
		revision int
		added    int // index in added, or -1
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
		if v, ok := byKey[k][from]; !ok || p.Revision >= v.revision {
			byKey[k][from] = version{from, p.Model, p.Revision, i}
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
			if prev.added < 0 && next.added < 0 || prev.model != abacus.ModelVolume && next.model != abacus.ModelVolume || PeriodOf(next.from).Equal(next.from) {
				continue
			}
			i := cmp.Or(next.added+1, prev.added+1) - 1
			if first >= 0 && first <= i {
				continue
			}
			first, refused = i, abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("prices[%d].valid_from", i),
				"the versions of %s in %s from %s and from %s change within a month (UTC), and one of them is a volume price: "+
					"a volume tier reprices the month's earlier usage, which would be credited at the other version's rates; "+
					"start the later one at the first instant of a month, such as %s",
				KeyOf(&added[i]), added[i].Currency, prev.from.Format(time.RFC3339), next.from.Format(time.RFC3339),
				PeriodOf(next.from).AddDate(0, 1, 0).Format(time.RFC3339))
		}
	}
	return refused
}
