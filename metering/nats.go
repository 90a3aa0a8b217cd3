package metering

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/quietlog"
	"github.com/abacus-billing/abacus/ledger"
)

// Defaults of ConsumerConfig: CSGHub's stream and subjects.
const (
	DefaultStream = "meteringEventStream"
	// DefaultSubject is the subject CSGHub's producers publish to, token
	// events too.
	DefaultSubject = "accounting.metering.duration"
	// DefaultSubjects are the subjects the consumer takes by default, the
	// three CSGHub's metering consumer subscribes to: a deployment may
	// send token or quota events to their own subjects.
	DefaultSubjects          = "accounting.metering.duration,accounting.metering.token,accounting.metering.quota"
	DefaultDurable           = "abacus-metering"
	DefaultDeadLetterSubject = "accounting.dlq.meter"
)

// ReasonHeader is the header of a dead-lettered message that says why it
// was refused, naming the field ("value: 1.5 has a fraction; …"). A
// message of several events gives each bad one's index: "[2] value: …".
const ReasonHeader = "Abacus-Reason"

// More headers of a dead-lettered message: the error codes of its reasons
// ("invalid", "insufficient_funds", "not_found", …, comma separated), and
// the subject it came on.
const (
	CodeHeader    = "Abacus-Code"
	SubjectHeader = "Abacus-Subject"
)

// DefaultMaxBytes is what a pull fetches at most unless configured.
const DefaultMaxBytes = 64 << 20

// DefaultBatch is how many messages a pull fetches at most unless
// configured: as many as a usage batch holds events, since a pull is
// charged as one call and so bounds the engine's batches on this path.
// With a backlog, pulls of 16,000 charged nearly twice as many events a
// second as pulls of 1,000 (BenchmarkConsumerDrain). A pull waits no
// longer than MaxWait to fill, whatever its size.
const DefaultBatch = ledger.DefaultUsageBatch

// DefaultMaxEvents is how many events the consumer charges in one call
// at most unless configured: the engine's usage batch.
const DefaultMaxEvents = ledger.DefaultUsageBatch

// pullsInFlight is how many pulls the consumer holds at once: while one
// batch commits, the next is fetched, decoded and queued behind it, so
// the engine never waits for NATS. Memory is bounded by this many pulls.
const pullsInFlight = 2

// subjectRoom is what a delivered message may count beyond the server's
// max_payload (its headers and body): its subject and the ack reply.
const subjectRoom = 64 << 10

// maxRetryDelay caps the delay of a redelivery the consumer asks for.
const maxRetryDelay = time.Minute

// maxReason bounds a dead letter's reason, in bytes.
const maxReason = 4000

