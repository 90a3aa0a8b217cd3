// Package ledger applies money movements to the store: the batched posting
// engine, the rules each operation follows, and the invariant checker
// behind `abacus verify`.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/quietlog"
	"github.com/abacus-billing/abacus/rating"
)

// Config tunes the engine. The zero value of each field means its default.
type Config struct {
	// MaxBatch bounds the ledger operations committed in one database
	// transaction; usage batches have their own bound, Usage.MaxBatch.
	MaxBatch int
	// Workers is how many batches may be in flight at once. SQLite has one
	// writer, so more than one only helps on PostgreSQL.
	Workers int
	// QueueSize bounds the operations waiting for a batch; a full queue
	// makes Submit wait (back-pressure), never grow.
	QueueSize int
	// CacheAccounts bounds the accounts whose wallet ids are cached.
	CacheAccounts int
	// Now is the clock; tests inject their own.
	Now    func() time.Time
	Logger *slog.Logger
	// DrawOrder is the order charges, holds and usage draw from a
	// customer's buckets; empty: abacus.DefaultDrawOrder.
	DrawOrder []abacus.Bucket
	// Usage tunes how usage events are charged.
	Usage UsageConfig
}

func (c Config) withDefaults() Config {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 4000
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4 * c.MaxBatch * c.Workers
	}
	if len(c.DrawOrder) == 0 {
		c.DrawOrder = abacus.DefaultDrawOrder
	}
	if c.CacheAccounts <= 0 {
		c.CacheAccounts = DefaultCacheAccounts
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Usage = c.Usage.withDefaults()
	return c
}

// DefaultCacheAccounts is how many accounts' wallet ids an engine keeps
// unless configured otherwise.
const DefaultCacheAccounts = 100_000

// ErrClosed is returned by Submit after Close.
var ErrClosed = &abacus.Error{Code: abacus.CodeUnavailable, Message: "the ledger is shutting down; retry against another instance or later"}

// Engine batches ledger operations: many operations commit in one database
// transaction, each touched balance row is updated once per batch with the
// netted result, and every caller is answered only after the commit.
type Engine struct {
	store abacus.Store
	cfg   Config
	queue chan *pending
	usage []chan *usageJob // per worker: usage batches are kept apart from other operations
	cache *walletCache

	bookMu      sync.Mutex
	book        *rating.Book
	bookVersion int64

	// usesMu guards usesWritten: the latest event time per price version
	// and shard that this engine's committed batches recorded. A batch
	// leaves out a use no later than that, which the store holds already.
	usesMu      sync.Mutex
	usesWritten map[priceUse]time.Time

	queued *queuedIDs

	closing   chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	workers   sync.WaitGroup

	batches, ops, retries atomic.Int64

	// failedLog, splitLog, prepareLog and ledgerLog quiet "usage batch
	// failed", "retrying it job by job", "preparing usage" and "ledger
	// batch failed", which repeat for every batch and call while the
	// database is down (QA: 78 lines in 20 s).
	failedLog, splitLog, prepareLog, ledgerLog quietlog.Limiter
}

// New starts an engine over store. Call Close to stop it.
func New(store abacus.Store, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		store:       store,
		cfg:         cfg,
		queue:       make(chan *pending, cfg.QueueSize),
		usage:       make([]chan *usageJob, cfg.Workers),
		cache:       newWalletCache(store, cfg.CacheAccounts),
		queued:      newQueuedIDs(),
		failedLog:   quietlog.Limiter{Period: 10 * time.Second},
		splitLog:    quietlog.Limiter{Period: 10 * time.Second},
		prepareLog:  quietlog.Limiter{Period: 10 * time.Second},
		ledgerLog:   quietlog.Limiter{Period: 10 * time.Second},
		usesWritten: map[priceUse]time.Time{},
		closing:     make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	for w := range cfg.Workers {
		e.usage[w] = make(chan *usageJob, cfg.QueueSize/16/cfg.Workers+1)
		e.workers.Add(1)
		go e.work(e.usage[w])
	}
	return e
}

// Store returns the engine's store.
func (e *Engine) Store() abacus.Store { return e.store }

// Now returns the engine clock's time.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

// Stats reports how many batches and operations the engine committed and
// how many batches it had to retry after losing a race.
func (e *Engine) Stats() (batches, ops, retries int64) {
	return e.batches.Load(), e.ops.Load(), e.retries.Load()
}

type pending struct {
	key  string
	hash []byte
	op   abacus.Op
	prep prepared
	done chan outcome
	// queued is when it was handed to the engine: its batch's deadline
	// counts from its oldest operation's.
	queued time.Time
}

type outcome struct {
	res abacus.Result
	err error
}

// MaxKeyLength bounds an idempotency key.
const MaxKeyLength = 255

