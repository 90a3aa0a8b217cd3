package metering_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/metering/natstest"
)

// The subjects of CSGHub's metering stream (reference 5.2).
var csghubSubjects = []string{"accounting.metering.duration", "accounting.metering.token", "accounting.metering.quota"}

// logBuffer is a logger whose lines a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), l), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// createStreamOf creates the metering stream capturing subjects.
func (b *bundle) createStreamOf(subjects ...string) {
	b.t.Helper()
	if _, err := b.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: metering.DefaultStream, Subjects: subjects}); err != nil {
		b.t.Fatal(err)
	}
}

// filters returns the durable's filters, none for the whole stream.
func (b *bundle) filters(durable string) []string {
	b.t.Helper()
	ci := b.info(durable).Config
	if ci.FilterSubject != "" {
		return append([]string{ci.FilterSubject}, ci.FilterSubjects...)
	}
	return ci.FilterSubjects
}

// TestConsumerAllMeteringSubjects: by default the consumer makes a stream
// of CSGHub's three metering subjects and charges what comes on each once,
// and dead-letters what it cannot use on each.
func TestConsumerAllMeteringSubjects(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		b := setup(t, open(t), unlimited)
		ctx := context.Background()
		c := b.start(metering.ConsumerConfig{})
		s, err := b.js.Stream(ctx, metering.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Subjects; !slices.Equal(got, csghubSubjects) {
			t.Fatalf("stream subjects %v, want %v", got, csghubSubjects)
		}
		acct := newID()
		for i, subj := range csghubSubjects {
			e := csghub(string(newID()), acct, "2")
			b.publish(subj, e)
			b.publish(subj, e) // sent twice: charged once
			if i > 0 {
				b.publish(subj, "not json "+subj)
			}
		}
		waitFor(t, "3 events charged, 3 duplicates, 2 dead letters", func() bool {
			s := c.Stats()
			return s.Accepted == 3 && s.Duplicate == 3 && s.DeadLettered == 2
		})
		b.waitDrained(metering.DefaultDurable)
		if got := b.cash(acct); got != "-3" {
			t.Fatalf("cash %s, want -3 (3 events of 2 minutes at 0.5)", got)
		}
		var subjects []string
		for _, d := range b.deadLetters() {
			subjects = append(subjects, d.Subject)
		}
		if !slices.Equal(subjects, csghubSubjects[1:]) {
			t.Fatalf("dead letters' subjects %v", subjects)
		}
	})
}

