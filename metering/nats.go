package metering

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/quietlog"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering/decode"
)

// Defaults of ConsumerConfig: CSGHub's stream and subjects.
const (
	DefaultStream            = "meteringEventStream"
	DefaultSubject           = "accounting.metering.duration"
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
	// Stream is created, capturing Subject, if it is missing; a stream
	// that exists is used as it is and must capture Subject.
	Stream            string // default "meteringEventStream"
	Subject           string // the consumer's filter; default "accounting.metering.duration"
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
		c.Subject = DefaultSubject
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

func (c ConsumerConfig) validate() error {
	for _, s := range []struct{ name, v string }{{"Subject", c.Subject}, {"DeadLetterSubject", c.DeadLetterSubject}} {
		if !validSubject(s.v) {
			return fmt.Errorf("metering: %s %q is not a NATS subject", s.name, s.v)
		}
	}
	if strings.ContainsAny(c.DeadLetterSubject, "*>") {
		return fmt.Errorf("metering: DeadLetterSubject %q has a wildcard", c.DeadLetterSubject)
	}
	if subjectCovers(c.Subject, c.DeadLetterSubject) {
		return fmt.Errorf("metering: DeadLetterSubject %q matches Subject %q: dead letters would come back", c.DeadLetterSubject, c.Subject)
	}
	if c.Stream == "" || strings.ContainsAny(c.Stream, " \t.*>") || c.Durable == "" || strings.ContainsAny(c.Durable, " \t.*>") {
		return fmt.Errorf("metering: stream %q or durable %q is not a valid name", c.Stream, c.Durable)
	}
	return nil
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
	p   *Pipeline
	st  abacus.Store
	log *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
	failed  chan struct{} // closed when the consumer stops on its own: see Failed
	err     error         // why it failed

	// Set by Start, then used by the fetch loop only.
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer

	received, redelivered, accepted, duplicate, rejected, deadLettered, retried atomic.Int64

	// failedLog quiets the failure of a batch, which repeats for every
	// redelivery while the database is down.
	failedLog quietlog.Limiter

	budget func() int // the byte budget of a pull: fetchBytes

	reconnectWait time.Duration // set by tests; zero: nats.go's default

	// Set by tests: beforeIngest runs when a batch of n messages has been
	// fetched and decoded, beforeAck when it has committed, before it is
	// settled. Two batches may call them at once.
	beforeIngest func(n int)
	beforeAck    func()
}

// NewConsumer returns a consumer that charges events through p and keeps
// dead letters in st. It does nothing until Start.
func NewConsumer(cfg ConsumerConfig, p *Pipeline, st abacus.Store) *Consumer {
	cfg = cfg.withDefaults()
	c := &Consumer{cfg: cfg, p: p, st: st, log: cfg.Logger.With("component", "metering-nats"), failed: make(chan struct{}),
		failedLog: quietlog.Limiter{Period: 10 * time.Second}}
	c.budget = c.fetchBytes
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
	if err := c.cfg.validate(); err != nil {
		return err
	}
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
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", RedactURL(nc.ConnectedUrlRedacted())) }),
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
	c.log.Info("metering consumer started", "stream", c.cfg.Stream, "subject", c.cfg.Subject, "durable", c.cfg.Durable, "dead_letters", c.cfg.DeadLetterSubject)
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
	<-done
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

// setup makes sure of the stream and the durable consumer.
func (c *Consumer) setup(ctx context.Context) error {
	if err := c.ensureStream(ctx); err != nil {
		return err
	}
	return c.ensureConsumer(ctx)
}

// unusableError marks a setup error that trying again will not help: a
// stream that exists but cannot serve the consumer, a durable the server
// will not bring to the consumer's settings.
type unusableError struct{ error }

func (e unusableError) Unwrap() error { return e.error }

// ensureStream creates the stream if it is missing, and checks that it
// captures the subject.
func (c *Consumer) ensureStream(ctx context.Context) error {
	s, err := c.js.Stream(ctx, c.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = c.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        c.cfg.Stream,
			Description: "usage events for metering (created by abacus)",
			Subjects:    []string{c.cfg.Subject},
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another instance won
			s, err = c.js.Stream(ctx, c.cfg.Stream)
		} else if err == nil {
			c.log.Info("created JetStream stream", "stream", c.cfg.Stream, "subject", c.cfg.Subject)
		}
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		// What a server without JetStream answers: say so.
		return fmt.Errorf("metering: stream %s: %w (is JetStream enabled on the NATS server? nats-server -js)", c.cfg.Stream, err)
	case err != nil:
		return fmt.Errorf("metering: stream %s: %w", c.cfg.Stream, err)
	}
	cfg := s.CachedInfo().Config
	c.warnLimits(cfg)
	subjects := cfg.Subjects
	if len(subjects) == 0 { // a mirror or a stream of sources: the server checks the filter
		return nil
	}
	for _, p := range subjects {
		if subjectCovers(p, c.cfg.Subject) {
			return nil
		}
	}
	return unusableError{fmt.Errorf("metering: stream %s captures %s, not %s", c.cfg.Stream, strings.Join(subjects, ", "), c.cfg.Subject)}
}

// warnLimits tells of a stream's settings by which the server may drop
// usage abacus has not charged yet: it uses a stream as it finds it, but
// those are lost events, told once at setup.
func (c *Consumer) warnLimits(cfg jetstream.StreamConfig) {
	var why []string
	if cfg.Retention != jetstream.LimitsPolicy {
		why = append(why, fmt.Sprintf("retention %s (a message no consumer is interested in yet, as while the durable is missing, is dropped)", cfg.Retention))
	}
	if cfg.MaxAge > 0 {
		why = append(why, fmt.Sprintf("max_age %s", cfg.MaxAge))
	}
	if cfg.MaxMsgs > 0 || cfg.MaxBytes > 0 || cfg.MaxMsgsPerSubject > 0 {
		why = append(why, fmt.Sprintf("max_msgs %d, max_bytes %d, max_msgs_per_subject %d", cfg.MaxMsgs, cfg.MaxBytes, cfg.MaxMsgsPerSubject))
	}
	if len(why) > 0 {
		c.log.Warn("the stream may drop usage events before abacus charges them (while abacus is down, say)", "stream", cfg.Name, "settings", strings.Join(why, "; "))
	}
}

// ensureConsumer creates the durable pull consumer or brings its
// settings up to date.
func (c *Consumer) ensureConsumer(ctx context.Context) error {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		Description:   "abacus metering",
		FilterSubject: c.cfg.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: max(1000, 2*c.cfg.Batch),
	})
	if err != nil {
		err = fmt.Errorf("metering: durable consumer %s on stream %s: %w", c.cfg.Durable, c.cfg.Stream, err)
		// The server refused the durable's settings (one made elsewhere
		// with a deliver policy that cannot be changed, say): that stays
		// so. Only JetStream not being available yet may pass.
		var api *jetstream.APIError
		if errors.As(err, &api) && api.Code != http.StatusServiceUnavailable && api.Code != http.StatusRequestTimeout {
			return unusableError{err}
		}
		return err
	}
	c.cons = cons
	return nil
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
	failures := 0
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
			// Even when stopping: they were delivered, so settle them.
			handling.Add(1)
			go func() {
				defer handling.Done()
				c.handle(msgs)
				<-held
			}()
		} else {
			<-held
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
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, nats.ErrNoResponders) {
			// Someone deleted the durable (or its stream): make them
			// again, after the wait: a stream made again within a few
			// milliseconds of its deletion came up with the old one's
			// state and took no messages (nats-server 2.15, under load).
			if err := c.ensureStream(ctx); err != nil {
				c.log.Error("recreating the stream failed", "err", err)
			} else if err := c.ensureConsumer(ctx); err != nil {
				c.log.Error("recreating the durable consumer failed", "err", err)
			} else {
				c.log.Warn("the durable consumer was missing and is made again", "stream", c.cfg.Stream, "durable", c.cfg.Durable)
			}
		}
	}
}

