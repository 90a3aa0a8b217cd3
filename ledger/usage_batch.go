package ledger

import (
	"cmp"
	"context"
	"encoding/json"
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
	carry   map[abacus.AccountID]decimal.Decimal
	carried map[abacus.AccountID]bool     // residue changed
	seenDB  map[string]*abacus.UsageEvent // stored, by id
	seen    map[string]*abacus.UsageEvent // ingested by this batch
	minutes map[abacus.MinuteSlot]string
	stored  map[string]*abacus.StoredEvent // void, rerate and reprice targets, under lock
	rollups map[rollupKey]*abacus.Rollup
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
	// What each bucket paid for a month's usage: as stored, read when a
	// credit first needs it, and what this batch moved (which it adds to
	// the stored sums).
	readPaid   func(usageMonth) (abacus.Drawn, error)
	paidStored map[usageMonth]abacus.Drawn
	paidMoved  map[usageMonth]abacus.Drawn
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
		// The batch rolled back; it runs again without the event.
		it := refused.item
		var ae *abacus.Error
		errors.As(refused.err, &ae) // repriceCharge stops the batch only for rule errors
		*it.result = abacus.IngestResult{ID: it.event.ID, Status: abacus.IngestRejected, Err: ae}
		if items = slices.DeleteFunc(slices.Clone(items), func(x *usageItem) bool { return x == it }); len(items) == 0 {
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
				drawOrder: e.cfg.Usage.DrawOrder,
				wallets:   map[int64]*abacus.Wallet{},
				before:    map[int64]abacus.Wallet{},
			},
			used:      map[rating.Counter]int64{},
			counted:   map[rating.Counter]int64{},
			carry:     map[abacus.AccountID]decimal.Decimal{},
			carried:   map[abacus.AccountID]bool{},
			seenDB:    map[string]*abacus.UsageEvent{},
			seen:      map[string]*abacus.UsageEvent{},
			minutes:   map[abacus.MinuteSlot]string{},
			stored:    map[string]*abacus.StoredEvent{},
			rollups:   map[rollupKey]*abacus.Rollup{},
			priceUses: map[priceUse]time.Time{},
			repricing: map[string]bool{},
			rerated:   map[string]bool{},
			book:      book,
			readPaid: func(m usageMonth) (abacus.Drawn, error) {
				return tx.MonthPaid(ctx, m.account, m.currency, m.start)
			},
			paidStored: map[usageMonth]abacus.Drawn{},
			paidMoved:  map[usageMonth]abacus.Drawn{},
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
	accounts := map[abacus.AccountID]bool{}
	var wanted []rating.Counter
	for _, it := range items {
		lock = append(lock, it.customer.lead, it.revenue)
		r.Read = append(r.Read, it.revenue)
		for _, id := range it.customer.ids {
			r.Read = append(r.Read, id)
		}
		if !accounts[it.event.Account] {
			accounts[it.event.Account] = true
			r.Accounts = append(r.Accounts, it.event.Account)
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
			wanted = append(wanted, componentCounters(&it.event, it.customer.currency)...)
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
		u.seenDB[st.Seen[i].ID] = &st.Seen[i].UsageEvent
	}
	for _, s := range st.Taken {
		u.minutes[slotOf(s)] = s.EventID
	}
	for i := range st.Stored {
		u.stored[st.Stored[i].ID] = &st.Stored[i]
	}
	for _, s := range st.Counters {
		q := s.Quantity
		s.Quantity = 0
		if c, ok := byKey[s]; ok {
			u.used[c] = q
		}
	}
	for _, c := range st.Carries {
		d, err := decimal.NewFromString(c.Residue)
		if err != nil {
			return fmt.Errorf("ledger: the carry of %s is not a decimal: %w", c.Account, err)
		}
		u.carry[c.Account] = d
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
		if ok && (p.Model == abacus.ModelGraduated || p.Model == abacus.ModelVolume || p.Model == abacus.ModelPackage) {
			out = append(out, rating.Counter{Account: e.Account, Key: c.Key, Currency: cur, Period: rating.PeriodOf(e.Time)})
		}
	}
	return out
}

func minuteSlot(e *abacus.UsageEvent) abacus.MinuteSlot {
	return abacus.MinuteSlot{Scene: e.Scene, CustomerID: e.CustomerID, Minute: e.Time.Truncate(time.Minute), EventID: e.ID}
}

// slotOf is a slot without its owner, to look it up by.
func slotOf(s abacus.MinuteSlot) abacus.MinuteSlot {
	s.EventID = ""
	return s
}

func (u *usageBatch) ingest(it *usageItem) error {
	ev := &it.event
	if prior := cmp.Or(u.seenDB[ev.ID], u.seen[ev.ID]); prior != nil {
		if err := repeatOf(prior, ev); err != nil {
			return err
		}
		it.result.Status = abacus.IngestDuplicate
		return nil
	}
	var slot abacus.MinuteSlot
	if it.minuteDedupe {
		slot = minuteSlot(ev)
		if owner, taken := u.minutes[slotOf(slot)]; taken && owner != ev.ID {
			it.result.Status = abacus.IngestDuplicate
			return nil
		}
	}
	if it.tooLate != nil {
		return it.tooLate
	}
	cur := it.customer.currency
	r, err := u.book.Rate(ev, cur, u.usedOf)
	if err != nil {
		return err
	}
	stored := abacus.StoredEvent{UsageEvent: *ev, Status: abacus.EventUnpriced, ReceivedAt: u.now, Currency: cur, Cost: decimal.NullDecimal{Valid: true}}
	if !r.Unpriced {
		stored.Status = abacus.EventCharged
		if err := u.chargeRating(it, &stored, r, abacus.Drawn{}); err != nil {
			return err
		}
	}
	if err := u.roll(ev, cur, ev.Value, stored.Charged, 1); err != nil {
		return err
	}
	u.seen[ev.ID] = ev
	if it.minuteDedupe {
		u.minutes[slotOf(slot)] = ev.ID
		u.minuteT = append(u.minuteT, slot)
	}
	u.events = append(u.events, stored)
	it.result.Status, it.result.Charged, it.result.Unpriced = abacus.IngestAccepted, stored.Charged, r.Unpriced
	return nil
}

func (u *usageBatch) usedOf(c rating.Counter) int64 { return u.used[c] }

// chargeRating charges a rated event: its cost plus the account's carry,
// floored to micro-units, drawn from the buckets (first from those prefer
// names, see chargeAmount); what the floor leaves over is the new carry.
// It changes nothing if the charge is refused.
func (u *usageBatch) chargeRating(it *usageItem, ev *abacus.StoredEvent, r rating.Rating, prefer abacus.Drawn) error {
	acct := ev.Account
	total := r.Cost.Add(u.carry[acct])
	amount, rest, err := abacus.AmountFromDecimal(total, abacus.RoundFloor)
	if err != nil {
		return abacus.RenameField(err, it.field())
	}
	drawn, err := u.charge(it, amount, prefer)
	if err != nil {
		return err
	}
	for _, l := range r.Lines {
		if l.Counter != nil {
			u.used[*l.Counter] += l.Quantity
			u.counted[*l.Counter] += l.Quantity
		}
		ev.PriceIDs = append(ev.PriceIDs, l.PriceID)
		use := priceUse{l.PriceID, it.shard}
		if latest, ok := u.priceUses[use]; !ok || ev.Time.After(latest) {
			u.priceUses[use] = ev.Time
		}
	}
	if !rest.Equal(u.carry[acct]) {
		u.carry[acct], u.carried[acct] = rest, true
	}
	ev.Charged, ev.Drawn, ev.Cost = amount, drawn, decimal.NullDecimal{Decimal: r.Cost, Valid: true}
	return nil
}

// field names what the producer sent that a refused charge is about: the
// event's value, or for a void or a reprice its id; not the ledger's amount.
func (it *usageItem) field() string {
	if it.kind == voidEvent || it.kind == repriceEvent {
		return "uuid"
	}
	return "value"
}

// charge moves amount from the account to revenue, drawing the buckets in
// order within the account's floor; a negative amount (a volume price
// stepping down) is a credit for the event's month. A refusal (the floor,
// a balance that would overflow) names it.field() and changes nothing.
//
// It draws first from the buckets prefer names, in proportion and at most
// what it says and what each can give: a reprice gives an event back what
// it paid and charges it again, and drawing the new charge from where the
// refund went moves only the difference, so a voucher granted since
// cannot pay what cash had paid and leave the cash with the account.
func (u *usageBatch) charge(it *usageItem, amount abacus.Amount, prefer abacus.Drawn) (abacus.Drawn, error) {
	d, err := u.chargeAmount(it, amount, prefer)
	return d, abacus.RenameField(err, it.field())
}

func (u *usageBatch) chargeAmount(it *usageItem, amount abacus.Amount, prefer abacus.Drawn) (abacus.Drawn, error) {
	switch {
	case amount.IsZero():
		return abacus.Drawn{}, nil
	case amount.IsNegative():
		owed, err := amount.Neg()
		if err != nil {
			return abacus.Drawn{}, err
		}
		back, err := u.credit(it, owed)
		if err != nil {
			return abacus.Drawn{}, err
		}
		return subDrawn(abacus.Drawn{}, back)
	case prefer == abacus.Drawn{}:
		return u.drawFor(it, amount)
	}
	return u.drawPreferring(it, amount, prefer)
}

// drawFor draws amount from the item's account in the draw order, within
// its floor, and moves it to revenue.
func (u *usageBatch) drawFor(it *usageItem, amount abacus.Amount) (abacus.Drawn, error) {
	var d abacus.Drawn
	parts, err := u.draw(it.customer, amount)
	if err != nil {
		return d, err
	}
	debits := make([]part, len(parts))
	for i, p := range parts {
		neg, _ := p.amount.Neg()
		debits[i] = part{p.w, neg}
		*d.Of(p.w.Bucket) = p.amount // draw takes a customer's buckets
	}
	return d, u.move(it, debits, amount)
}

// move adds each part to its wallet and toRevenue to the item's revenue
// wallet, all or none, and counts what the buckets paid for its month.
func (u *usageBatch) move(it *usageItem, parts []part, toRevenue abacus.Amount) error {
	revenue := u.wallets[it.revenue]
	next := make([]abacus.Amount, len(parts))
	for i, p := range parts {
		b, err := p.w.Balance.Add(p.amount)
		if err != nil {
			return err
		}
		if _, err := b.Sub(p.w.Held); err != nil { // available must fit too, floor or not
			return err
		}
		next[i] = b
	}
	rev, err := revenue.Balance.Add(toRevenue)
	if err != nil {
		return err
	}
	m := monthOf(it)
	paid := u.paidMoved[m]
	for _, p := range parts {
		if a := paid.Of(p.w.Bucket); a != nil {
			var err error
			if *a, err = a.Sub(p.amount); err != nil {
				return err
			}
		}
	}
	for i, p := range parts {
		p.w.Balance = next[i]
	}
	revenue.Balance = rev
	u.paidMoved[m] = paid
	return nil
}

// roll adds an event's usage and money to the rollup of its quarter hour.
// A sum past int64 fails the batch as the database would (ErrRefused; the
// money has moved by now), and the engine then refuses the events that
// overflow, each alone, against the stored sums.
func (u *usageBatch) roll(ev *abacus.UsageEvent, cur abacus.Currency, quantity int64, amount abacus.Amount, events int64) error {
	k := rollupKey{ev.Account, ev.Time.Truncate(abacus.RollupBucket), ev.Scene, ev.ResourceID, ev.CustomerID}
	r := u.rollups[k]
	if r == nil {
		r = &abacus.Rollup{Account: k.account, Bucket: k.bucket, Scene: k.scene, ResourceID: k.resource, CustomerID: k.customerID, Currency: cur}
		u.rollups[k] = r
	}
	a, err := r.Amount.Add(amount)
	q, qOK := addInt64(r.Quantity, quantity)
	n, nOK := addInt64(r.Events, events)
	if err != nil || !qOK || !nOK {
		return fmt.Errorf("%w: the usage of %s in the quarter hour from %s overflows its rollup", abacus.ErrRefused, ev.Account, k.bucket.Format(time.RFC3339))
	}
	r.Amount, r.Quantity, r.Events = a, q, n
	return nil
}

// addInt64 returns x+y and whether it fits.
func addInt64(x, y int64) (int64, bool) {
	sum := x + y
	return sum, (sum > x) == (y > 0)
}

func (u *usageBatch) rerate(it *usageItem) error {
	s := u.stored[it.event.ID]
	switch {
	case s == nil:
		return errNoEvent(it.event.ID)
	case s.Status != abacus.EventUnpriced:
		return abacus.Errorf(abacus.CodeConflict, "status", "event %q is %s; only unpriced events are rated again", s.ID, s.Status)
	}
	r, err := u.book.Rate(&s.UsageEvent, s.Currency, u.usedOf)
	if err != nil {
		return err
	}
	it.result.Status = abacus.IngestAccepted
	if r.Unpriced {
		it.result.Unpriced = true
		return nil
	}
	charged := *s
	charged.Status = abacus.EventCharged
	if err := u.chargeRating(it, &charged, r, abacus.Drawn{}); err != nil {
		return err
	}
	if err := u.roll(&s.UsageEvent, s.Currency, 0, charged.Charged, 0); err != nil {
		return err
	}
	*s = charged
	u.rerated[s.ID] = true
	u.updates = append(u.updates, *s)
	it.result.Charged = s.Charged
	return nil
}

// changes turns the batch into writes: one usage transaction with a
// posting per touched wallet, the events, counters, what the buckets paid
// per month, carries, rollups, minute slots and low-balance messages.
func (u *usageBatch) changes(items []*usageItem) (*abacus.Changes, error) {
	c := &abacus.Changes{}
	t := abacus.Transaction{Type: abacus.TxUsage, CreatedAt: u.now, Memo: fmt.Sprintf("usage: %d events", len(u.events)+len(u.updates))}
	for id, w := range u.wallets {
		before := u.before[id]
		if w.Balance == before.Balance {
			continue
		}
		amount, err := w.Balance.Sub(before.Balance)
		if err != nil {
			return nil, err
		}
		w.Version++
		c.Wallets = append(c.Wallets, *w)
		t.Postings = append(t.Postings, abacus.Posting{WalletID: id, Account: w.Account, Bucket: w.Bucket, Currency: w.Currency,
			Amount: amount, BalanceAfter: w.Balance, Version: w.Version})
	}
	t.ID = u.txID
	if len(t.Postings) > 0 {
		slices.SortFunc(t.Postings, func(x, y abacus.Posting) int { return cmp.Compare(x.WalletID, y.WalletID) })
		slices.SortFunc(c.Wallets, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
		for i := range t.Postings {
			t.Postings[i].TxID = t.ID
		}
		c.Transactions = []abacus.Transaction{t}
	}
	// Every event that moved money did so in this transaction. Where the
	// batch's movements net to nothing (a charge and a refund of one
	// account, say), no transaction is written and they name its id all
	// the same: under it, nothing moved, as verify checks.
	for i := range u.events {
		if !u.events[i].Charged.IsZero() {
			u.events[i].TxID = t.ID
		}
	}
	for i := range u.updates {
		switch ev := &u.updates[i]; {
		case u.repricing[ev.ID]:
			// It keeps the transactions of its first charge and of its
			// void; the reprice names this one.
		case ev.Status == abacus.EventVoided:
			if !ev.Refunded.IsZero() {
				ev.VoidTxID = t.ID
			}
		case !ev.Charged.IsZero():
			ev.TxID = t.ID
		}
	}
	for i := range u.reprices {
		u.reprices[i].TxID = t.ID
	}
	c.Events, c.EventUpdates, c.Reprices = u.events, u.updates, u.reprices
	for k, q := range u.counted {
		if q != 0 {
			c.Counters = append(c.Counters, abacus.UsageCounter{Account: k.Account, Key: counterKey(k.Key), Currency: k.Currency, Period: k.Period, Quantity: q})
		}
	}
	for m, d := range u.paidMoved {
		if d != (abacus.Drawn{}) {
			c.Paid = append(c.Paid, abacus.MonthPaid{Account: m.account, Currency: m.currency, Period: m.start, Paid: d})
		}
	}
	for a := range u.carried {
		c.Carries = append(c.Carries, abacus.Carry{Account: a, Residue: u.carry[a].String()})
	}
	for _, r := range u.rollups {
		if r.Quantity != 0 || !r.Amount.IsZero() || r.Events != 0 {
			c.Rollups = append(c.Rollups, *r)
		}
	}
	for k, latest := range u.priceUses {
		c.PriceUses = append(c.PriceUses, abacus.PriceUse{PriceID: k.id, Shard: k.shard, Latest: latest})
	}
	c.Minutes, c.FreedMinutes = u.minuteT, u.freed
	var err error
	if c.Outbox, err = u.lowBalances(items); err != nil {
		return nil, err
	}
	if len(c.Transactions)+len(c.Events)+len(c.EventUpdates)+len(c.Counters)+len(c.Paid)+len(c.Carries)+len(c.Rollups)+len(c.Outbox) == 0 {
		return nil, nil
	}
	sortChanges(c)
	return c, nil
}

// sortChanges orders what is upserted, so two batches that race for the
// same rows (on PostgreSQL) take their locks in the same order.
func sortChanges(c *abacus.Changes) {
	slices.SortFunc(c.Counters, func(x, y abacus.UsageCounter) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Key, y.Key), cmp.Compare(x.Currency, y.Currency), x.Period.Compare(y.Period))
	})
	slices.SortFunc(c.Paid, func(x, y abacus.MonthPaid) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Currency, y.Currency), x.Period.Compare(y.Period))
	})
	slices.SortFunc(c.Carries, func(x, y abacus.Carry) int { return cmp.Compare(x.Account, y.Account) })
	slices.SortFunc(c.Rollups, func(x, y abacus.Rollup) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), x.Bucket.Compare(y.Bucket), cmp.Compare(x.Scene, y.Scene),
			cmp.Compare(x.ResourceID, y.ResourceID), cmp.Compare(x.CustomerID, y.CustomerID))
	})
	slices.SortFunc(c.Events, func(x, y abacus.StoredEvent) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(c.PriceUses, func(x, y abacus.PriceUse) int {
		return cmp.Or(cmp.Compare(x.PriceID, y.PriceID), cmp.Compare(x.Shard, y.Shard))
	})
}

