package metering

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

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