// ValidateKey checks an idempotency key: 1 to 255 printable ASCII characters.
func ValidateKey(key string) error {
	if key == "" {
		return abacus.Errorf(abacus.CodeInvalid, "Idempotency-Key", "is required for every operation that moves money")
	}
	if len(key) > MaxKeyLength {
		return abacus.Errorf(abacus.CodeInvalid, "Idempotency-Key", "is longer than %d characters", MaxKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return abacus.Errorf(abacus.CodeInvalid, "Idempotency-Key", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// Submit applies op under the idempotency key and returns its result once
// it is committed. A key seen before with the same request returns the
// original result marked Replayed; with a different request, an
// idempotency_conflict error. A rejected operation changes nothing and
// leaves the key unused.
//
// If ctx ends first, Submit returns ctx.Err() and the operation may or may
// not commit; retrying with the same key is always safe.
func (e *Engine) Submit(ctx context.Context, key string, op abacus.Op) (abacus.Result, error) {
	if err := ValidateKey(key); err != nil {
		return abacus.Result{}, err
	}
	return e.submit(ctx, key, op)
}

func (e *Engine) submit(ctx context.Context, key string, op abacus.Op) (abacus.Result, error) {
	if err := op.Validate(); err != nil {
		return abacus.Result{}, err
	}
	p := &pending{key: key, op: op, done: make(chan outcome, 1), queued: time.Now()}
	if key != "" {
		var err error
		if p.hash, err = requestHash(op); err != nil {
			return abacus.Result{}, err
		}
	}
	// Resolve accounts to wallet ids here, in the caller's goroutine, so
	// the batch writer only does database work that needs its locks.
	var err error
	if p.prep, err = e.prepare(ctx, op); err != nil {
		return abacus.Result{}, err
	}
	select {
	case e.queue <- p:
	case <-e.closing:
		return abacus.Result{}, ErrClosed
	case <-ctx.Done():
		return abacus.Result{}, ctx.Err()
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-e.stopped:
		// The workers are gone; if they took p they answered it first.
		select {
		case o := <-p.done:
			return o.res, o.err
		default:
			return abacus.Result{}, ErrClosed
		}
	case <-ctx.Done():
		return abacus.Result{}, ctx.Err()
	}
}

// requestHash identifies a request for its idempotency key. Ops are plain
// data, but not every value of their fields has a JSON form (a time after
// the year 9999 has none), and such a request is refused, not hashed.
func requestHash(op abacus.Op) ([]byte, error) {
	b, err := json.Marshal(op)
	if err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "", "the request cannot be encoded: %v", err)
	}
	h := sha256.New()
	h.Write([]byte(op.Kind()))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil), nil
}

// Close stops taking operations, commits or rolls back what is in flight,
// answers every caller, and returns when the workers are done.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.closing)
		e.workers.Wait()
		close(e.stopped)
	})
	return nil
}

func (e *Engine) work(usage chan *usageJob) {
	defer e.workers.Done()
	for {
		select {
		case p := <-e.queue:
			e.workLedger(p)
		case j := <-usage:
			e.workUsage(usage, j)
		case <-e.closing:
			// Drain what was queued before the close, then stop.
			select {
			case p := <-e.queue:
				e.workLedger(p)
			case j := <-usage:
				e.workUsage(usage, j)
			default:
				return
			}
		}
	}
}

// workLedger collects queued operations, starting with first, into one
// batch and commits it.
func (e *Engine) workLedger(first *pending) {
	batch := []*pending{first}
fill:
	for len(batch) < e.cfg.MaxBatch {
		select {
		case p := <-e.queue:
			batch = append(batch, p)
		default:
			break fill
		}
	}
	e.run(batch)
}

// batchDeadline is how long a batch may take, from when its oldest work
// was handed to the engine, waiting for the database's write lock
// included: counted from the batch's start, work queued behind batches
// that waited for another process's lock waited a minute for each
// (regression QA: a top-up's answer came past the API's deadline).
var batchDeadline = time.Minute

// heldByAnother reports whether err says another process held the database's
// write lock until a batch gave up waiting for it: nothing of the batch
// was written, unlike a commit whose outcome is unknown.
func heldByAnother(err error) bool {
	var busy interface{ Busy() bool }
	return errors.As(err, &busy) && busy.Busy()
}

// LockedOut reports whether err is the answer to work that was not
// written because another process held the write lock (lockedOutMessage).
func LockedOut(err error) bool {
	var ae *abacus.Error
	return errors.As(err, &ae) && ae.Code == abacus.CodeUnavailable && ae.Message == lockedOutMessage
}

const lockedOutMessage = "another process has held the database's write lock for a minute (a long import, correction or rerate, or another abacus on the same file); nothing of this was written; once that is done, run it again: it is safe"

// run commits one batch, retrying when it lost a race with another writer,
// and answers every operation in it.
func (e *Engine) run(batch []*pending) {
	// The batch is not tied to any caller's context: once it has started,
	// it commits or rolls back on its own.
	oldest := batch[0].queued
	for _, p := range batch {
		if p.queued.Before(oldest) {
			oldest = p.queued
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), oldest.Add(batchDeadline))
	defer cancel()
	var outs []outcome
	var err error
	for attempt := 0; ; attempt++ {
		outs, err = e.commitBatch(ctx, batch)
		if !errors.Is(err, abacus.ErrRetry) || attempt == 10 {
			break
		}
		e.retries.Add(1)
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	if err != nil && len(batch) > 1 && !errors.Is(err, abacus.ErrRetry) && ctx.Err() == nil {
		// One bad operation must not sink the others: split the batch
		// until the failure is cornered. Nothing of the failed attempt was
		// written, and a retried key that did commit replays.
		e.cfg.Logger.Warn("ledger batch failed; retrying it in halves", "ops", len(batch), "err", err)
		e.run(batch[:len(batch)/2])
		e.run(batch[len(batch)/2:])
		return
	}
	if err != nil {
		if ok, missed := e.ledgerLog.Allow(time.Now()); ok {
			e.cfg.Logger.Error("ledger batch failed (logged once in 10 s at most)", "ops", len(batch), "err", err, "not_logged", missed)
		}
		fail := &abacus.Error{Code: abacus.CodeUnavailable, Message: "the ledger could not confirm the commit; retry with the same idempotency key"}
		if heldByAnother(err) {
			fail.Message = lockedOutMessage
		}
		for _, p := range batch {
			p.done <- outcome{err: fail}
		}
		return
	}
	e.batches.Add(1)
	e.ops.Add(int64(len(batch)))
	for i, p := range batch {
		p.done <- outs[i]
	}
}
