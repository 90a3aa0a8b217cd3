package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// usageBatch is the in-memory state of one usage batch. Usage batches
// hold nothing but usage, so every wallet they touch gets exactly one
// posting: the netted change of the whole batch, in one usage transaction.
type usageBatch struct {
	*batch
	book    *rating.Book
	used    map[rating.Counter]int64 // counters as they stand, stored plus this batch
	counted map[rating.Counter]int64 // what this batch adds
	// The version that counted each counter's latest usage: as stored (0
	// if unknown), and as this batch's charges left it.
	usedBy    map[rating.Counter]int64
	countedBy map[rating.Counter]int64
	carry     map[carryKey]decimal.Decimal
	carried   map[carryKey]bool              // residue changed
	seenDB    map[string]*abacus.StoredEvent // stored, by id
	seen      map[string]*abacus.UsageEvent  // ingested by this batch
	minutes   map[abacus.MinuteSlot]string
	stored    map[string]*abacus.StoredEvent // void, rerate and reprice targets, under lock
	rollups   map[rollupKey]*abacus.Rollup
	// priceUses is the latest event time each price version charged.
	priceUses map[priceUse]time.Time
	repricing map[string]bool // events to reprice at the end of the batch
	rerated   map[string]bool // unpriced events this batch charges
	pending   []repricing
	reprices  []abacus.Reprice
	events    []abacus.StoredEvent
	updates   []abacus.StoredEvent
	minuteT   []abacus.MinuteSlot // slots this batch takes
	freed     []abacus.MinuteSlot // slots voided events give up
	txID      int64               // the usage transaction's id, reserved with the reads
	// What each bucket paid for each resource's usage of a month: as
	// stored, read when a credit first needs the month, and what this
	// batch moved (which it adds to the stored sums).
	readPaid   func(paidMonth) (map[string]abacus.Drawn, error)
	paidStored map[paidMonth]map[string]abacus.Drawn
	paidMoved  map[usageMonth]abacus.Drawn
	movedTotal map[paidMonth]abacus.Drawn // paidMoved, all resources
}

type priceUse struct {
	id    int64
	shard int
}

type rollupKey struct {
	account    abacus.AccountID
	bucket     time.Time
	scene      int
	resource   string
	customerID string
}

// counterKey spells a price key for the store; the length of the unit
// type before it makes the spelling unambiguous.
func counterKey(k rating.Key) string {
	return strconv.Itoa(k.SKUType) + "|" + strconv.Itoa(k.SKUKind) + "|" + strconv.Itoa(len(k.UnitType)) + ":" + k.UnitType + "|" + k.ResourceID
}

// commitUsage applies a usage batch in one write transaction.
func (e *Engine) commitUsage(ctx context.Context, items []*usageItem) error {
	book, version, err := e.priceBook(ctx)
	if err != nil {
		return err
	}
	var uses []abacus.PriceUse
	for {
		err = e.writeUsage(ctx, items, book, version, &uses)
		var refused *errRepriceRefused
		if !errors.As(err, &refused) {
			break
		}
		// The batch rolled back; it runs again without the event's month.
		it := refused.item
		var ae *abacus.Error
		errors.As(refused.err, &ae) // a reprice stops the batch only for rule errors
		for _, m := range refused.month {
			*m.result = abacus.IngestResult{ID: m.event.ID, Status: abacus.IngestRejected, Err: abacus.Errorf(ae.Code, ae.Field,
				"not repriced: event %q of the same account and month was refused (%s); a month is repriced whole, so it stays as it was", it.event.ID, ae.Message)}
		}
		*it.result = abacus.IngestResult{ID: it.event.ID, Status: abacus.IngestRejected, Err: ae}
		if items = slices.DeleteFunc(slices.Clone(items), func(x *usageItem) bool { return x == it || slices.Contains(refused.month, x) }); len(items) == 0 {
			return nil
		}
	}
	if err == nil {
		e.usesMu.Lock()
		for _, pu := range uses {
			k := priceUse{pu.PriceID, pu.Shard}
			if pu.Latest.After(e.usesWritten[k]) {
				e.usesWritten[k] = pu.Latest
			}
		}
		e.usesMu.Unlock()
	}
	return err
}

