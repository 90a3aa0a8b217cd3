package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// UsageConfig tunes how usage events are charged.
type UsageConfig struct {
	// NoAutoCreate turns off creating an account for an event that names
	// one abacus has not seen (CSGHub creates them); such events are then
	// rejected.
	NoAutoCreate bool
	// DefaultCurrency is the currency of accounts created for events.
	DefaultCurrency abacus.Currency
	// NewAccountOverdraft is the floor policy of accounts created for
	// events; nil means CSGHub's: usage takes them negative without limit.
	NewAccountOverdraft *abacus.Overdraft
	// MinuteDedupe lists the scenes where a second event for the same
	// instance in the same wall-clock minute is a duplicate (CSGHub's
	// minute-level check), off for every scene by default.
	MinuteDedupe map[int]bool
	// MaxBatch bounds the events (and voids and rerates) committed in one
	// usage transaction; default DefaultUsageBatch. It is larger than the
	// ledger's MaxBatch because a usage batch nets each account's work
	// (wallets, postings, index pages) over all its events: offered more
	// than it can take, the engine batches more and each event costs less.
	// The engine takes what is queued, so below that load batches stay
	// small.
	MaxBatch int
	// MaxAhead bounds how far past the engine's clock an event's time may
	// be; default DefaultMaxAhead, negative for no bound. A later event is
	// rejected, naming created_at: it is a producer's clock or unit error
	// far more often than usage, and it would be charged at a price not yet
	// in force into a period that has not begun.
	MaxAhead time.Duration
	// MaxAge bounds how far before the engine's clock an event's time may
	// be; zero (the default) for no bound, as CSGHub has none. An older
	// event is rejected, naming created_at, so that periods already billed
	// stay as billed; a repeat of a stored event is still a duplicate.
	// Voids, rerates and reprices of stored events are not bounded.
	MaxAge time.Duration
}

// DefaultUsageBatch is UsageConfig.MaxBatch unless configured.
const DefaultUsageBatch = 16_000

// DefaultMaxAhead is UsageConfig.MaxAhead unless configured: room for
// clocks that disagree, as metering APIs commonly allow.
const DefaultMaxAhead = 5 * time.Minute

func (c UsageConfig) withDefaults() UsageConfig {
	if c.DefaultCurrency == "" {
		c.DefaultCurrency = "USD"
	}
	if c.NewAccountOverdraft == nil {
		c.NewAccountOverdraft = &abacus.Overdraft{Unlimited: true}
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultUsageBatch
	}
	if c.MaxAhead == 0 {
		c.MaxAhead = DefaultMaxAhead
	}
	return c
}

// usageKind says what a usage item asks for.
type usageKind uint8

const (
	ingestEvent usageKind = iota
	voidEvent
	rerateEvent
	repriceEvent
)

// usageItem is one event to ingest, void, rerate or reprice, prepared
// outside the batch.
type usageItem struct {
	kind     usageKind
	event    abacus.UsageEvent // ingest: the event; void, rerate and reprice: its id and account
	customer *customerWallets
	revenue  int64
	result   *abacus.IngestResult
	// minuteDedupe: the event's scene has CSGHub's minute-level dedupe on.
	minuteDedupe bool
	shard        int // the worker whose batches take the account's usage
	// tooLate refuses an event older than Usage.MaxAge, once the batch
	// has found it is no duplicate.
	tooLate *abacus.Error
	// tried lists the write attempts that stored the item's event, by the
	// transaction id each reserved and the time it stamped on events: an
	// attempt whose commit was not confirmed may have committed all the
	// same, and the item's next attempt then finds its event stored by it.
	tried []attempt
}

type attempt struct {
	txID int64
	at   time.Time
}

// storedBy says whether s was stored by one of the item's own attempts:
// by its usage transaction, or, unpriced (which has none), by its stamp.
func (it *usageItem) storedBy(s *abacus.StoredEvent) bool {
	for _, a := range it.tried {
		if s.TxID != 0 && s.TxID == a.txID || s.TxID == 0 && s.ReceivedAt.Equal(a.at) {
			return true
		}
	}
	return false
}

// shardOf spreads accounts over n workers.
func shardOf(a abacus.AccountID, n int) int {
	h := fnv.New32a()
	h.Write([]byte(a))
	return int(h.Sum32() % uint32(n))
}