// ConsumerConfig configures a Consumer. Zero fields take their defaults.
type ConsumerConfig struct {
	URL string // nats://host:4222; several may be given, comma separated
	// Stream is created, capturing Subject's subjects, if it is missing;
	// a stream that exists is used as it is: the consumer takes what of
	// Subject it captures (see ensureStream).
	Stream string // default "meteringEventStream"
	// Subject is what the consumer takes: subjects or wildcard filters,
	// comma separated; default DefaultSubjects. Given, each must overlap
	// the stream's subjects; by default, those the stream does not
	// capture are named in the log.
	Subject           string
	Durable           string // the durable pull consumer; default "abacus-metering"
	DeadLetterSubject string // default "accounting.dlq.meter"; must not match Subject
	Batch             int    // messages fetched per pull, default DefaultBatch
	// MaxBytes bounds what one pull fetches (bodies, headers and
	// subjects), default 64 MiB; the consumer holds two pulls at most, so
	// this bounds its memory too. It is raised to the server's max_payload
	// and some room for subjects when that is larger, so that any message
	// the server takes can be fetched.
	MaxBytes int
	// MaxEvents bounds the events charged in one call, default
	// DefaultMaxEvents: a pull's messages are decoded and charged in
	// turns of at most this many events (a message's events stay in one
	// turn), which bounds the memory of decoded events as MaxBytes bounds
	// the messages'.
	MaxEvents int
	MaxWait   time.Duration // how long a pull waits to fill a batch, default 50ms
	AckWait   time.Duration // how long JetStream waits for an ack before redelivering, default 30s
	// RetryDelay is how long JetStream waits before redelivering a
	// message the consumer could not settle (the database is down); it
	// doubles with each delivery, up to a minute. Default 1s.
	RetryDelay time.Duration
	// RetryLimit is how many deliveries an event that keeps failing
	// with an internal error gets before its message is dead-lettered,
	// default 10. A batch the database cannot commit at all is retried
	// without limit.
	RetryLimit int
	Logger     *slog.Logger
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubjects
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.DeadLetterSubject == "" {
		c.DeadLetterSubject = DefaultDeadLetterSubject
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 50 * time.Millisecond
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.RetryLimit <= 0 {
		c.RetryLimit = 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ConfigError is a ConsumerConfig that Start refuses as written, naming
// the field at fault (Subject, DeadLetterSubject, Stream or Durable).
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return "metering: " + e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// validate checks the configuration and returns Subject's filters.
func (c ConsumerConfig) validate() ([]string, error) {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	filters, err := parseSubjects(c.Subject)
	if err != nil {
		return nil, &ConfigError{Field: "Subject", Err: err}
	}
	if !validSubject(c.DeadLetterSubject) {
		return nil, bad("DeadLetterSubject", "%q is not a NATS subject", c.DeadLetterSubject)
	}
	if strings.ContainsAny(c.DeadLetterSubject, "*>") {
		return nil, bad("DeadLetterSubject", "%q has a wildcard; it is where dead letters are published", c.DeadLetterSubject)
	}
	for _, f := range filters {
		if subjectCovers(f, c.DeadLetterSubject) {
			return nil, bad("DeadLetterSubject", "%q is within the subject %q: dead letters would come back as usage; give another dead-letter subject", c.DeadLetterSubject, f)
		}
	}
	for _, f := range [][2]string{{"Stream", c.Stream}, {"Durable", c.Durable}} {
		if f[1] == "" || strings.ContainsAny(f[1], " \t.*>/\\") {
			return nil, bad(f[0], "%q is not a valid name: no spaces, dots, wildcards or slashes", f[1])
		}
	}
	return filters, nil
}

// parseSubjects reads a comma-separated list of subjects and filters,
// space around each ignored. A filter given twice, or within another
// of the list, is left out: the server refuses overlapping filters.
func parseSubjects(list string) ([]string, error) {
	var filters []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if !validSubject(f) {
			return nil, fmt.Errorf("%q is not a NATS subject or a comma-separated list of them (%q)", list, f)
		}
		filters = append(filters, f)
	}
	return normalize(filters), nil
}

// ConsumerStats counts what a Consumer did since it was made.
type ConsumerStats struct {
	Received     int64 // messages fetched
	Redelivered  int64 // of them, messages JetStream had delivered before
	Accepted     int64 // events charged (or kept unpriced)
	Duplicate    int64 // events whose id was stored before: not charged again
	Rejected     int64 // events refused, each in a dead-lettered message
	DeadLettered int64 // messages dead-lettered
	Retried      int64 // messages handed back for a later redelivery
}

// Consumer takes usage events from a JetStream durable pull consumer:
// it fetches a batch, charges all of its events through the Pipeline in
// one call, and acks each message only after that call returned, so after
// the commit; it fetches the next batch while one commits. A message it
// cannot use is dead-lettered, never dropped.
type Consumer struct {
	cfg ConsumerConfig
	// explicit: Subject was given, not the default; then a subject of it
	// the stream does not capture is an error, not a line in the log.
	explicit bool
	// want is Subject's filters; filters what the durable takes of them,
	// as the stream captures them, and whole that this is the whole
	// stream (set by ensureStream).
	want, filters []string
	whole         bool
	// streamSubjects are the subjects the stream captures (none: a mirror
	// or a stream of sources), as ensureStream found them.
	streamSubjects []string
	// durableFilters are the durable's filters as ensureConsumer left
	// them (none: the whole stream).
	durableFilters []string
	// takes is filters as Start found them; nil if NATS was not reachable.
	takes []string
	p     *Pipeline
	st    abacus.Store
	log   *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
	failed  chan struct{} // closed when the consumer stops on its own: see Failed
	err     error         // why it failed

	// turns is the context of every turn's charge, ended stopGrace after
	// Stop: a turn the database does not answer is handed back then
	// instead of holding up shutdown for the turn's whole bound (QA: 295 s).
	turns    context.Context
	endTurns context.CancelFunc

	// Set by Start, then used by the fetch loop only.
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer

	received, redelivered, accepted, duplicate, rejected, deadLettered, retried atomic.Int64

	// failedLog quiets the failure of a batch, which repeats for every
	// redelivery while the database is down.
	failedLog quietlog.Limiter
	// refusedLog quiets dead letters the dead-letter stream refuses, and
	// deadLetterLog those that could not be recorded or published, which
	// repeat for every message while the cause lasts.
	refusedLog, deadLetterLog quietlog.Limiter
	// otherLog quiets the dead letters the consumer gets back (see leave
	// and deadLetter).
	otherLog quietlog.Limiter

	budget func() int // the byte budget of a pull: fetchBytes

	reconnectWait time.Duration // set by tests; zero: nats.go's default
	stopGrace     time.Duration // set by tests; zero: the constant
	stuckAfter    time.Duration // set by tests; zero: the constant
	stuck         stuckWatch    // the fetch loop's own

	// recheck is set on every reconnect: the server may have come back
	// without the stream or the durable (a store lost, a stream kept in
	// memory, a durable deleted while abacus was away), and a pull of a
	// durable that is not there gets no answer at all, so nothing else
	// would tell (QA: the consumer pulled into nothing for good).
	recheck atomic.Bool

	// Set by tests: beforeIngest runs when a batch of n messages has been
	// fetched and decoded, beforeAck when it has committed, before it is
	// settled. Two batches may call them at once.
	beforeIngest func(n int)
	beforeAck    func()
}

// NewConsumer returns a consumer that charges events through p and keeps
// dead letters in st. It does nothing until Start.
func NewConsumer(cfg ConsumerConfig, p *Pipeline, st abacus.Store) *Consumer {
	explicit := strings.TrimSpace(cfg.Subject) != ""
	cfg = cfg.withDefaults()
	c := &Consumer{cfg: cfg, explicit: explicit, p: p, st: st, log: cfg.Logger.With("component", "metering-nats"), failed: make(chan struct{}),
		failedLog: quietlog.Limiter{Period: 10 * time.Second}, refusedLog: quietlog.Limiter{Period: 10 * time.Second},
		deadLetterLog: quietlog.Limiter{Period: 10 * time.Second}, otherLog: quietlog.Limiter{Period: 10 * time.Second}}
	c.budget = c.fetchBytes
	c.turns, c.endTurns = context.WithCancel(context.Background())
	return c
}

// Start connects to NATS, creates the stream if it is missing and the
// durable pull consumer (AckExplicit, DeliverAll) or updates it, and starts
// fetching. It returns an error if the URL is malformed or, when NATS is
// reachable, if the stream does not capture the subject. When NATS is not
// reachable yet, Start returns at once and the consumer keeps trying, then
// sets up the stream and the durable once connected; if that setup finds
// the stream unusable, the consumer fails (see Failed). Cancelling ctx
// stops fetching as Stop does; Stop must still be called.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("metering: the consumer was stopped")
	}
	if c.started {
		return errors.New("metering: the consumer is already started")
	}
	want, err := c.cfg.validate()
	if err != nil {
		return err
	}
	c.want = want
	if err := CheckURL(c.cfg.URL); err != nil {
		return fmt.Errorf("metering: URL %w", err)
	}
	log := c.log
	var quietUntil atomic.Int64
	opts := []nats.Option{
		nats.Name("abacus-metering"),
		// A consumer whose connection gives up stops billing while abacus
		// goes on answering, so it never gives up: not after any number of
		// attempts, not on a server that refuses the credentials for a
		// while (as one restarted with new ones does until they are
		// rolled out), and not when NATS is down as abacus starts.
		nats.MaxReconnects(-1),
		nats.IgnoreAuthErrorAbort(),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		// Attempts come every few seconds, forever: a log line for each
		// would bury everything else.
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if now := time.Now(); now.UnixNano() >= quietUntil.Load() {
				quietUntil.Store(now.Add(time.Minute).UnixNano())
				log.Warn("NATS is not reachable; still trying (logged once a minute at most)", "err", err)
			}
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("NATS connected", "url", RedactURL(nc.ConnectedUrlRedacted())) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "url", RedactURL(nc.ConnectedUrlRedacted()))
			c.recheck.Store(true)
		}),
	}
	if c.reconnectWait > 0 {
		opts = append(opts, nats.ReconnectWait(c.reconnectWait))
	}
	nc, err := nats.Connect(c.cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("metering: connecting to NATS at %s: %w", RedactURL(c.cfg.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("metering: %w", err)
	}
	c.nc, c.js = nc, js
	if nc.IsConnected() {
		// Reachable: a stream that cannot be used is an error of the
		// caller's settings, told now.
		if err := c.setup(ctx); err != nil {
			nc.Close()
			return err
		}
		c.takes = slices.Clone(c.filters)
		c.logStarted()
	} else {
		args := []any{"url", RedactURL(c.cfg.URL)}
		if err := nc.LastError(); err != nil {
			args = append(args, "err", err)
		}
		c.log.Warn("NATS is not reachable yet; the metering consumer starts once it is", args...)
	}
	runCtx, cancel := context.WithCancel(ctx)
	c.cancel, c.done, c.started = cancel, make(chan struct{}), true
	go c.run(runCtx)
	return nil
}

func (c *Consumer) logStarted() {
	filter := strings.Join(c.durableFilters, ",") // the durable's, as ensureConsumer left it
	if filter == "" {
		filter = "none (the whole stream)"
	}
	c.log.Info("metering consumer started", "stream", c.cfg.Stream, "takes", strings.Join(c.filters, ","), "filter", filter, "durable", c.cfg.Durable, "dead_letters", c.cfg.DeadLetterSubject)
	if v := c.nc.ConnectedServerVersion(); !versionAtLeast(v, 2, 10) {
		c.log.Warn("nats-server before 2.10: in abacus's tests 2.9.10 (Debian 12's), after a crash of abacus or a database outage, sometimes never "+
			"delivered again a message handed back or left unacknowledged: it stayed pending, uncharged, until abacus restarted; 2.15 did not. Upgrade nats-server", "nats_server", v)
	}
}

// Failed is closed when the consumer stops on its own, for good: its
// connection was closed (a server error nats.go does not retry), or the
// stream turned out unusable when it was set up after Start. Usage is
// then no longer charged from NATS, so a service should stop and be
// restarted rather than carry on. Err says why. Stop does not close it.
func (c *Consumer) Failed() <-chan struct{} { return c.failed }

// Err returns why the consumer failed, or nil if it has not.
func (c *Consumer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Consumer) fail(err error) {
	c.log.Error("the metering consumer stops: usage on NATS is no longer charged", "err", err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.failed)
	}
}

