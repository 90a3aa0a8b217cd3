package ledger

import (
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// priceCheck checks that every event names price versions that were in
// force at its time, so that no version added later took over from before
// an event it did not charge, and that each version's recorded latest use
// is no earlier than the events it charged: that record is what refuses
// such a version. An event that stands must name no version a correction
// replaced (a voided one keeps what charged it).
type priceCheck struct {
	c        *Check
	prices   map[int64]*abacus.Price
	starts   map[versionKey][]time.Time // valid_from of each version, in order, once each
	replaced map[int64]int64            // a version → the revision that replaced it
	recorded map[int64]time.Time        // latest use, over every shard
	charged  map[int64]time.Time        // latest event a version rated
}

type versionKey struct {
	key      rating.Key
	currency abacus.Currency
}

// versionID is a version and its revisions.
type versionID struct {
	versionKey
	validFrom int64
}

func newPriceCheck(c *Check) *priceCheck {
	return &priceCheck{c: c, prices: map[int64]*abacus.Price{}, starts: map[versionKey][]time.Time{}, replaced: map[int64]int64{},
		recorded: map[int64]time.Time{}, charged: map[int64]time.Time{}}
}

func (pc *priceCheck) load(ar abacus.AuditReader) error {
	err := ar.Prices(func(p abacus.Price) error {
		pc.prices[p.ID] = &p
		k := versionKey{rating.KeyOf(&p), p.Currency}
		pc.starts[k] = append(pc.starts[k], p.ValidFrom)
		return nil
	})
	if err != nil {
		return err
	}
	latest := map[versionID]*abacus.Price{}
	for _, p := range pc.prices {
		v := versionID{versionKey{rating.KeyOf(p), p.Currency}, p.ValidFrom.UnixNano()}
		if q := latest[v]; q == nil || p.Revision > q.Revision {
			latest[v] = p
		}
	}
	for _, p := range pc.prices {
		if q := latest[versionID{versionKey{rating.KeyOf(p), p.Currency}, p.ValidFrom.UnixNano()}]; q != p {
			pc.replaced[p.ID] = q.ID
		}
	}
	for k, s := range pc.starts {
		slices.SortFunc(s, time.Time.Compare)
		pc.starts[k] = slices.CompactFunc(s, time.Time.Equal)
	}
	return ar.PriceUses(func(u abacus.PriceUse) error {
		if u.Latest.After(pc.recorded[u.PriceID]) {
			pc.recorded[u.PriceID] = u.Latest
		}
		return nil
	})
}

func (pc *priceCheck) event(e *abacus.StoredEvent) {
	for _, id := range e.PriceIDs {
		p := pc.prices[id]
		if p == nil {
			pc.c.fail("event %s names price %d, which does not exist", e.ID, id)
			continue
		}
		if by, ok := pc.replaced[id]; ok && e.Status != abacus.EventVoided {
			pc.c.unrepriced("event %s at %s was charged at price %d, which price %d replaced: it is to be repriced (abacus prices import --correct)",
				e.ID, stamp(e.Time), id, by)
		}
		if e.Time.Before(p.ValidFrom) {
			pc.c.fail("event %s at %s was rated with price %d, in force only from %s", e.ID, stamp(e.Time), id, stamp(p.ValidFrom))
		}
		starts := pc.starts[versionKey{rating.KeyOf(p), p.Currency}]
		if i, _ := slices.BinarySearchFunc(starts, p.ValidFrom, time.Time.Compare); i+1 < len(starts) && !starts[i+1].After(e.Time) && e.Status != abacus.EventVoided {
			pc.c.unrepriced("event %s at %s was charged at price %d, but a version of its key and currency took effect at %s, before the event",
				e.ID, stamp(e.Time), id, stamp(starts[i+1]))
		}
		if e.Time.After(pc.charged[id]) {
			pc.charged[id] = e.Time
		}
	}
}

func (pc *priceCheck) finish() {
	ids := make([]int64, 0, len(pc.charged))
	for id := range pc.charged {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rec, ok := pc.recorded[id]
		switch {
		case !ok:
			pc.c.fail("price %d rated an event at %s but no use of it is recorded: a version could be added before that event", id, stamp(pc.charged[id]))
		case rec.Before(pc.charged[id]):
			pc.c.fail("price %d rated an event at %s but its latest recorded use is %s: a version could be added before that event",
				id, stamp(pc.charged[id]), stamp(rec))
		}
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