// lowBalances writes a message for every account whose available total
// fell below its low-balance threshold in this batch.
func (u *usageBatch) lowBalances(items []*usageItem) ([]abacus.OutboxMessage, error) {
	var out []abacus.OutboxMessage
	done := map[abacus.AccountID]bool{}
	for _, it := range items {
		cw := it.customer
		if cw.lowBalance == nil || done[it.event.Account] {
			continue
		}
		done[it.event.Account] = true
		var before, after abacus.Amount
		for _, id := range cw.ids {
			b, a := u.before[id], u.wallets[id]
			bAvail, err := b.Available()
			if err != nil {
				return nil, err
			}
			aAvail, err := a.Available()
			if err != nil {
				return nil, err
			}
			if before, err = before.Add(bAvail); err != nil {
				return nil, err
			}
			if after, err = after.Add(aAvail); err != nil {
				return nil, err
			}
		}
		if before.Cmp(*cw.lowBalance) >= 0 && after.Cmp(*cw.lowBalance) < 0 {
			payload, _ := json.Marshal(map[string]string{
				"account": string(it.event.Account), "currency": string(cw.currency),
				"threshold": cw.lowBalance.String(), "available": after.String(),
			})
			out = append(out, abacus.OutboxMessage{Kind: abacus.OutboxLowBalance, Account: it.event.Account, Payload: string(payload), CreatedAt: u.now})
		}
	}
	return out, nil
}
