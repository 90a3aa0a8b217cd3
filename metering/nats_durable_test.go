package metering_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/metering/natstest"
)

// onServers runs test against the library's nats-server, in process, and
// against the nats-server program (2.9 on CI's machines; see
// natstest.StartBinary), whose durables behave otherwise.
func onServers(t *testing.T, test func(t *testing.T, b *bundle, version string)) {
	t.Run("library", func(t *testing.T) {
		t.Parallel()
		test(t, setup(t, testdb.SQLite(t), unlimited), "")
	})
	t.Run("program", func(t *testing.T) {
		t.Parallel()
		url, version := natstest.StartBinary(t)
		t.Logf("nats-server %s", version)
		b := setup(t, testdb.SQLite(t), unlimited)
		b.nc, b.js = natstest.Connect(t, url)
		b.url = url
		test(t, b, version)
	})
}

// premadeDurable makes the durable as `nats consumer add` does by
// default: explicit acks, from the start of the stream, no filter.
func (b *bundle) premadeDurable(filter string) {
	b.t.Helper()
	if _, err := b.js.CreateConsumer(context.Background(), metering.DefaultStream, jetstream.ConsumerConfig{
		Durable: metering.DefaultDurable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: filter}); err != nil {
		b.t.Fatal(err)
	}
}

// TestConsumerKeepsAnUnfilteredDurable: a durable made beforehand with no
// filter, on a stream of one wildcard subject, given that wildcard as
// --nats-subject, is left without a filter and charges every message
// stored before abacus started (QA: abacus gave it the filter
// accounting.metering.>, and nats-server 2.9.10 then delivered none of
// them: never charged).
func TestConsumerKeepsAnUnfilteredDurable(t *testing.T) {
	t.Parallel()
	onServers(t, func(t *testing.T, b *bundle, _ string) {
		b.createStreamOf("accounting.metering.>")
		b.premadeDurable("")
		acct := newID()
		b.publish("accounting.metering.duration", csghub(string(newID()), acct, "2"))
		b.publish("accounting.metering.token", csghub(string(newID()), acct, "4"))
		b.publish("accounting.metering.duration", csghub(string(newID()), acct, "6"))
		c := b.start(metering.ConsumerConfig{Subject: "accounting.metering.>"})
		waitFor(t, "the 3 events stored before charged", func() bool { return c.Stats().Accepted == 3 })
		b.waitDrained(metering.DefaultDurable)
		if got := b.filters(metering.DefaultDurable); len(got) != 0 {
			t.Fatalf("the durable's filters %v, want none", got)
		}
		if got := b.cash(acct); got != "-6" {
			t.Fatalf("cash %s, want -6", got)
		}
	})
}

// TestConsumerWholeStreamHasNoFilter: the durable abacus makes of a stream
// all of whose subjects it takes has no filter, however --nats-subject
// spells them.
func TestConsumerWholeStreamHasNoFilter(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ stream, subject []string }{
		{[]string{"accounting.metering.>"}, []string{"accounting.metering.>"}},
		{[]string{"accounting.metering.duration"}, []string{"accounting.metering.*"}},
		{[]string{"accounting.metering.duration"}, []string{"accounting.metering.duration"}},
		{csghubSubjects, []string{"accounting.metering.*"}},
	} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			t.Parallel()
			t.Logf("stream %v, --nats-subject %v", tc.stream, tc.subject)
			b := setup(t, testdb.SQLite(t), unlimited)
			b.createStreamOf(tc.stream...)
			acct := newID()
			b.publish(tc.stream[0], csghub(string(newID()), acct, "2"))
			c := b.start(metering.ConsumerConfig{Subject: strings.Join(tc.subject, ",")})
			waitFor(t, "the event charged", func() bool { return c.Stats().Accepted == 1 })
			if got := b.filters(metering.DefaultDurable); len(got) != 0 {
				t.Fatalf("the durable's filters %v, want none", got)
			}
		})
	}
}

// TestConsumerKeepsAWildcardDurableOfTheWholeStream: a durable an older
// abacus made with the filter accounting.metering.> on a stream of that
// subject takes the whole stream already: it keeps its filter, not
// changed for nothing (on nats-server 2.9 a filter changed may skip
// messages), and charges what was stored before.
func TestConsumerKeepsAWildcardDurableOfTheWholeStream(t *testing.T) {
	t.Parallel()
	onServers(t, func(t *testing.T, b *bundle, _ string) {
		b.createStreamOf("accounting.metering.>")
		b.premadeDurable("accounting.metering.>")
		acct := newID()
		b.publish("accounting.metering.duration", csghub(string(newID()), acct, "2"))
		b.publish("accounting.metering.token", csghub(string(newID()), acct, "4"))
		c := b.start(metering.ConsumerConfig{Subject: "accounting.metering.>"})
		waitFor(t, "the 2 events stored before charged", func() bool { return c.Stats().Accepted == 2 })
		if got := b.filters(metering.DefaultDurable); !slices.Equal(got, []string{"accounting.metering.>"}) {
			t.Fatalf("the durable's filters %v, want it kept", got)
		}
		c.Stop()
		c = b.start(metering.ConsumerConfig{Subject: "accounting.metering.duration,accounting.metering.token,accounting.metering.>"})
		b.publish("accounting.metering.quota", csghub(string(newID()), acct, "6"))
		waitFor(t, "the quota event charged", func() bool { return c.Stats().Accepted == 1 })
		if got := b.filters(metering.DefaultDurable); !slices.Equal(got, []string{"accounting.metering.>"}) {
			t.Fatalf("the durable's filters %v, want it kept", got)
		}
		if got := b.cash(acct); got != "-6" {
			t.Fatalf("cash %s, want -6", got)
		}
	})
}