// Stop stops fetching, lets the batches in flight commit and be acked,
// and closes the connection. It is safe to call more than once, and before
// Start.
func (c *Consumer) Stop() {
	c.mu.Lock()
	c.stopped = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	grace := time.AfterFunc(cmp.Or(c.stopGrace, stopGrace), c.endTurns)
	<-done
	grace.Stop()
}

// stopGrace is how long Stop lets the turns in flight try to commit.
const stopGrace = 30 * time.Second

// Takes is what the consumer takes of the subjects configured: those its
// stream captures, as it found them when it started; nil if NATS was not
// reachable then (it works them out once it is, and logs them).
func (c *Consumer) Takes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.takes)
}

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Received:     c.received.Load(),
		Redelivered:  c.redelivered.Load(),
		Accepted:     c.accepted.Load(),
		Duplicate:    c.duplicate.Load(),
		Rejected:     c.rejected.Load(),
		DeadLettered: c.deadLettered.Load(),
		Retried:      c.retried.Load(),
	}
}

// run sets up the stream and the durable if Start could not, then
// fetches batches and hands each to a goroutine of its own, at most
// pullsInFlight at once, until ctx is done or the connection is closed;
// then it waits for them and closes the connection.
func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	var handling sync.WaitGroup
	defer func() {
		handling.Wait()
		c.nc.FlushTimeout(time.Second) // the last naks
		c.nc.Close()
	}()
	if c.cons == nil {
		if err := c.setupOnceConnected(ctx); err != nil {
			if ctx.Err() == nil {
				c.fail(err)
			}
			return
		}
		c.logStarted()
	}
	held := make(chan struct{}, pullsInFlight)
	var lastQueued <-chan struct{} // closed once the pull before is in batches
	failures := 0
	seen := time.Now() // when the durable was last known to be there
	oversized := false
	for ctx.Err() == nil {
		held <- struct{}{} // wait until fewer than pullsInFlight pulls are held
		n, opts := c.cfg.Batch, []jetstream.FetchOpt{jetstream.FetchMaxWait(c.cfg.MaxWait)}
		if oversized {
			n = 1 // alone, with no byte budget
		} else {
			opts = append(opts, jetstream.FetchMaxBytes(c.budget()))
		}
		began := time.Now()
		fetched, err := c.cons.Fetch(n, opts...)
		var msgs []jetstream.Msg
		if err == nil {
			for m := range fetched.Messages() {
				msgs = append(msgs, m)
			}
			err = fetched.Error()
		}
		// A pull that ends early with nothing and no error was refused the
		// next message for being over the byte budget (larger than the
		// max_payload this connection was told, as after the server's was
		// lowered): the next pull takes that message alone.
		oversized = !oversized && err == nil && len(msgs) == 0 && time.Since(began) < c.cfg.MaxWait/2
		if len(msgs) > 0 {
			seen = time.Now()
			// Even when stopping: they were delivered, so settle them.
			after, queued := lastQueued, make(chan struct{})
			lastQueued = queued
			handling.Add(1)
			go func() {
				defer handling.Done()
				c.handle(msgs, after, queued)
				<-held
			}()
		} else {
			<-held
		}
		if err == nil && len(msgs) == 0 && (c.recheck.Swap(false) || time.Since(seen) > durableCheck) {
			seen = time.Now()
			if _, ierr := c.cons.Info(ctx); isMissing(ierr) {
				err = ierr
			}
		}
		if err != nil {
			c.stuck.unknown() // NATS out of reach: the server is owed an ack wait once back
		} else if time.Since(c.stuck.checked) >= min(stuckCheck, c.stuckLimit()/4) {
			c.stuck.checked = time.Now()
			info, ierr := c.cons.Info(ctx)
			// A database out of reach keeps messages pending too, handed
			// back by whichever process gets them (QA: one that got none
			// had stopped, blaming the server).
			_, dberr := c.st.PriceBookVersion(ctx)
			if ierr != nil || dberr != nil {
				c.stuck.unknown()
			} else if serr := c.stuck.stuck(info, c.retried.Load(), time.Now(), c.stuckLimit()); serr != nil {
				c.fail(serr)
				return
			}
		}
		if err == nil || len(msgs) > 0 {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if c.nc.IsClosed() {
			// nats.go never gives up reconnecting here, so this is a
			// server error it does not retry, or Close from elsewhere.
			c.fail(fmt.Errorf("metering: the NATS connection was closed: %w", cmp.Or(c.nc.LastError(), err)))
			return
		}
		failures++
		c.log.Warn("fetching usage events failed", "err", err, "failures", failures)
		select {
		case <-ctx.Done():
			continue
		case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 5*time.Second)):
		}
		if isMissing(err) {
			// Someone deleted the durable (or its stream): make them
			// again, after the wait: a stream made again within a few
			// milliseconds of its deletion came up with the old one's
			// state and took no messages (nats-server 2.15, under load).
			if serr := c.ensureStream(ctx); serr != nil {
				c.log.Error("recreating the stream failed", "err", serr)
			} else if cerr := c.ensureConsumer(ctx); cerr != nil {
				c.log.Error("recreating the durable consumer failed", "err", cerr)
			} else {
				c.log.Warn("the stream and the durable consumer are set up again, made if missing: the server said one was gone, or JetStream did not answer",
					"stream", c.cfg.Stream, "durable", c.cfg.Durable, "cause", err)
			}
		}
	}
}

func (c *Consumer) stuckLimit() time.Duration { return cmp.Or(c.stuckAfter, stuckAfter) }

// durableCheck is how long the consumer pulls nothing before it asks
// whether its durable is still there.
const durableCheck = 5 * time.Second

// isMissing tells an error that says the durable or its stream is gone.
func isMissing(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders)
}

// fetchBytes is the byte budget of a pull. A message larger than the
// budget is not delivered (the server ends the pull instead), so the
// budget is never below the largest message the server takes; its
// max_payload is read from the connection each time, as a reconnect may
// bring a different one.
func (c *Consumer) fetchBytes() int {
	return max(c.cfg.MaxBytes, int(c.nc.MaxPayload())+subjectRoom)
}