// TestConsumerUpgradeCSGHubStream: on CSGHub's stream, a durable an older
// abacus made with the filter accounting.metering.duration stops the
// consumer, saying how to go on, and is left as it was; kept by
// --nats-subject, it is used as before; deleted by the operator, it is
// made again to consume all three subjects: the token and quota events
// that waited in the stream are charged, and the duration events charged
// before are not charged again.
func TestConsumerUpgradeCSGHubStream(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf(csghubSubjects...)
	acct := newID()
	old := b.start(metering.ConsumerConfig{Subject: metering.DefaultSubject}) // as an older abacus
	if got := b.filters(metering.DefaultDurable); !slices.Equal(got, []string{metering.DefaultSubject}) {
		t.Fatalf("the old durable's filters %v", got)
	}
	b.publish("accounting.metering.duration", csghub(string(newID()), acct, "2"))
	b.publish("accounting.metering.token", csghub(string(newID()), acct, "4"))
	waitFor(t, "the duration event charged", func() bool { return old.Stats().Accepted == 1 })
	b.waitDrained(metering.DefaultDurable)
	old.Stop()
	b.publish("accounting.metering.quota", csghub(string(newID()), acct, "6"))

	// It stops, saying how to go on, and changes nothing: made again on
	// its own it would have replayed the stream, and retried what it had
	// dead-lettered.
	err := b.consumer(metering.ConsumerConfig{}).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nats consumer rm "+metering.DefaultStream+" "+metering.DefaultDurable) ||
		!strings.Contains(err.Error(), "--nats-subject "+metering.DefaultSubject) {
		t.Fatalf("started on a durable that takes less: %v, want it refused saying how to go on", err)
	}
	if got := b.filters(metering.DefaultDurable); !slices.Equal(got, []string{metering.DefaultSubject}) {
		t.Fatalf("the refused start changed the durable: %v", got)
	}
	// Kept as it was, it takes .duration alone, as before.
	kept := b.start(metering.ConsumerConfig{Subject: metering.DefaultSubject})
	kept.Stop()

	// Deleted by the operator, it is made again and replays the stream:
	// the token and quota events are charged, the duration one comes back
	// a duplicate.
	if err := b.js.DeleteConsumer(context.Background(), metering.DefaultStream, metering.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	c := b.start(metering.ConsumerConfig{})
	waitFor(t, "2 events charged", func() bool { return c.Stats().Accepted == 2 })
	b.waitDrained(metering.DefaultDurable)
	if got := b.filters(metering.DefaultDurable); len(got) != 0 {
		t.Fatalf("the durable's filters %v, want none (the stream's every subject)", got)
	}
	if got := b.cash(acct); got != "-6" {
		t.Fatalf("cash %s, want -6 (12 minutes at 0.5)", got)
	}
	if s := c.Stats(); s.Received != 3 || s.Duplicate != 1 {
		t.Fatalf("stats %+v: the stream is replayed, the event charged before a duplicate", s)
	}
	c.Stop()

	// Started again, the durable is as it should be: nothing is replayed.
	c = b.start(metering.ConsumerConfig{})
	b.publish("accounting.metering.token", csghub(string(newID()), acct, "2"))
	waitFor(t, "1 event charged", func() bool { return c.Stats().Accepted == 1 })
	b.waitDrained(metering.DefaultDurable)
	if s := c.Stats(); s.Received != 1 {
		t.Fatalf("stats %+v: replayed again", s)
	}
}

// TestConsumerOldStream: a stream an older abacus made, capturing only
// accounting.metering.duration, is used as it is: the consumer takes what
// it captures, the whole stream (its durable has no filter; one an older
// abacus made with that filter keeps it), and says in the log which
// subjects it does not capture (a producer publishing there gets no
// stream, not silence).
func TestConsumerOldStream(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf(metering.DefaultSubject)
	if _, err := b.js.CreateConsumer(context.Background(), metering.DefaultStream, jetstream.ConsumerConfig{
		Durable: "old", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: metering.DefaultSubject}); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	c := b.start(metering.ConsumerConfig{Logger: logs.logger(t)})
	acct := newID()
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	waitFor(t, "the event charged", func() bool { return c.Stats().Accepted == 1 })
	if got := b.filters(metering.DefaultDurable); len(got) != 0 {
		t.Fatalf("the durable's filters %v, want none", got)
	}
	b.start(metering.ConsumerConfig{Durable: "old"}).Stop()
	if got := b.filters("old"); !slices.Equal(got, []string{metering.DefaultSubject}) {
		t.Fatalf("the older durable's filters %v, want them kept", got)
	}
	s, err := b.js.Stream(context.Background(), metering.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Subjects; !slices.Equal(got, []string{metering.DefaultSubject}) {
		t.Fatalf("the stream's subjects changed: %v", got)
	}
	if _, err := b.js.Publish(context.Background(), "accounting.metering.token", []byte(csghub(string(newID()), acct, "2"))); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("publishing to the token subject: %v, want no stream", err)
	}
	l := logs.String()
	if !strings.Contains(l, "does not capture") || !strings.Contains(l, "accounting.metering.token,accounting.metering.quota") {
		t.Fatalf("the subjects not captured are not logged:\n%s", l)
	}
}

// TestConsumerSubjectForms: --nats-subject takes a list and wildcards.
func TestConsumerSubjectForms(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf(csghubSubjects...)
	ctx := context.Background()
	acct := newID()
	for _, subj := range csghubSubjects {
		b.publish(subj, csghub(string(newID()), acct, "2"))
	}
	for _, c := range []struct {
		subject string
		filters []string // the durable's
		n       int64    // messages consumed
	}{
		{"accounting.metering.>", nil, 3},
		{"accounting.metering.*", nil, 3},
		{" accounting.metering.token , accounting.metering.quota", []string{"accounting.metering.token", "accounting.metering.quota"}, 2},
		{"accounting.metering.token,accounting.metering.token", []string{"accounting.metering.token"}, 1},
		{"accounting.metering.token,accounting.metering.*", nil, 3}, // the wildcard takes in the token subject
		{"accounting.metering.quota", []string{"accounting.metering.quota"}, 1},
		{"accounting.*.quota", []string{"accounting.metering.quota"}, 1},
	} {
		t.Run(c.subject, func(t *testing.T) {
			durable := "d" + string(newID())[:8]
			cons := b.start(metering.ConsumerConfig{Subject: c.subject, Durable: durable})
			waitFor(t, "the messages delivered", func() bool { return cons.Stats().Received == c.n })
			b.waitDrained(durable)
			if got := b.filters(durable); !slices.Equal(got, c.filters) {
				t.Fatalf("filters %v, want %v", got, c.filters)
			}
			cons.Stop()
			if s := cons.Stats(); s.Received != c.n || s.Accepted+s.Duplicate != c.n {
				t.Fatalf("stats %+v", s)
			}
		})
	}
	if got := b.cash(acct); got != "-3" {
		t.Fatalf("cash %s, want -3: each event charged once", got)
	}
	for _, c := range []struct{ subject, err string }{
		{"accounting.fee.credit", "captures"},
		{"accounting.metering.duration,accounting.fee.credit", "accounting.fee.credit"}, // named, not taken silently
		{"accounting.metering.duration,,x", "not a NATS subject"},
		{"accounting.metering.duration,accounting.dlq.>", "dead-letter subject"},
	} {
		cons := b.consumer(metering.ConsumerConfig{Subject: c.subject, Durable: "bad"})
		if err := cons.Start(ctx); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Subject %q: %v, want an error naming %q", c.subject, err, c.err)
		}
		cons.Stop()
	}

	// On a stream capturing more than abacus consumes, a wildcard is the
	// durable's one filter.
	b2 := setup(t, testdb.SQLite(t), unlimited)
	b2.createStreamOf("accounting.>")
	cons := b2.start(metering.ConsumerConfig{Subject: "accounting.metering.>"})
	b2.publish("accounting.metering.token", csghub(string(newID()), acct, "2"))
	b2.publish("accounting.fee.credit", csghub(string(newID()), acct, "2"))
	waitFor(t, "the token event charged", func() bool { return cons.Stats().Accepted == 1 })
	time.Sleep(100 * time.Millisecond)
	if s := cons.Stats(); s.Received != 1 {
		t.Fatalf("stats %+v: the fee subject is not ours", s)
	}
	if got := b2.filters(metering.DefaultDurable); !slices.Equal(got, []string{"accounting.metering.>"}) {
		t.Fatalf("filters %v", got)
	}
}