// setupOnceConnected waits for the connection, then sets up the stream
// and the durable, trying again with a growing delay while that fails for
// a reason that may pass (JetStream not ready, a timeout). It returns an
// error if the stream is unusable, the connection closed or ctx is done.
func (c *Consumer) setupOnceConnected(ctx context.Context) error {
	// Registered before the status is read, so no change is missed.
	changed := c.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer c.nc.RemoveStatusListener(changed)
	failures := 0
	for {
		switch {
		case c.nc.IsClosed():
			return fmt.Errorf("metering: the NATS connection was closed before the consumer was set up: %w", cmp.Or(c.nc.LastError(), nats.ErrConnectionClosed))
		case !c.nc.IsConnected():
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
			}
			continue
		}
		err := c.setup(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, new(unusableError)):
			return err
		}
		failures++
		c.log.Warn("setting up the JetStream stream and durable consumer failed; trying again", "err", err, "failures", failures)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(100*time.Millisecond<<min(failures-1, 6), 5*time.Second)):
		}
	}
}

// fetchBytes is the byte budget of a pull. A message larger than the
// budget is not delivered (the server ends the pull instead), so the
// budget is never below the largest message the server takes; its
// max_payload is read from the connection each time, as a reconnect may
// bring a different one.
func (c *Consumer) fetchBytes() int {
	return max(c.cfg.MaxBytes, int(c.nc.MaxPayload())+subjectRoom)
}