// writeUsage is one attempt at a usage batch's write transaction.
func (e *Engine) writeUsage(ctx context.Context, items []*usageItem, book *rating.Book, version int64, uses *[]abacus.PriceUse) error {
	return e.store.Write(ctx, func(tx abacus.WriteTx) error {
		*uses = nil // of the attempt that commits, if the store tries again
		u := &usageBatch{
			batch: &batch{
				now:       e.cfg.Now().UTC().Truncate(time.Microsecond),
				drawOrder: e.cfg.DrawOrder,
				wallets:   map[int64]*abacus.Wallet{},
				before:    map[int64]abacus.Wallet{},
			},
			used:      map[rating.Counter]int64{},
			counted:   map[rating.Counter]int64{},
			usedBy:    map[rating.Counter]int64{},
			countedBy: map[rating.Counter]int64{},
			carry:     map[carryKey]decimal.Decimal{},
			carried:   map[carryKey]bool{},
			seenDB:    map[string]*abacus.StoredEvent{},
			seen:      map[string]*abacus.UsageEvent{},
			minutes:   map[abacus.MinuteSlot]string{},
			stored:    map[string]*abacus.StoredEvent{},
			rollups:   map[rollupKey]*abacus.Rollup{},
			priceUses: map[priceUse]time.Time{},
			repricing: map[string]bool{},
			rerated:   map[string]bool{},
			book:      book,
			readPaid: func(m paidMonth) (map[string]abacus.Drawn, error) {
				return tx.MonthPaid(ctx, m.account, m.currency, m.start)
			},
			paidStored: map[paidMonth]map[string]abacus.Drawn{},
			paidMoved:  map[usageMonth]abacus.Drawn{},
			movedTotal: map[paidMonth]abacus.Drawn{},
		}
		if err := u.load(ctx, tx, items, version); err != nil {
			return err
		}
		for _, it := range items {
			*it.result = abacus.IngestResult{ID: it.event.ID}
			var err error
			switch it.kind {
			case ingestEvent:
				err = u.ingest(it)
			case voidEvent:
				err = u.void(it)
			case rerateEvent:
				err = u.rerate(it)
			case repriceEvent:
				err = u.queueReprice(it)
			}
			if err != nil {
				// A rule said no: this item is rejected and the batch goes
				// on. Anything else (the database, a bug) fails the batch.
				var ae *abacus.Error
				if !errors.As(err, &ae) || ae.Code == abacus.CodeInternal {
					return err
				}
				it.result.Status, it.result.Err = abacus.IngestRejected, ae
			}
		}
		if err := u.settleReprices(); err != nil {
			return err
		}
		c, err := u.changes(items)
		if err != nil || c == nil {
			return err
		}
		c.PriceUses = e.unwrittenUses(c.PriceUses)
		*uses = c.PriceUses
		for _, it := range items {
			if it.kind == ingestEvent && it.result.Status == abacus.IngestAccepted {
				it.tried = append(it.tried, attempt{u.txID, u.now})
			}
		}
		return tx.Commit(ctx, c)
	})
}

// unwrittenUses leaves out the uses no later than what this engine's
// batches have committed: the store keeps the latest, so writing them
// again would change nothing. Only committed batches count, so a use
// is never left out that the store does not hold.
func (e *Engine) unwrittenUses(uses []abacus.PriceUse) []abacus.PriceUse {
	e.usesMu.Lock()
	defer e.usesMu.Unlock()
	return slices.DeleteFunc(uses, func(pu abacus.PriceUse) bool {
		return !pu.Latest.After(e.usesWritten[priceUse{pu.PriceID, pu.Shard}])
	})
}

