package rating

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
)

// Counts says whether a model prices an event by the usage counted in its
// month before it: graduated, volume and package prices do; per_unit and
// burst prices do not.
func Counts(m abacus.PriceModel) bool {
	return m == abacus.ModelGraduated || m == abacus.ModelVolume || m == abacus.ModelPackage
}

// CheckCountedVersions refuses added if it would put two versions that
// count usage in force within one billing month (of zone; nil: UTC) of a
// key where there was at most one: the month's counter would hold usage of
// both, so each
// version's tiers would price the other's usage, a volume step would
// credit earlier usage at rates it never paid, and a void at its own
// version, priced at the top of the month, could give back more than the
// month paid. It counts every version in force in the month, not only
// neighbours: a per_unit version between two counted ones still leaves
// both in the month. Counted versions therefore change at a month's first
// instant; per_unit and burst versions may change at any time. A month
// that had two already (a book stored before this rule) may still be
// corrected, as long as the correction does not add a third. Errors name
// prices[i].valid_from, i indexing added: the version that starts in the
// middle of the month at fault, where that one is added and counts, else
// a version added, or revised, within or at the start of that month.
func CheckCountedVersions(zone *time.Location, stored, added []abacus.Price) error {
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
	type book map[keyCur]map[time.Time]version
	put := func(b book, p *abacus.Price, i int) {
		k := keyCur{KeyOf(p), p.Currency}
		if b[k] == nil {
			b[k] = map[time.Time]version{}
		}
		from := p.ValidFrom.UTC()
		if v, ok := b[k][from]; !ok || p.Revision >= v.revision {
			b[k][from] = version{from, p.Model, p.Revision, i}
		}
	}
	before, after := book{}, book{}
	for i := range stored {
		put(before, &stored[i], -1)
		put(after, &stored[i], -1)
	}
	for i := range added {
		put(after, &added[i], i)
	}
	sorted := func(vs map[time.Time]version) []version {
		out := make([]version, 0, len(vs))
		for _, v := range vs {
			out = append(out, v)
		}
		slices.SortFunc(out, func(a, b version) int { return a.from.Compare(b.from) })
		return out
	}
	// inMonth lists the versions of vs in force at some time of the month
	// from start: the one in force at its start, and those starting in it.
	inMonth := func(vs []version, start time.Time) []version {
		_, end := Month(start, zone)
		var out []version
		for j, v := range vs {
			if !v.from.After(start) && (j+1 == len(vs) || vs[j+1].from.After(start)) || v.from.After(start) && v.from.Before(end) {
				out = append(out, v)
			}
		}
		return out
	}
	counted := func(vs []version) int {
		n := 0
		for _, v := range vs {
			if Counts(v.model) {
				n++
			}
		}
		return n
	}
	first := -1 // the smallest index in added refused, for the same answer every time
	var refused error
	for k, versions := range after {
		vs := sorted(versions)
		old := sorted(before[k])
		for _, v := range vs {
			month, next := Month(v.from, zone)
			if month.Equal(v.from) {
				continue // a change at a month's start puts one version in each month
			}
			now := inMonth(vs, month)
			n := counted(now)
			if n < 2 || n <= counted(inMonth(old, month)) {
				continue
			}
			// Name v, which changes the month in its middle, if it is added
			// and counts; else an added version that counts, or else any
			// added one.
			i := v.added
			if i < 0 || !Counts(v.model) {
				i = -1
				for _, w := range now {
					if w.added >= 0 && (i < 0 || Counts(w.model) && !Counts(added[i].Model) || Counts(w.model) == Counts(added[i].Model) && w.added < i) {
						i = w.added
					}
				}
			}
			if i < 0 || first >= 0 && first <= i {
				continue
			}
			var spelled []string
			for _, w := range now {
				spelled = append(spelled, fmt.Sprintf("%s from %s", w.model, w.from.Format(time.RFC3339Nano)))
			}
			first, refused = i, abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("prices[%d].valid_from", i),
				"%s in %s: the month from %s would run under %s, %d of which count the month's usage: "+
					"each would price the other's usage in its tiers, and a void or a volume credit could give back more than the month paid; "+
					"versions that count usage change at a month's first instant in the billing zone (here %s or %s), with no other counted version in between, or one of them is per_unit",
				k.key, k.cur, month.In(orUTC(zone)).Format("2006-01"), strings.Join(spelled, ", "), n,
				month.In(orUTC(zone)).Format(time.RFC3339), next.In(orUTC(zone)).Format(time.RFC3339))
		}
	}
	return refused
}

// discountAt is when the commitment that discounts an event under a price
// of model m is looked up: the event's time, or for a price that counts
// usage its month's first instant. Such a price's tiers reprice the
// month's usage (a volume step credits it, a void is priced at the top of
// the month), which must all have paid at one discount.
func (b *Book) discountAt(m abacus.PriceModel, t time.Time) time.Time {
	if Counts(m) {
		return b.PeriodOf(t)
	}
	return t
}

func orUTC(zone *time.Location) *time.Location {
	if zone == nil {
		return time.UTC
	}
	return zone
}