// inMsg is one fetched message and what became of it.
type inMsg struct {
	msg       jetstream.Msg
	delivered uint64        // deliveries so far, this one included
	seq       uint64        // stream sequence
	bad       *abacus.Error // the body could not be split into events
	first, n  int           // its items in the batch
}

// batch is the state of handling one fetched batch.
type batch struct {
	ctx context.Context
	// dlq says where dead letters go: 0 not looked up yet, 1 to the
	// JetStream stream that captures the subject, -1 plainly (none does).
	dlq int
	// instance tells the consumer's stream from an earlier one of the
	// same name, "" until looked up: see deadLetter.
	instance string
}

// handle charges a pull's messages and settles each: ack, dead-letter
// and ack, or hand back for redelivery. It charges them in turns of at
// most MaxEvents events, one Pipeline call each, decoding a turn's
// messages only when its turn comes: a pull is bounded in bytes, and a
// message that holds an array of events decodes into many times its size.
func (c *Consumer) handle(msgs []jetstream.Msg) {
	var turn []inMsg
	var items []decode.Item
	fresh := time.Now() // when JetStream last restarted the ack wait of the pull's messages
	for i, m := range msgs {
		in := inMsg{msg: m, delivered: 1}
		if md, err := m.Metadata(); err == nil {
			in.delivered, in.seq = md.NumDelivered, md.Sequence.Stream
		}
		c.received.Add(1)
		if in.delivered > 1 {
			c.redelivered.Add(1)
		}
		its, err := decodeMessage(m)
		if err != nil {
			in.bad = asAbacusError(err)
		}
		if len(items) > 0 && len(items)+len(its) > c.cfg.MaxEvents {
			c.charge(turn, items)
			turn, items = nil, nil
			if time.Since(fresh) > c.cfg.AckWait/2 {
				// The turns so far took long: keep JetStream from
				// redelivering the messages still waiting for theirs.
				for _, w := range msgs[i:] {
					w.InProgress()
				}
				fresh = time.Now()
			}
		}
		in.first, in.n = len(items), len(its)
		items = append(items, its...)
		turn = append(turn, in)
	}
	c.charge(turn, items)
}