// TestConsumerOldServer runs against nats-server before 2.10, which takes
// one filter per consumer: CSGHub's stream is consumed whole, an older
// abacus's durable is refused until deleted, then made again, two
// filters of three are refused, not turned into a durable of the whole
// stream, and so is one filter for the durable of the whole stream, whose
// filter is not changed. Skipped without the program (see
// natstest.StartBinary).
func TestConsumerOldServer(t *testing.T) {
	t.Parallel()
	url, version := natstest.StartBinary(t)
	t.Logf("nats-server %s", version)
	nc, js := natstest.Connect(t, url)
	b := setup(t, testdb.SQLite(t), unlimited)
	b.url, b.nc, b.js = url, nc, js
	b.createStreamOf(csghubSubjects...)
	acct := newID()
	b.publish("accounting.metering.duration", csghub(string(newID()), acct, "2"))
	b.publish("accounting.metering.token", csghub(string(newID()), acct, "4"))
	var log logBuffer
	old := b.start(metering.ConsumerConfig{Subject: metering.DefaultSubject, Logger: log.logger(t)})
	waitFor(t, "the duration event charged", func() bool { return old.Stats().Accepted == 1 })
	// Before 2.10 the operator is told of 2.9's repeated deliveries (QA).
	if warned := strings.Contains(log.String(), "nats-server before 2.10"); warned == versionAtLeast(version, 2, 10) {
		t.Errorf("nats-server %s: warned %v:\n%s", version, warned, log.String())
	}
	b.waitDrained(metering.DefaultDurable)
	old.Stop()

	if err := b.consumer(metering.ConsumerConfig{}).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "nats consumer rm") {
		t.Fatalf("started on a durable that takes less: %v, want it refused", err)
	}
	if err := b.js.DeleteConsumer(context.Background(), metering.DefaultStream, metering.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	c := b.start(metering.ConsumerConfig{})
	b.publish("accounting.metering.quota", csghub(string(newID()), acct, "6"))
	waitFor(t, "2 events charged", func() bool { return c.Stats().Accepted == 2 })
	b.waitDrained(metering.DefaultDurable)
	if got := b.filters(metering.DefaultDurable); len(got) != 0 {
		t.Fatalf("the durable's filters %v, want none", got)
	}
	if got := b.cash(acct); got != "-6" {
		t.Fatalf("cash %s, want -6", got)
	}
	c.Stop()

	two := b.consumer(metering.ConsumerConfig{Subject: "accounting.metering.token,accounting.metering.quota", Durable: "two"})
	err := two.Start(context.Background())
	if versionAtLeast(version, 2, 10) {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "one filter per consumer") {
		t.Fatalf("two filters on %s: %v", version, err)
	}
	if _, err := b.js.Consumer(context.Background(), metering.DefaultStream, "two"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("a durable was made: %v", err)
	}

	// Narrowed: the durable of the whole stream is to take one subject.
	// Before 2.10 its filter is not changed: 2.9.10 skipped the stored
	// messages of a durable whose filter changed so (QA).
	b.publish("accounting.metering.token", csghub(string(newID()), acct, "2"))
	err = b.consumer(metering.ConsumerConfig{Subject: "accounting.metering.token"}).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "before 2.10") || !strings.Contains(err.Error(), "nats consumer rm") {
		t.Fatalf("narrowed on %s: %v, want it refused", version, err)
	}
	if got := b.filters(metering.DefaultDurable); len(got) != 0 {
		t.Fatalf("the durable's filters %v, want none", got)
	}
	c = b.start(metering.ConsumerConfig{})
	waitFor(t, "the token event charged", func() bool { return c.Stats().Accepted == 1 })
	if got := b.cash(acct); got != "-7" {
		t.Fatalf("cash %s, want -7", got)
	}
}

