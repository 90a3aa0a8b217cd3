package ledger

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// counterCheck checks that every tier counter holds exactly the usage the
// events standing in its month count under its key, each rated at the
// versions that charged it. A counter that drifted would price the rest of
// its month's tiers from the wrong place, and no sum of money shows that
// until the month's charges are wrong. Each counter's version, which
// prices the month's next usage, must be one its month's events were
// charged at: set to a version a correction replaced, the next event was
// charged at that (QA).
type counterCheck struct {
	c        *Check
	book     *rating.Book
	counted  map[int64]bool // versions whose model counts usage
	want     map[counterID]int64
	have     map[counterID]int64
	version  map[counterID]int64          // the version stored with each counter, 0 for none
	versions map[counterID]map[int64]bool // the versions its events name
}

type counterID struct {
	account  abacus.AccountID
	key      string
	currency abacus.Currency
	period   int64 // µs since the epoch: the month's start
}

func compareCounterIDs(a, b counterID) int {
	return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.key, b.key), cmp.Compare(a.currency, b.currency), cmp.Compare(a.period, b.period))
}

func newCounterCheck(c *Check) *counterCheck {
	return &counterCheck{c: c, counted: map[int64]bool{}, want: map[counterID]int64{}, have: map[counterID]int64{},
		version: map[counterID]int64{}, versions: map[counterID]map[int64]bool{}}
}

// load reads the stored counters; book, of every stored price version, is
// to rate events at the versions they name (nil: the prices make none).
func (cc *counterCheck) load(ar abacus.AuditReader, prices map[int64]*abacus.Price, book *rating.Book) error {
	for _, p := range prices {
		if rating.Counts(p.Model) {
			cc.counted[p.ID] = true
		}
	}
	cc.book = book
	return ar.Counters(func(c abacus.UsageCounter) error {
		id := counterID{c.Account, c.Key, c.Currency, c.Period.UnixMicro()}
		cc.have[id], cc.version[id] = c.Quantity, c.PriceID
		return nil
	})
}

func (cc *counterCheck) event(e *abacus.StoredEvent) {
	// A voided event stands no more, but the version it was charged at
	// may still be its counter's (a void leaves that).
	if cc.book == nil || e.Status == abacus.EventUnpriced || !slices.ContainsFunc(e.PriceIDs, func(id int64) bool { return cc.counted[id] }) {
		return
	}
	r, err := cc.book.RateWith(&e.UsageEvent, e.Currency, noCounts, e.PriceIDs)
	if err == nil && r.Unpriced {
		err = abacus.Errorf(abacus.CodeInvalid, "price_ids", "%s", r.Reason)
	}
	if err != nil {
		cc.c.fail("event %s cannot be rated at the versions that charged it: %v", e.ID, err)
		return
	}
	for _, l := range r.Lines {
		c := l.Counter
		if c == nil {
			continue
		}
		id := counterID{c.Account, counterKey(c.Key), c.Currency, c.Period.UnixMicro()}
		if e.Status == abacus.EventCharged {
			cc.want[id] += l.Quantity
		}
		if cc.versions[id] == nil {
			cc.versions[id] = map[int64]bool{}
		}
		cc.versions[id][l.PriceID] = true
	}
}

func (cc *counterCheck) finish() {
	if cc.book == nil {
		return
	}
	ids := slices.Collect(maps.Keys(cc.have))
	for id := range cc.want {
		if _, ok := cc.have[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareCounterIDs)
	for _, id := range ids {
		if have, want := cc.have[id], cc.want[id]; have != want {
			cc.c.fail("the counter of account %s, price key %s, %s, month from %s holds %d; the month's standing events count %d",
				id.account, id.key, id.currency, stamp(time.UnixMicro(id.period)), have, want)
		}
		// None to compare with: a counter from before migration 0017, or
		// a month whose events were all voided and then repriced.
		if v := cc.version[id]; v != 0 && len(cc.versions[id]) > 0 && !cc.versions[id][v] {
			cc.c.fail("the counter of account %s, price key %s, %s, month from %s names price version %d, which none of the month's events was charged at",
				id.account, id.key, id.currency, stamp(time.UnixMicro(id.period)), v)
		}
	}
}