// charge charges a turn's events in one Pipeline call and settles its
// messages.
func (c *Consumer) charge(in []inMsg, items []decode.Item) {
	// Whatever happens to the caller, let the batch commit: an abandoned
	// commit is only redelivered as duplicates, but waiting costs nothing.
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.AckWait)
	defer cancel()
	if c.beforeIngest != nil {
		c.beforeIngest(len(in))
	}
	results, err := c.p.Ingest(ctx, items)
	if c.beforeAck != nil {
		c.beforeAck()
	}
	if err != nil {
		if ok, missed := c.failedLog.Allow(time.Now()); ok {
			c.log.Error("charging a batch of usage events failed; it will be redelivered (logged once in 10 s at most)", "messages", len(in), "events", len(items), "err", err, "not_logged", missed)
		}
		for i := range in {
			c.retry(&in[i])
		}
		return
	}
	b := &batch{ctx: ctx}
	var acks []jetstream.Msg
	for i := range in {
		m := &in[i]
		var rs []abacus.IngestResult
		if m.bad == nil {
			rs = results[m.first : m.first+m.n]
		}
		if c.settle(b, m, rs) {
			acks = append(acks, m.msg)
		}
	}
	c.ack(ctx, acks)
}

// settle counts a message's results and decides its fate. It returns true
// if the message is to be acked; otherwise it has been handed back.
func (c *Consumer) settle(b *batch, m *inMsg, rs []abacus.IngestResult) bool {
	var reasons, codes []string
	addCode := func(code abacus.ErrorCode) {
		if !slices.Contains(codes, string(code)) {
			codes = append(codes, string(code))
		}
	}
	transient, rejected := false, 0
	for j, r := range rs {
		switch r.Status {
		case abacus.IngestAccepted:
			c.accepted.Add(1)
		case abacus.IngestDuplicate:
			c.duplicate.Add(1)
		default:
			if isTransient(r.Err) && m.delivered < uint64(c.cfg.RetryLimit) {
				transient = true
				continue
			}
			rejected++
			reason, code := "rejected", abacus.CodeInternal
			if r.Err != nil {
				reason, code = r.Err.Error(), r.Err.Code
			}
			if len(rs) > 1 && !strings.HasPrefix(reason, "[") {
				reason = fmt.Sprintf("[%d] %s", j, reason)
			}
			reasons = append(reasons, reason)
			addCode(code)
		}
	}
	if m.bad != nil {
		reasons = append(reasons, m.bad.Error())
		addCode(m.bad.Code)
	}
	if transient {
		// The good events are stored: redelivered, they are duplicates.
		c.log.Warn("some usage events failed for a reason of ours; their message will be redelivered",
			"subject", m.msg.Subject(), "seq", m.seq, "deliveries", m.delivered)
		c.retry(m)
		return false
	}
	if len(reasons) == 0 {
		return true
	}
	if err := c.deadLetter(b, m, reasons, codes); err != nil {
		c.log.Error("dead-lettering a usage message failed; it will be redelivered", "subject", m.msg.Subject(), "seq", m.seq, "err", err)
		c.retry(m)
		return false
	}
	c.rejected.Add(int64(rejected))
	c.deadLettered.Add(1)
	return true
}