func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	fmt.Sscanf(v, "%d.%d", &ma, &mi)
	return ma > major || ma == major && mi >= minor
}

// TestConsumerWildcardDurableOnAWidenedStream: a durable whose wildcard
// filter took the whole stream (as an older abacus made it), on a stream
// whose subjects are then spelled out, takes all it is to take already:
// abacus starts (QA: it was refused, with the advice to give the flag it
// had been given), and leaves its filter as it is.
func TestConsumerWildcardDurableOnAWidenedStream(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf("accounting.metering.>")
	if _, err := b.js.CreateConsumer(context.Background(), metering.DefaultStream, jetstream.ConsumerConfig{
		Durable: "wild", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "accounting.metering.>"}); err != nil {
		t.Fatal(err)
	}
	cfg := metering.ConsumerConfig{Subject: "accounting.metering.>", Durable: "wild"}
	if _, err := b.js.UpdateStream(context.Background(), jetstream.StreamConfig{Name: metering.DefaultStream, Subjects: csghubSubjects}); err != nil {
		t.Fatal(err)
	}
	c := b.start(cfg)
	defer c.Stop()
	if got := b.filters("wild"); !slices.Equal(got, []string{"accounting.metering.>"}) {
		t.Fatalf("the durable's filters %v, want them kept", got)
	}
	acct := newID()
	b.publish("accounting.metering.token", csghub(string(newID()), acct, "2"))
	waitFor(t, "the token event charged", func() bool { return c.Stats().Accepted == 1 })
}