// usageJob is one caller's items: they join a batch together and are
// answered together, after its commit.
type usageJob struct {
	ctx   context.Context // the caller's
	items []usageItem
	done  chan error
	// queued is when it was handed to the engine: its batch's deadline
	// counts from its oldest job's.
	queued time.Time
}

// Ingest charges usage events exactly once each: an id stored before is a
// duplicate, a bad event is rejected with the field at fault, and the rest
// are rated with the price valid at their own time and charged in the same
// database transaction that stores them. It returns once that transaction
// has committed. The events must have passed Validate.
func (e *Engine) Ingest(ctx context.Context, events []abacus.UsageEvent) ([]abacus.IngestResult, error) {
	return e.IngestAfter(ctx, events, nil, nil)
}

// IngestAfter is Ingest for calls whose order must hold, as a file's
// lines' does: the call's events go into batches only once after is
// closed (nil: at once), and it closes queued (if not nil) once they have,
// or once the call ends before. Chained, a later call's events never go
// into a batch before an earlier call's, so that the earlier line wins a
// conflict over an id or an instance's minute, as within one call. Calls
// prepared side by side had been queued as each finished preparing (QA:
// abacus ingest's chunks in flight let a later line win 2% of ids sent
// twice).
func (e *Engine) IngestAfter(ctx context.Context, events []abacus.UsageEvent, after <-chan struct{}, queued chan<- struct{}) ([]abacus.IngestResult, error) {
	items := make([]usageItem, len(events))
	results := make([]abacus.IngestResult, len(events))
	for i := range events {
		items[i] = usageItem{kind: ingestEvent, event: events[i], result: &results[i]}
		results[i].ID = events[i].ID
	}
	if err := e.runUsageJob(ctx, items, after, queued); err != nil {
		return nil, err
	}
	return results, nil
}

// VoidEvents takes stored events back out, exactly once each: the account
// gets back what the month's cost drops by without the event (its own
// charge for a per-unit price; see abacus.StoredEvent.Refunded), and the
// rollups of the events' own periods are corrected. A missing or already
// voided event is rejected with its error; the others are voided.
func (e *Engine) VoidEvents(ctx context.Context, ids []string) ([]abacus.IngestResult, error) {
	return e.byID(ctx, voidEvent, ids)
}

// Rerate charges unpriced events whose price now exists, exactly once
// each, at the price valid at their own time. An event still without a
// price stays unpriced (its result says so); one that is not unpriced gets
// an error.
func (e *Engine) Rerate(ctx context.Context, ids []string) ([]abacus.IngestResult, error) {
	return e.byID(ctx, rerateEvent, ids)
}

// byID voids or rerates stored events, one result per id, found by the
// spelling the producer sent, as a repeat of the event would be.
func (e *Engine) byID(ctx context.Context, kind usageKind, ids []string) ([]abacus.IngestResult, error) {
	results := make([]abacus.IngestResult, len(ids))
	spelled := make([]string, len(ids))
	var lookup []string
	for i, id := range ids {
		spelled[i] = abacus.CanonicalEventID(id)
		// No event was stored under an id that is not UTF-8 or holds a
		// NUL, and PostgreSQL refuses such text outright: asked for it,
		// the lookup failed, and the answer said the ledger was
		// unreachable, for a client to try again for ever (QA).
		if utf8.ValidString(id) && !strings.ContainsRune(id, 0) {
			lookup = append(lookup, spelled[i])
			if !strings.EqualFold(id, spelled[i]) {
				lookup = append(lookup, id)
			}
		}
	}
	byID, err := e.storedEvents(ctx, lookup)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err() // the caller gave up (QA: an interrupted void said the ledger was unreachable)
	}
	if err != nil {
		e.cfg.Logger.Error("reading events", "err", err)
		return nil, &abacus.Error{Code: abacus.CodeUnavailable, Message: "the ledger is unreachable; try again"}
	}
	type found struct {
		item usageItem
		seq  int64
	}
	var fs []found
	for i, id := range ids {
		results[i].ID = id
		// The spelling sent first: an earlier release stored a braced or
		// urn UUID as sent, beside which the bare UUID is another event
		// (QA: the void of "{X}" took out "x"). See findSentSpellings.
		s := cmp.Or(byID[id], byID[spelled[i]])
		if s == nil {
			results[i].Status = abacus.IngestRejected
			results[i].Err = errNoEvent(id)
			continue
		}
		fs = append(fs, found{usageItem{kind: kind, event: s.UsageEvent, result: &results[i]}, s.Seq})
	}
	if kind == rerateEvent {
		// Charged in the order the usage happened, as they would have been
		// had their price been there: a batch stores its events in id
		// order, and an account with money for two of three was charged
		// its third day's and refused its second's (QA).
		slices.SortStableFunc(fs, func(a, b found) int {
			return cmp.Or(a.item.event.Time.Compare(b.item.event.Time), cmp.Compare(a.seq, b.seq))
		})
	}
	items := make([]usageItem, len(fs))
	for i := range fs {
		items[i] = fs[i].item
	}
	if err := e.runUsageJob(ctx, items, nil, nil); err != nil {
		return nil, err
	}
	return results, nil
}