// deadLetter records a message in the store, then publishes it to the
// dead letter subject: through JetStream if a stream captures the subject,
// plainly if none does, and marks it published in the store. The store
// comes first: while the database is down nothing is published, so the
// subject sees a message once. A letter the store has marked published is
// not published again: the durable consumer deleted and made again replays
// the stream, and a redelivery may come after JetStream's duplicate window,
// past which the message id no longer makes a second copy a duplicate.
func (c *Consumer) deadLetter(b *batch, m *inMsg, reasons, codes []string) error {
	reason := clip(strings.Join(reasons, "; "))
	c.log.Warn("usage message dead-lettered", "subject", m.msg.Subject(), "seq", m.seq, "reason", reason)
	if b.instance == "" {
		// A stream deleted and made again, or one of a new cluster,
		// numbers its messages from 1 again: the sequence alone would
		// make a new message's dead letter look like an old one's and be
		// dropped. Its creation time tells the streams apart, and stays
		// the same for a redelivery. Looked up per batch, not kept from
		// setup: another instance may have made the stream again.
		s, err := c.js.Stream(b.ctx, c.cfg.Stream)
		if err != nil {
			return fmt.Errorf("looking up stream %s: %w", c.cfg.Stream, err)
		}
		b.instance = strconv.FormatInt(s.CachedInfo().Created.UnixNano(), 10)
	}
	id := fmt.Sprintf("%s:%s:%s:%d", c.cfg.Stream, c.cfg.Durable, b.instance, m.seq)
	key := "nats:" + id
	published, err := c.st.DeadLetterAdd(b.ctx, abacus.DeadLetter{
		// The key makes a redelivered message's second recording a no-op.
		Key:    key,
		Source: "nats", Subject: m.msg.Subject(), Reason: reason, Payload: m.msg.Data(), Headers: m.msg.Headers(),
		ReceivedAt: c.p.Engine.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("recording the dead letter: %w", err)
	}
	if published {
		c.log.Info("usage message was dead-lettered and published before; not published again", "subject", m.msg.Subject(), "seq", m.seq, "key", key)
		return nil
	}
	out := nats.NewMsg(c.cfg.DeadLetterSubject)
	out.Data = m.msg.Data()
	// The message's own headers go along: a CloudEvent in binary mode
	// keeps its attributes there. Not the Nats-* ones, which the server
	// acts on (an expected stream, a TTL) and were meant for the original.
	for k, vs := range m.msg.Headers() {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") {
			out.Header[k] = slices.Clone(vs)
		}
	}
	out.Header.Set(ReasonHeader, strings.NewReplacer("\r", " ", "\n", " ").Replace(reason))
	out.Header.Set(CodeHeader, strings.Join(codes, ","))
	out.Header.Set(SubjectHeader, m.msg.Subject())
	fitPayload(out, c.nc.MaxPayload())
	if b.dlq == 0 {
		// Not a JetStream publish blindly: a plain subscriber on the
		// subject would take the request and never answer it.
		_, err := c.js.StreamNameBySubject(b.ctx, c.cfg.DeadLetterSubject)
		switch {
		case err == nil:
			b.dlq = 1
		case errors.Is(err, jetstream.ErrStreamNotFound):
			b.dlq = -1
		default:
			return fmt.Errorf("looking for a stream that captures %s: %w", c.cfg.DeadLetterSubject, err)
		}
	}
	if b.dlq > 0 {
		// The stream confirms it has the message, and the id makes a
		// redelivered dead letter a duplicate it drops.
		_, err = c.js.PublishMsg(b.ctx, out, jetstream.WithMsgID(id), jetstream.WithRetryAttempts(0))
	} else if err = c.nc.PublishMsg(out); err == nil {
		err = c.nc.FlushWithContext(b.ctx)
	}
	if err != nil {
		return fmt.Errorf("publishing to %s: %w", c.cfg.DeadLetterSubject, err)
	}
	// Should marking fail, the message is redelivered and its letter
	// published again: within the duplicate window the stream drops that
	// copy by its id; past it (or published plainly) the subject sees it
	// twice.
	if err := c.st.DeadLetterPublished(b.ctx, key, c.p.Engine.Now().UTC()); err != nil {
		return fmt.Errorf("marking the dead letter published: %w", err)
	}
	return nil
}

// TruncatedHeader, on a dead-lettered message, gives the size in bytes of
// the message's body, which was cut to fit the server's max_payload with
// the headers abacus adds; the dead-letter listing holds it whole.
const TruncatedHeader = "Abacus-Truncated"

// fitPayload cuts a dead letter's body so that it fits in limit bytes with
// its headers, and leaves out the original message's own headers if even
// they do not fit. A message that arrived near max_payload would not fit
// with abacus's headers added, and could then never be dead-lettered and
// acked: it would be redelivered for ever, holding the consumer's ack floor.
func fitPayload(out *nats.Msg, limit int64) {
	// Room for the Nats-Msg-Id header a JetStream publish adds and the
	// header block's framing (NATS/1.0 and line ends).
	const framing = 256
	headers := func() int64 {
		n := int64(framing)
		for k, vs := range out.Header {
			for _, v := range vs {
				n += int64(len(k) + len(v) + 4)
			}
		}
		return n
	}
	body := out.Data
	if int64(len(body))+headers() <= limit {
		return
	}
	out.Header.Set(TruncatedHeader, strconv.Itoa(len(body)))
	if headers() > limit { // the original's own headers are too many
		for k := range out.Header {
			if !strings.HasPrefix(k, "Abacus-") {
				out.Header.Del(k)
			}
		}
	}
	out.Data = body[:max(0, min(int64(len(body)), limit-headers()))]
}