// load locks the batch's accounts and reads, in one go, what its items
// are judged by: wallets, stored ids, minute slots, counters and carries.
// The counters to read depend on the prices, so they are named from the
// book the batch began with; if the store's book is newer the batch stops
// with errStaleBook and runs again with the new one.
func (u *usageBatch) load(ctx context.Context, tx abacus.WriteTx, items []*usageItem, version int64) error {
	var r abacus.BatchReads
	var lock []int64
	periods := map[carryKey]bool{}
	var wanted []rating.Counter
	for _, it := range items {
		lock = append(lock, it.customer.lead, it.revenue)
		r.Read = append(r.Read, it.revenue)
		for _, id := range it.customer.ids {
			r.Read = append(r.Read, id)
		}
		if k := u.carryOf(&it.event); !periods[k] {
			periods[k] = true
			r.Carries = append(r.Carries, abacus.Carry{Account: k.account, Period: k.period})
		}
		if it.kind == ingestEvent {
			r.EventIDs = append(r.EventIDs, it.event.ID)
			if it.minuteDedupe {
				r.Slots = append(r.Slots, minuteSlot(&it.event))
			}
		} else {
			r.Targets = append(r.Targets, it.event.ID)
		}
		if it.kind == repriceEvent {
			wanted = append(wanted, u.componentCounters(&it.event, it.customer.currency)...)
		} else {
			wanted = append(wanted, u.countersOf(&it.event, it.customer.currency)...)
		}
	}
	r.Lock, r.Read = sortedUnique(lock), sortedUnique(r.Read)
	// Nearly every batch moves money: its transaction id comes with the
	// reads rather than in a round trip of its own.
	r.TxIDs, r.Book = 1, true
	byKey := make(map[abacus.UsageCounter]rating.Counter, len(wanted))
	for _, c := range wanted {
		k := abacus.UsageCounter{Account: c.Account, Key: counterKey(c.Key), Currency: c.Currency, Period: c.Period}
		if _, dup := byKey[k]; !dup {
			byKey[k] = c
			r.Counters = append(r.Counters, k)
		}
		u.used[c] = 0
	}
	st, err := tx.ReadBatch(ctx, r)
	if err != nil {
		return err
	}
	if st.BookVersion > version {
		return errStaleBook
	}
	if len(st.TxIDs) != 1 {
		return fmt.Errorf("ledger: the store reserved %d transaction ids, not 1", len(st.TxIDs))
	}
	u.txID = st.TxIDs[0]
	u.take(st.Wallets)
	for i := range st.Seen {
		u.seenDB[st.Seen[i].ID] = &st.Seen[i]
	}
	for _, s := range st.Taken {
		u.minutes[slotOf(s)] = s.EventID
	}
	for i := range st.Stored {
		u.stored[st.Stored[i].ID] = &st.Stored[i]
	}
	for _, s := range st.Counters {
		q, v := s.Quantity, s.PriceID
		s.Quantity, s.PriceID = 0, 0
		if c, ok := byKey[s]; ok {
			u.used[c], u.usedBy[c] = q, v
		}
	}
	for _, c := range st.Carries {
		d, err := decimal.NewFromString(c.Residue)
		if err != nil {
			return fmt.Errorf("ledger: the carry of %s for %s is not a decimal: %w", c.Account, c.Period.Format("2006-01"), err)
		}
		u.carry[carryKey{c.Account, c.Period.UTC()}] = d
	}
	return nil
}

// countersOf lists the counters an event's prices count against.
func (u *usageBatch) countersOf(e *abacus.UsageEvent, cur abacus.Currency) []rating.Counter {
	comps, err := rating.Components(e)
	if err != nil {
		return nil
	}
	var out []rating.Counter
	for _, c := range comps {
		p, ok := u.book.Price(c.Key, cur, e.Time)
		if ok && rating.Counts(p.Model) {
			out = append(out, rating.Counter{Account: e.Account, Key: c.Key, Currency: cur, Period: u.book.PeriodOf(e.Time)})
		}
	}
	return out
}

// carryKey is an account's billing period, which a carry is kept for: what
// a period gives back through its carry is then never money that another
// period's buckets paid.
type carryKey struct {
	account abacus.AccountID
	period  time.Time
}

func (u *usageBatch) carryOf(e *abacus.UsageEvent) carryKey {
	return carryKey{e.Account, u.book.PeriodOf(e.Time)}
}

// setCarry makes rest the carry of k.
func (u *usageBatch) setCarry(k carryKey, rest decimal.Decimal) {
	if !rest.Equal(u.carry[k]) {
		u.carry[k], u.carried[k] = rest, true
	}
}

func minuteSlot(e *abacus.UsageEvent) abacus.MinuteSlot {
	return abacus.MinuteSlot{Scene: e.Scene, CustomerID: e.CustomerID, Minute: e.Time.Truncate(time.Minute), EventID: e.ID}
}

// slotOf is a slot without its owner, to look it up by.
func slotOf(s abacus.MinuteSlot) abacus.MinuteSlot {
	s.EventID = ""
	return s
}