// runUsageJob prepares the items, queues them and waits for their batch.
func (e *Engine) runUsageJob(ctx context.Context, items []usageItem, after <-chan struct{}, queued chan<- struct{}) error {
	// Its turn passes on only after the call before's has: a call that
	// queues nothing must not let the next one ahead of that one. The
	// call before closes it however it ends.
	inTurn := func() {
		if queued != nil {
			if after != nil {
				<-after
			}
			close(queued)
			queued = nil
		}
	}
	defer inTurn()
	errs := make([]error, len(items))
	for i := range items {
		errs[i] = e.checkTime(&items[i])
	}
	err := e.findSentSpellings(ctx, items)
	if err == nil {
		err = e.prepareAccounts(ctx, items, errs)
	}
	live := make([]usageItem, 0, len(items))
	for i := 0; err == nil && i < len(items); i++ {
		if errs[i] == nil {
			errs[i] = e.prepareUsage(ctx, &items[i])
		}
		var ae *abacus.Error
		switch {
		case errs[i] == nil:
			live = append(live, items[i])
		case errs[i] == errAnswered:
		case !errors.As(errs[i], &ae) || ae.Code == abacus.CodeInternal:
			err = errs[i]
		default:
			items[i].result.Status, items[i].result.Err = abacus.IngestRejected, ae
		}
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err() // the caller gave up waiting: nothing to log
	}
	if errors.Is(err, ErrClosed) {
		return err
	}
	if err != nil {
		// The database, not the events: fail the call, reject nothing.
		if ok, missed := e.prepareLog.Allow(time.Now()); ok {
			e.cfg.Logger.Error("preparing usage failed (logged once in 10 s at most)", "err", err, "not_logged", missed)
		}
		return &abacus.Error{Code: abacus.CodeUnavailable, Message: "the ledger is unreachable; send the events again: their ids make it safe"}
	}
	if len(live) == 0 {
		return nil
	}
	// Each account belongs to one worker, whose batches credit their own
	// revenue shard: batches of different workers lock different rows and
	// commit side by side.
	byShard := map[int][]usageItem{}
	for _, it := range live {
		byShard[it.shard] = append(byShard[it.shard], it)
	}
	if after != nil {
		select {
		case <-after:
		case <-e.closing:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	jobs := make([]*usageJob, 0, len(byShard))
	for shard, its := range byShard {
		job := &usageJob{ctx: ctx, items: its, done: make(chan error, 1), queued: time.Now()}
		e.queued.add(its)
		select {
		case e.usage[shard] <- job:
		case <-e.closing:
			e.queued.remove(its)
			return ErrClosed
		case <-ctx.Done():
			e.queued.remove(its)
			return ctx.Err()
		}
		jobs = append(jobs, job)
	}
	inTurn()
	var first error
	for _, job := range jobs {
		if err := e.waitUsage(ctx, job); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (e *Engine) waitUsage(ctx context.Context, job *usageJob) error {
	select {
	case err := <-job.done:
		return err
	case <-e.stopped:
		select {
		case err := <-job.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errNoEvent answers a void, rerate or reprice of an event not stored.
func errNoEvent(id string) *abacus.Error {
	return abacus.Errorf(abacus.CodeNotFound, "uuid", "event %q does not exist", id)
}

// errAnswered is firstSight's word that it answered the item itself.
var errAnswered = errors.New("ledger: answered before its batch")

// checkTime refuses an event past Usage.MaxAhead, and marks one before
// Usage.MaxAge to be refused once its batch has found it no duplicate.
func (e *Engine) checkTime(it *usageItem) error {
	if it.kind != ingestEvent {
		return nil
	}
	if ahead := e.cfg.Usage.MaxAhead; ahead > 0 {
		if now := e.cfg.Now(); it.event.Time.After(now.Add(ahead)) {
			return abacus.Errorf(abacus.CodeInvalid, "created_at", "%s is more than %s after abacus's clock (%s): check the producer's clock",
				it.event.Time.UTC().Format(time.RFC3339Nano), ahead, now.UTC().Format(time.RFC3339))
		}
	}
	if age := e.cfg.Usage.MaxAge; age > 0 {
		if now := e.cfg.Now(); it.event.Time.Before(now.Add(-age)) {
			it.tooLate = abacus.Errorf(abacus.CodeInvalid, "created_at", "%s is more than %s before abacus's clock (%s): events this late are refused, so that periods already billed stay as billed (--max-event-age; 0 takes any, to load history)",
				it.event.Time.UTC().Format(time.RFC3339Nano), spellAge(age), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// prepareUsage resolves an item's account (prepareAccounts has created
// it, if it may be) and the wallets its batch must lock.
func (e *Engine) prepareUsage(ctx context.Context, it *usageItem) error {
	cw, err := e.cache.customer(ctx, it.event.Account)
	if abacus.ErrorCodeOf(err) == abacus.CodeNotFound && e.cfg.Usage.NoAutoCreate {
		// What to do, where it said only that the account did not exist (QA).
		return abacus.Errorf(abacus.CodeNotFound, "user_uuid", "account %s does not exist, and this abacus makes none for events (--auto-create=false): create it first (POST /api/v1/accounts)", it.event.Account)
	}
	if err != nil {
		return abacus.RenameField(err, "user_uuid")
	}
	it.customer = cw
	// An event that names no instance has no minute to share with
	// another: CSGHub would drop every such event after a minute's first,
	// whatever its account, which is usage lost. A token event is one
	// request, not a minute of an instance's time: CSGHub checks minutes
	// only for other value types (IsNeedCheckMeteringInMinute), and
	// dropping the second request of a minute lost its usage (QA).
	it.minuteDedupe = it.kind == ingestEvent && e.cfg.Usage.MinuteDedupe[it.event.Scene] && it.event.CustomerID != "" &&
		it.event.ValueType != abacus.ValueTokens
	it.shard = shardOf(it.event.Account, len(e.usage))
	it.revenue, err = e.cache.systemBucket(ctx, abacus.SystemRevenue.ID(), abacus.RevenueShard(it.shard), cw.currency)
	return err
}

// spellAge says a horizon as operators set it: in days where it is
// whole days.
func spellAge(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// workUsage collects queued usage jobs, starting with first, into one
// batch of at most Usage.MaxBatch items, and commits it.
func (e *Engine) workUsage(queue chan *usageJob, first *usageJob) {
	jobs := []*usageJob{first}
	n := len(first.items)
fill:
	for n < e.cfg.Usage.MaxBatch {
		select {
		case j := <-queue:
			jobs = append(jobs, j)
			n += len(j.items)
		default:
			break fill
		}
	}
	e.runUsage(jobs, false)
}

// runUsage commits a usage batch, retrying it when it lost a race, and
// answers its jobs. A batch that fails is tried again once, job by job
// (retried says it is such a try): its commit may have gone through
// unconfirmed, which a second attempt finds (see usageItem.tried), or one
// job may be at fault. A job the database refuses is split down to the
// events at fault.
func (e *Engine) runUsage(jobs []*usageJob, retried bool) {
	oldest := jobs[0].queued
	for _, j := range jobs {
		if j.queued.Before(oldest) {
			oldest = j.queued
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), oldest.Add(batchDeadline))
	defer cancel()
	// A batch runs whatever happens to its callers, but not while the
	// engine closes once every one of them has gone: each would wait on a
	// database that does not answer for its minute, one after the other,
	// holding up shutdown (QA: 118 s for two batches the NATS consumer had
	// handed back at its grace). What is not committed is sent again.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-e.closing:
		case <-finished:
			return
		}
		for _, j := range jobs {
			select {
			case <-j.ctx.Done():
			case <-finished:
				return
			}
		}
		cancel()
	}()
	var items []*usageItem
	for _, j := range jobs {
		for i := range j.items {
			items = append(items, &j.items[i])
		}
	}
	err := e.commitRetrying(ctx, items)
	// A job the database refused is isolated below; several are tried one
	// by one first, so that the others commit whole.
	if err != nil && !retried && !errors.Is(err, abacus.ErrRetry) && ctx.Err() == nil && (len(jobs) > 1 || !errors.Is(err, abacus.ErrRefused)) {
		if ok, missed := e.splitLog.Allow(time.Now()); ok {
			e.cfg.Logger.Warn("usage batch failed; retrying it job by job (logged once in 10 s at most)", "jobs", len(jobs), "err", err, "not_logged", missed)
		}
		for _, j := range jobs {
			e.runUsage([]*usageJob{j}, true)
		}
		return
	}
	if errors.Is(err, abacus.ErrRefused) && ctx.Err() == nil {
		err = e.isolate(ctx, items, err)
	}
	if err != nil {
		if ok, missed := e.failedLog.Allow(time.Now()); ok {
			e.cfg.Logger.Error("usage batch failed (logged once in 10 s at most)", "items", len(items), "err", err, "not_logged", missed)
		}
		message := "the ledger could not confirm the commit; send the events again: their ids make it safe"
		if heldByAnother(err) {
			message = lockedOutMessage
		}
		err = &abacus.Error{Code: abacus.CodeUnavailable, Message: message}
	}
	for _, j := range jobs {
		e.queued.remove(j.items)
		j.done <- err
	}
}

// isolate commits each half of items the database refused on its own,
// down to the events that carry the refused value (a rollup's sum past its
// range), and rejects those alone: one bad event must not hold back the
// others, nor stop a NATS stream that would redeliver it forever.
func (e *Engine) isolate(ctx context.Context, items []*usageItem, refusal error) error {
	if len(items) == 1 {
		it := items[0]
		// The database's own words go to the log, not to the producer.
		e.cfg.Logger.Warn("usage event refused", "id", it.event.ID, "err", refusal)
		*it.result = abacus.IngestResult{ID: it.event.ID, Status: abacus.IngestRejected, Err: abacus.Errorf(abacus.CodeOverflow, "value",
			"the database refused this event, as it would take a stored sum (its quarter hour's rollup) past what it holds; nothing was charged")}
		return nil
	}
	half := len(items) / 2
	for _, part := range [][]*usageItem{items[:half], items[half:]} {
		err := e.commitRetrying(ctx, part)
		if errors.Is(err, abacus.ErrRefused) && ctx.Err() == nil {
			err = e.isolate(ctx, part, err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// commitRetrying commits items, again while it loses races or the price
// book changes under it.
func (e *Engine) commitRetrying(ctx context.Context, items []*usageItem) error {
	for attempt := 0; ; attempt++ {
		err := e.commitUsage(ctx, items)
		if errors.Is(err, errStaleBook) && attempt < 10 {
			if err = e.loadBook(ctx); err != nil {
				return err
			}
			continue
		}
		if !errors.Is(err, abacus.ErrRetry) || attempt == 10 {
			if err == nil {
				e.batches.Add(1)
				e.ops.Add(int64(len(items)))
			}
			return err
		}
		e.retries.Add(1)
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
}

// errStaleBook stops a usage batch whose price book is older than the
// store's: the book is reloaded outside the write transaction, which on
// PostgreSQL holds a pooled connection, and the batch runs again. Loading
// inside it would take a second connection, and workers that all hold one
// would wait on each other.
var errStaleBook = errors.New("ledger: the price book changed")

// priceBook returns the loaded price book and its version, loading it
// the first time.
func (e *Engine) priceBook(ctx context.Context) (*rating.Book, int64, error) {
	e.bookMu.Lock()
	book, version := e.book, e.bookVersion
	e.bookMu.Unlock()
	if book != nil {
		return book, version, nil
	}
	if err := e.loadBook(ctx); err != nil {
		return nil, 0, err
	}
	return e.priceBook(ctx)
}

// loadBook reads the price book as it stands.
func (e *Engine) loadBook(ctx context.Context) error {
	pb, err := e.store.PriceBookLoad(ctx)
	if err != nil {
		return err
	}
	book, err := rating.BookOf(pb)
	if err != nil {
		return err
	}
	e.bookMu.Lock()
	defer e.bookMu.Unlock()
	if e.book == nil || pb.Version > e.bookVersion {
		e.book, e.bookVersion = book, pb.Version
	}
	return nil
}