// TestConsumerNarrowsADurableOnlyOn210: a durable of the whole stream, to
// take one subject of it, has its filter set on nats-server 2.10 and
// later, which misses nothing it takes; an older server may skip the
// messages stored (2.9.10 did for one change of filter), so there it is
// refused, saying how to go on, and left as it was, its messages pending.
func TestConsumerNarrowsADurableOnlyOn210(t *testing.T) {
	t.Parallel()
	onServers(t, func(t *testing.T, b *bundle, version string) {
		b.createStreamOf(csghubSubjects...)
		b.premadeDurable("")
		acct := newID()
		b.publish("accounting.metering.token", csghub(string(newID()), acct, "2"))
		b.publish("accounting.metering.quota", csghub(string(newID()), acct, "4"))
		cfg := metering.ConsumerConfig{Subject: "accounting.metering.token"}
		if version != "" && !versionAtLeast(version, 2, 10) {
			err := b.consumer(cfg).Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), "before 2.10") || !strings.Contains(err.Error(), "nats consumer rm "+metering.DefaultStream+" "+metering.DefaultDurable) {
				t.Fatalf("narrowed on nats-server %s: %v, want it refused", version, err)
			}
			t.Log(err)
			i := b.info(metering.DefaultDurable)
			if got := b.filters(metering.DefaultDurable); len(got) != 0 || i.NumPending != 2 {
				t.Fatalf("the durable's filters %v, %d pending: want it untouched, 2 pending", got, i.NumPending)
			}
			return
		}
		c := b.start(cfg)
		waitFor(t, "the token event charged", func() bool { return c.Stats().Accepted == 1 })
		if got := b.filters(metering.DefaultDurable); !slices.Equal(got, []string{"accounting.metering.token"}) {
			t.Fatalf("the durable's filters %v", got)
		}
	})
}

// TestConsumerSaysWhatItChangesOfADurable: a durable made beforehand with
// settings of its own (max_deliver 2, ack_wait 2 s, a backoff, metadata)
// gets those abacus needs, and the log says each it changed, as the server
// had it and has it now (QA: they changed without a word, then the log
// named four of them). One that has abacus's settings is not mentioned,
// nor one whose update the server refuses.
func TestConsumerSaysWhatItChangesOfADurable(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	if _, err := b.js.CreateConsumer(context.Background(), metering.DefaultStream, jetstream.ConsumerConfig{
		Durable: metering.DefaultDurable, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 2, AckWait: 2 * time.Second,
		BackOff: []time.Duration{time.Second}, Metadata: map[string]string{"owner": "ops"}}); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	c := b.start(metering.ConsumerConfig{Logger: logs.logger(t)})
	info := b.info(metering.DefaultDurable)
	if info.Config.MaxDeliver != -1 || info.Config.AckWait != 30*time.Second {
		t.Fatalf("durable's max_deliver %d, ack_wait %s", info.Config.MaxDeliver, info.Config.AckWait)
	}
	for _, want := range []string{"changed the settings of the existing durable consumer", `max_deliver="2 to -1 (a message given up`, `ack_wait="1s to 30s"`, // the backoff's first step, as the server has it
		`backoff="[1s] to none"`, `metadata="{\"owner\":\"ops\"} to none"`, "max_ack_pending="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log says nothing of %q:\n%s", want, logs.String())
		}
	}
	c.Stop()
	var again logBuffer
	b.start(metering.ConsumerConfig{Logger: again.logger(t)})
	if strings.Contains(again.String(), "changed the settings") {
		t.Errorf("a durable with abacus's settings was said to change:\n%s", again.String())
	}

	// Refused (a deliver policy cannot change): nothing changed, nothing said.
	if _, err := b.js.CreateConsumer(context.Background(), metering.DefaultStream, jetstream.ConsumerConfig{
		Durable: "ops-new", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy, MaxDeliver: 2}); err != nil {
		t.Fatal(err)
	}
	var refused logBuffer
	cons := b.consumer(metering.ConsumerConfig{Durable: "ops-new", Logger: refused.logger(t)})
	if err := cons.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Fatalf("a durable delivering only new messages: %v", err)
	}
	if strings.Contains(refused.String(), "changed the settings") || b.info("ops-new").Config.MaxDeliver != 2 {
		t.Errorf("a refused update was said to change settings:\n%s", refused.String())
	}
}