// TestConsumerLeavesItsOwnDeadLetters: a durable without a filter takes
// what its stream captures, and a stream widened while abacus runs may
// capture its dead-letter subject: those messages are acknowledged and
// left alone, not dead-lettered again for ever (QA: 34 a second).
func TestConsumerLeavesItsOwnDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf(csghubSubjects...)
	var logs logBuffer
	c := b.start(metering.ConsumerConfig{Logger: logs.logger(t)})
	defer c.Stop()
	if got := b.filters(metering.DefaultDurable); len(got) != 0 {
		t.Fatalf("the durable's filters %v, want none", got)
	}
	if _, err := b.js.UpdateStream(context.Background(), jetstream.StreamConfig{Name: metering.DefaultStream,
		Subjects: append(slices.Clone(csghubSubjects), metering.DefaultDeadLetterSubject)}); err != nil {
		t.Fatal(err)
	}
	b.publish(metering.DefaultSubject, "not json at all")
	waitFor(t, "the message dead-lettered", func() bool { return c.Stats().DeadLettered == 1 })
	waitFor(t, "the dead letter left alone", func() bool { return strings.Contains(logs.String(), "left alone") })
	b.waitDrained(metering.DefaultDurable)
	if n := len(b.deadLetters()); n != 1 || c.Stats().DeadLettered != 1 {
		t.Fatalf("%d dead letters recorded, %d counted; want the one", n, c.Stats().DeadLettered)
	}
	// Fetched, it is counted received, as every message is (QA: 1 of 2).
	if n := c.Stats().Received; n != 2 {
		t.Fatalf("%d messages received, want 2: the bad one and its dead letter", n)
	}
}

// TestConsumerChargesTransformedSubjects: a stream may store usage under
// other subjects than those published to (a subject transform, sources);
// a durable of the whole stream charges them (QA: they were acknowledged
// and left alone, neither charged nor dead-lettered).
func TestConsumerChargesTransformedSubjects(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	_, err := b.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: metering.DefaultStream, Subjects: csghubSubjects,
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: "accounting.metering.*", Destination: "stored.metering.{{wildcard(1)}}"}})
	if err != nil {
		t.Fatal(err)
	}
	c := b.start(metering.ConsumerConfig{})
	defer c.Stop()
	acct := newID()
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	waitFor(t, "the event charged", func() bool { return c.Stats().Accepted == 1 })
	if got := b.cash(acct); got != "-1" {
		t.Fatalf("cash %s, want -1", got)
	}
}

// TestConsumerDeadLettersOnceUnderATransform: a stream that captures the
// dead-letter subject and renames it (a subject transform) hands abacus
// its dead letters back under another subject; refused again, each is
// listed but not published again (QA: it looped, a row and a stream
// message each time), and the usage beside it is charged.
func TestConsumerDeadLettersOnceUnderATransform(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf(csghubSubjects...)
	c := b.start(metering.ConsumerConfig{}) // a durable of the whole stream
	defer c.Stop()
	_, err := b.js.UpdateStream(context.Background(), jetstream.StreamConfig{Name: metering.DefaultStream,
		Subjects:         append(slices.Clone(csghubSubjects), metering.DefaultDeadLetterSubject),
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: ">", Destination: "t.>"}})
	if err != nil {
		t.Fatal(err)
	}
	acct := newID()
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "4"))
	b.publish(metering.DefaultSubject, "not json at all")
	waitFor(t, "the event charged and the bad message come back once", func() bool { return c.Stats().Accepted == 1 && c.Stats().Received == 3 })
	b.waitDrained(metering.DefaultDurable)
	time.Sleep(200 * time.Millisecond) // a loop would go on
	s, err := b.js.Stream(context.Background(), metering.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 3 || c.Stats().Received != 3 || len(b.deadLetters()) != 2 {
		t.Fatalf("%d messages in the stream, %d received, %d dead letters listed; want 3, 3 and 2 (the letter and its return)", n, c.Stats().Received, len(b.deadLetters()))
	}
	if got := b.cash(acct); got != "-2" {
		t.Fatalf("cash %s, want -2", got)
	}
}

// TestConsumerWarnsOfAStreamKeepingDeadLetters: a stream that captures the
// dead-letter subject beside usage, of which the durable takes only the
// usage, keeps every dead letter; the log says so as abacus starts (QA:
// it started without a word).
func TestConsumerWarnsOfAStreamKeepingDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStreamOf("qa.x8b.>")
	var logs logBuffer
	c := b.start(metering.ConsumerConfig{Subject: "qa.x8b.duration", DeadLetterSubject: "qa.x8b.dlq", Logger: logs.logger(t)})
	defer c.Stop()
	if !strings.Contains(logs.String(), "the stream captures the dead-letter subject too") {
		t.Fatalf("no warning of the stream keeping the dead letters:\n%s", logs.String())
	}
	var quiet logBuffer
	b2 := setup(t, testdb.SQLite(t), unlimited)
	b2.createStreamOf(csghubSubjects...)
	b2.start(metering.ConsumerConfig{Logger: quiet.logger(t)}).Stop()
	if strings.Contains(quiet.String(), "captures the dead-letter subject") {
		t.Fatalf("warned of a stream without the dead-letter subject:\n%s", quiet.String())
	}
}