// ack acks messages, confirming the last: JetStream handles a consumer's
// acks in order, so once it is confirmed all of them are.
func (c *Consumer) ack(ctx context.Context, msgs []jetstream.Msg) {
	for i, m := range msgs {
		var err error
		if i == len(msgs)-1 {
			err = m.DoubleAck(ctx)
		} else {
			err = m.Ack()
		}
		if err != nil { // redelivered later, as duplicates
			c.log.Warn("acking usage messages failed; they will be redelivered", "messages", len(msgs)-i, "err", err)
			return
		}
	}
}

// retry hands a message back to JetStream, to be redelivered after a
// delay that grows with its deliveries.
func (c *Consumer) retry(m *inMsg) {
	c.retried.Add(1)
	d := c.cfg.RetryDelay
	for i := uint64(1); i < m.delivered && d < maxRetryDelay; i++ {
		d *= 2
	}
	if err := m.msg.NakWithDelay(min(d, maxRetryDelay)); err != nil {
		c.log.Warn("handing back a usage message failed; it will be redelivered after the ack wait", "seq", m.seq, "err", err)
	}
}

// decodeMessage splits a message into events: a CloudEvent in binary mode
// by its ce-* headers, else as the Content-Type header says if it names a
// format; otherwise the body is a CSGHub event, a CloudEvent if it carries
// "specversion", or a JSON array of them.
func decodeMessage(m jetstream.Msg) ([]decode.Item, error) {
	f, err := decode.ForHeaders(headerGetter(m.Headers()), false)
	if err != nil {
		f = autoJSON
	}
	return f(m.Data())
}

// headerGetter reads NATS headers, whose names are case-sensitive, as HTTP
// reads its own: CloudEvents SDKs write ce-id, others Ce-Id.
func headerGetter(h nats.Header) func(string) string {
	return func(name string) string {
		if v := h.Get(name); v != "" {
			return v
		}
		for k, vs := range h {
			if strings.EqualFold(k, name) && len(vs) > 0 {
				return vs[0]
			}
		}
		return ""
	}
}

var autoJSON = func() func([]byte) ([]decode.Item, error) {
	f, err := decode.ForContentType(decode.ContentTypeJSON)
	if err != nil {
		panic(err)
	}
	return f
}()

// isTransient tells a rejection that is the ledger's trouble, not the
// event's (an internal error, an unavailable database).
func isTransient(e *abacus.Error) bool {
	if e == nil {
		return true
	}
	return e.Code == abacus.CodeInternal || e.Code == abacus.CodeUnavailable
}

func asAbacusError(err error) *abacus.Error {
	var ae *abacus.Error
	if errors.As(err, &ae) {
		return ae
	}
	return abacus.Errorf(abacus.CodeInvalid, "body", "%s", err)
}

// clip cuts a reason to maxReason bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// validSubject tells a NATS subject or filter: dot-separated tokens,
// none empty, without white space; ">" only as the last token.
func validSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || (strings.ContainsAny(t, "*>") && len(t) > 1) || (t == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}

// subjectCovers tells whether every subject that subject matches is
// matched by pattern (both may hold wildcards).
func subjectCovers(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, pt := range p {
		if pt == ">" {
			return i < len(s)
		}
		if i >= len(s) {
			return false
		}
		switch {
		case pt == "*":
			if s[i] == ">" {
				return false
			}
		case pt != s[i]:
			return false
		}
	}
	return len(p) == len(s)
}
