package metering

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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

// ensureStream creates the stream if it is missing, capturing the
// configured subjects, and works out what of them the durable takes of a
// stream that exists: a stream is the operator's, and its subjects are
// never changed.
func (c *Consumer) ensureStream(ctx context.Context) error {
	s, err := c.js.Stream(ctx, c.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = c.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        c.cfg.Stream,
			Description: "usage events for metering (created by abacus)",
			Subjects:    c.want,
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another instance won
			s, err = c.js.Stream(ctx, c.cfg.Stream)
		} else if err == nil {
			c.log.Info("created JetStream stream", "stream", c.cfg.Stream, "subjects", strings.Join(c.want, ","))
		}
	}
	var api *jetstream.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode == errCodeSubjectsOverlap:
		return unusableError{fmt.Errorf("metering: stream %s cannot be made: %w; %s", c.cfg.Stream, err, c.overlapping(ctx))}
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		// What a server without JetStream answers: say so.
		return fmt.Errorf("metering: stream %s: %w (is JetStream enabled on the NATS server? nats-server -js)", c.cfg.Stream, err)
	case err != nil:
		return fmt.Errorf("metering: stream %s: %w", c.cfg.Stream, err)
	}
	cfg := s.CachedInfo().Config
	c.warnLimits(cfg)
	filters, missing, whole := plan(cfg.Subjects, c.want)
	captures := strings.Join(cfg.Subjects, ", ")
	switch {
	case len(filters) == 0:
		return unusableError{fmt.Errorf("metering: stream %s captures %s, not %s", c.cfg.Stream, captures, strings.Join(c.want, ", "))}
	case len(missing) > 0 && c.explicit:
		return unusableError{fmt.Errorf("metering: stream %s captures %s, not %s (of the subjects given, %s)", c.cfg.Stream, captures,
			strings.Join(missing, ", "), strings.Join(c.want, ", "))}
	case len(missing) > 0:
		c.log.Warn("the stream does not capture all of the metering subjects: events published to those get no stream, and are not charged; add them to the stream to have them charged",
			"stream", c.cfg.Stream, "captures", strings.Join(cfg.Subjects, ","), "not_captured", strings.Join(missing, ","))
	}
	if !whole {
		if err := c.checkTransforms(cfg, filters); err != nil {
			return err
		}
	}
	c.filters, c.whole, c.streamSubjects = filters, whole, cfg.Subjects
	// A durable of the whole stream meets its dead letters and leaves them
	// (said then); one filtered to usage does not, and the stream keeps
	// them beside the usage without a word (QA).
	if !whole && slices.ContainsFunc(cfg.Subjects, func(s string) bool { return subjectCovers(s, c.cfg.DeadLetterSubject) }) {
		c.log.Warn("the stream captures the dead-letter subject too: abacus's dead letters are stored in it beside the usage, as long as its limits keep them; take that subject out of the stream",
			"stream", c.cfg.Stream, "dead_letters", c.cfg.DeadLetterSubject, "captures", strings.Join(cfg.Subjects, ","))
	}
	return nil
}

// errCodeSubjectsOverlap is the server's error code for a stream whose
// subjects another stream captures already.
const errCodeSubjectsOverlap jetstream.ErrorCode = 10065