// TestConsumerRefusesATransformItCannotFilter: a stream that stores usage
// under other subjects (a subject transform, its own or its source's) and
// captures more than abacus takes would need a durable filtered on names
// no message is stored under: refused, saying why (QA: the events stayed
// in the stream, never delivered, without a word; then an empty source,
// which is every subject, and a source stream's rename went unseen). Of
// the whole stream it is taken as it is
// (TestConsumerChargesTransformedSubjects), and a transform of other
// subjects, or into subjects the durable takes, is no matter.
func TestConsumerRefusesATransformItCannotFilter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		stream   jetstream.StreamConfig
		subject  string
		refusal  string // "": it starts, and charges what is published to publish
		publish  string
		upstream *jetstream.StreamConfig // a stream made first, for sources
	}{
		{name: "own transform", stream: jetstream.StreamConfig{Subjects: []string{"qa.t.duration", "qa.t.dlq"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "qa.t.>", Destination: "qa.tt.>"}},
			subject: "qa.t.duration", refusal: "its subject transform qa.t.> → qa.tt.>"},
		{name: "empty source", stream: jetstream.StreamConfig{Subjects: []string{"qa.e.duration", "qa.e.other"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "", Destination: "moved.>"}},
			subject: "qa.e.duration", refusal: "its subject transform > → moved.>"},
		{name: "a source's rename", upstream: &jetstream.StreamConfig{Name: "UP", Subjects: []string{"qa.s.*"}},
			stream: jetstream.StreamConfig{Sources: []*jetstream.StreamSource{{Name: "UP",
				SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "qa.s.*", Destination: "qa.renamed.{{wildcard(1)}}"}}}}},
			subject: "qa.s.*", refusal: "the subject transform of its source UP qa.s.* → qa.renamed.{{wildcard(1)}}"},
		{name: "a source's filter alone", upstream: &jetstream.StreamConfig{Name: "UP", Subjects: []string{"qa.f.*"}},
			stream: jetstream.StreamConfig{Sources: []*jetstream.StreamSource{{Name: "UP",
				SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "qa.f.*"}}}}},
			subject: "qa.f.*", publish: "qa.f.duration"},
		{name: "other subjects", stream: jetstream.StreamConfig{Subjects: []string{"qa.u.duration", "qa.other.x"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "qa.other.>", Destination: "qa.moved.>"}},
			subject: "qa.u.duration", publish: "qa.u.duration"},
		{name: "into what it takes", stream: jetstream.StreamConfig{Subjects: []string{"qa.v.>", "qa.w.x"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "qa.v.v1.*", Destination: "qa.v.{{wildcard(1)}}"}},
			subject: "qa.v.>", publish: "qa.v.v1.duration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testdb.SQLite(t), unlimited)
			if c.upstream != nil {
				if _, err := b.js.CreateStream(context.Background(), *c.upstream); err != nil {
					t.Fatal(err)
				}
			}
			c.stream.Name = metering.DefaultStream
			if _, err := b.js.CreateStream(context.Background(), c.stream); err != nil {
				t.Fatal(err)
			}
			cons := b.consumer(metering.ConsumerConfig{Subject: c.subject, DeadLetterSubject: "qa.dlq.x"})
			defer cons.Stop()
			err := cons.Start(context.Background())
			if c.refusal != "" {
				if err == nil || !strings.Contains(err.Error(), c.refusal) {
					t.Fatalf("started on a transform it cannot filter: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			acct := newID()
			b.publish(c.publish, csghub(string(newID()), acct, "2"))
			waitFor(t, "the event charged", func() bool { return cons.Stats().Accepted == 1 })
		})
	}
}