// overlapping names the streams that capture what abacus would have its
// stream capture, each with what it captures, and how to go on (QA: the
// server's "subjects overlap with an existing stream" named neither).
func (c *Consumer) overlapping(ctx context.Context) string {
	var names []string
	for _, subject := range c.want {
		lister := c.js.StreamNames(ctx, jetstream.WithStreamListSubject(subject))
		for name := range lister.Name() {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	var found []string
	one := "" // the stream, if only one is found
	for _, name := range names {
		if s, err := c.js.Stream(ctx, name); err == nil {
			found = append(found, fmt.Sprintf("stream %s captures %s", name, strings.Join(s.CachedInfo().Config.Subjects, ", ")))
			one = name
		}
	}
	switch len(found) {
	case 0:
		return "another stream captures some of " + strings.Join(c.want, ", ") + ": give its name as --nats-stream, or other subjects as --nats-subject"
	case 1:
		return found[0] + ": give --nats-stream " + one + " to consume from it (abacus takes what of the metering subjects it captures, and names the rest at start)"
	}
	return strings.Join(found, "; ") + ": abacus consumes one stream; give --nats-stream and --nats-subject for one of them, or capture the subjects in one stream"
}

// plan works out the durable's filters on a stream capturing subjects
// (none: a mirror or a stream of sources, whose subjects the server
// checks) for the filters want: what of each the stream captures. It
// returns those, the filters of want the stream captures nothing of, and
// whether the filters take in all the stream captures.
func plan(subjects, want []string) (filters, missing []string, whole bool) {
	if len(subjects) == 0 {
		return want, nil, false
	}
	for _, w := range want {
		found := false
		for _, s := range subjects {
			if x, ok := intersect(w, s); ok {
				filters, found = append(filters, x), true
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	filters = normalize(filters)
	whole = len(filters) > 0 && coveredAll(filters, subjects)
	return filters, missing, whole
}

// coveredAll tells whether every subject is within one of the filters.
func coveredAll(filters, subjects []string) bool {
	for _, s := range subjects {
		if !slices.ContainsFunc(filters, func(f string) bool { return subjectCovers(f, s) }) {
			return false
		}
	}
	return true
}

// normalize leaves out of filters those given before or within another.
func normalize(filters []string) []string {
	var out []string
	for i, f := range filters {
		within := false
		for j, g := range filters {
			if i != j && subjectCovers(g, f) && (f != g || j < i) {
				within = true
				break
			}
		}
		if !within {
			out = append(out, f)
		}
	}
	return out
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
	if cfg.Storage == jetstream.MemoryStorage {
		why = append(why, "storage memory (a restart of the NATS server loses every message stored)")
	}
	if len(why) > 0 {
		c.log.Warn("the stream may drop usage events before abacus charges them (while abacus is down, say)", "stream", cfg.Name, "settings", strings.Join(why, "; "))
	}
}

// ensureConsumer creates the durable pull consumer or brings its
// settings up to date. Its filter is none when it takes the whole stream
// (as on CSGHub's stream, of the three metering subjects, or a stream of
// accounting.metering.> given that filter), so that nats-server before
// 2.10, which takes one filter per consumer, serves it, and so that a
// durable made without a filter (nats consumer add) keeps none: nats-server
// 2.9.10, given the filter accounting.metering.> for such a durable on a
// stream of accounting.metering.>, delivered none of the messages stored
// before (QA: every one of them went uncharged). Several filters
// (FilterSubjects) need 2.10.
func (c *Consumer) ensureConsumer(ctx context.Context) error {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		Description:   "abacus metering",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: max(1000, 2*c.cfg.Batch),
	}
	switch {
	case c.whole:
	case len(c.filters) == 1:
		cfg.FilterSubject = c.filters[0]
	default:
		if v := c.nc.ConnectedServerVersion(); !versionAtLeast(v, 2, 10) {
			// nats.go would send FilterSubjects all the same, and a server
			// before 2.10 would make a durable of the whole stream.
			return unusableError{fmt.Errorf("metering: nats-server %s takes one filter per consumer (2.10 takes several), and abacus would take %s of stream %s; "+
				"give --nats-subject one filter, or a stream capturing only what abacus is to take", v, strings.Join(c.filters, ", "), c.cfg.Stream)}
		}
		cfg.FilterSubjects = c.filters
	}
	cfg, before, err := c.refilter(ctx, cfg)
	if err != nil {
		return err
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, cfg)
	if err != nil {
		return c.consumerError(err)
	}
	if before != nil {
		c.logSettingsChanged(*before, cons.CachedInfo().Config)
	}
	c.cons, c.durableFilters = cons, filtersOf(cfg)
	return nil
}

// consumerError wraps an error of the durable's creation or update.
func (c *Consumer) consumerError(err error) error {
	err = fmt.Errorf("metering: durable consumer %s on stream %s: %w", c.cfg.Durable, c.cfg.Stream, err)
	// The server refused the durable's settings (one made elsewhere
	// with a deliver policy that cannot be changed, say): that stays
	// so. Only JetStream not being available yet may pass.
	var api *jetstream.APIError
	if errors.As(err, &api) && api.Code != http.StatusServiceUnavailable && api.Code != http.StatusRequestTimeout {
		if !strings.Contains(api.Description, "can not be updated") && !strings.Contains(api.Description, "cannot be updated") {
			return unusableError{err}
		}
		// Say how to go on, as a filter that takes less does (QA: the
		// server's "ack policy can not be updated" said nothing more).
		return unusableError{fmt.Errorf("%w; the durable exists with settings abacus cannot change: delete it (nats consumer rm %s %s) for abacus to make it again, which replays the stream (what was charged comes back as duplicates), or give --nats-durable another name",
			err, c.cfg.Stream, c.cfg.Durable)}
	}
	return err
}

// refilter checks cfg against the durable if it exists, and returns the
// settings to bring it to. A durable whose filters take what cfg's take
// (a wildcard filter of the whole stream, where cfg has none, as an older
// abacus made it) keeps its filters: its filter is never changed for
// nothing.
//
// It refuses a durable that exists with filters leaving out some of what
// cfg takes (an older abacus made it with the filter
// accounting.metering.duration). Updated in place it would go on from
// where it was, and skip the messages of the subjects it takes in now
// that came before: the token events waiting in the stream. Made again, it
// would replay the stream from its start: the events charged before come
// back duplicates, but one it dead-lettered, for an account's floor say,
// is tried again and may be charged now, and a long stream takes long.
// Which of those an operator wants is theirs to say, so abacus says how
// to do either and does neither.
//
// A durable whose filters take more than cfg's is updated in place on
// nats-server 2.10 and later: it misses nothing it takes. Before 2.10 it
// is refused too: nats-server 2.9.10 skipped every stored message of a
// durable whose filter was changed so (from none to a wildcard of the
// whole stream), and abacus does not change a filter on a server that may
// do that.
func (c *Consumer) refilter(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.ConsumerConfig, *jetstream.ConsumerConfig, error) {
	cons, err := c.js.Consumer(ctx, c.cfg.Stream, c.cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return cfg, nil, nil
	}
	if err != nil {
		return cfg, nil, fmt.Errorf("metering: durable consumer %s on stream %s: %w", c.cfg.Durable, c.cfg.Stream, err)
	}
	existing := cons.CachedInfo().Config
	had, wants := filtersOf(existing), filtersOf(cfg)
	if slices.Equal(had, wants) {
		return cfg, &existing, nil
	}
	if c.takesWhole(had) && c.takesWhole(wants) {
		// The same said otherwise: left as it is.
		cfg.FilterSubject, cfg.FilterSubjects = existing.FilterSubject, existing.FilterSubjects
		return cfg, &existing, nil
	}
	takes := wants
	if len(takes) == 0 {
		takes = c.streamSubjects // the whole stream: what it captures
	}
	narrowed := len(had) == 0 || len(takes) > 0 && !slices.ContainsFunc(takes, func(w string) bool {
		return !slices.ContainsFunc(had, func(h string) bool { return subjectCovers(h, w) })
	})
	v := c.nc.ConnectedServerVersion()
	old := !versionAtLeast(v, 2, 10)
	if narrowed && !old {
		// Narrowed: updated in place, it misses nothing it takes.
		return cfg, &existing, nil
	}
	pending := ""
	if stream, err := c.js.Stream(ctx, c.cfg.Stream); err == nil {
		if r := stream.CachedInfo().Config.Retention; r != jetstream.LimitsPolicy {
			pending = fmt.Sprintf(" (the stream's retention is %s: delete it once it has no messages pending, or they may be dropped)", r)
		}
	}
	keep := "--nats-subject " + strings.Join(had, ",")
	if len(had) == 0 { // the whole stream
		keep = "--nats-subject " + strings.Join(c.streamSubjects, ",")
		if len(c.streamSubjects) == 0 {
			keep = "--nats-subject taking all the stream holds"
		}
	}
	replay := fmt.Sprintf("delete it (nats consumer rm %s %s)%s and start abacus again: it is made again and replays the stream from its start, "+
		"events charged before coming back duplicates, and messages dead-lettered before tried again (charged, if they pass now)", c.cfg.Stream, c.cfg.Durable, pending)
	if narrowed {
		return cfg, nil, unusableError{fmt.Errorf("metering: durable consumer %s on stream %s takes %s, and abacus is to take %s: its filter would change, "+
			"and nats-server before 2.10 (this is %s) may then skip the messages stored in the stream, never to be charged (2.9.10 did). "+
			"To keep it as it is, give %s. To have it take %s, upgrade nats-server to 2.10 or later and start abacus again, or %s; "+
			"or give --nats-durable another name for a durable of its own, which replays the stream the same way",
			c.cfg.Durable, c.cfg.Stream, describe(had), describe(wants), v, keep, describe(wants), replay)}
	}
	return cfg, nil, unusableError{fmt.Errorf("metering: durable consumer %s on stream %s takes %s, and abacus is to take %s. To take them all, %s. To keep it as it is, give %s",
		c.cfg.Durable, c.cfg.Stream, describe(had), describe(wants), replay, keep)}
}

// takesWhole tells whether filters take all the stream captures: none,
// ">", or filters covering each of its subjects.
func (c *Consumer) takesWhole(filters []string) bool {
	return len(filters) == 0 || slices.Contains(filters, ">") || len(c.streamSubjects) > 0 && coveredAll(filters, c.streamSubjects)
}

// filtersOf returns a consumer's filters, sorted; none: the whole stream.
func filtersOf(cfg jetstream.ConsumerConfig) []string {
	var fs []string
	if cfg.FilterSubject != "" {
		fs = append(fs, cfg.FilterSubject)
	}
	fs = append(fs, cfg.FilterSubjects...)
	slices.Sort(fs)
	return fs
}

func describe(filters []string) string {
	if len(filters) == 0 {
		return "the whole stream"
	}
	return strings.Join(filters, ",")
}

// versionAtLeast tells whether a server version ("2.9.10") is at least
// major.minor.
func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
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

// intersect returns the filter of the subjects both a and b match (both
// may hold wildcards), and whether there are any.
func intersect(a, b string) (string, bool) {
	p, q := strings.Split(a, "."), strings.Split(b, ".")
	var out []string
	for i := 0; ; i++ {
		switch {
		case i == len(p) && i == len(q):
			return strings.Join(out, "."), true
		case i < len(p) && p[i] == ">" && i < len(q):
			return strings.Join(append(out, q[i:]...), "."), true
		case i < len(q) && q[i] == ">" && i < len(p):
			return strings.Join(append(out, p[i:]...), "."), true
		case i == len(p) || i == len(q):
			return "", false
		case p[i] == "*":
			out = append(out, q[i])
		case q[i] == "*" || p[i] == q[i]:
			out = append(out, p[i])
		default:
			return "", false
		}
	}
}
