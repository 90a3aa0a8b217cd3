package metering_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/metering"
)

// TestConsumerDeadLettersRepeatedHeaders: a CloudEvent in binary mode
// whose ce-subject, ce-id or ce-time comes twice, in one spelling of the
// name or two, is dead-lettered with a reason naming the header and
// charged to no account; a good one after it is charged.
func TestConsumerDeadLettersRepeatedHeaders(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		b := setup(t, st, unlimited)
		ctx := context.Background()
		first, second := createAccount(t, st, abacus.Overdraft{Unlimited: true}), createAccount(t, st, abacus.Overdraft{Unlimited: true})
		body := `{"value":2,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"binary"}`
		publish := func(extra nats.Header) string {
			t.Helper()
			id := string(newID())
			m := nats.NewMsg(metering.DefaultSubject)
			for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": id, "ce-source": "/deployer", "ce-type": "usage",
				"ce-subject": string(first), "ce-time": "2026-11-01T10:00:00Z", "Content-Type": "application/json"} {
				m.Header[k] = []string{v}
			}
			for k, vs := range extra {
				m.Header[k] = append(m.Header[k], vs...)
			}
			m.Data = []byte(body)
			if _, err := b.js.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
			return id
		}
		c := b.start(metering.ConsumerConfig{})
		want := map[string]string{ // the event's id → how its dead letter's reason starts
			publish(nats.Header{"ce-subject": {string(second)}}):  "ce-subject: appears more than once",
			publish(nats.Header{"Ce-Subject": {string(second)}}):  "ce-subject: appears more than once",
			publish(nats.Header{"ce-time": {"2026-11-01T11:00"}}): "ce-time: appears more than once",
			publish(nats.Header{"ce-id": {string(newID())}}):      "ce-id: appears more than once",
		}
		publish(nil)
		waitFor(t, "5 messages received", func() bool { return c.Stats().Received == 5 })
		b.waitDrained(metering.DefaultDurable)
		if got := c.Stats(); got.Accepted != 1 || got.Rejected != 4 || got.DeadLettered != 4 {
			t.Fatalf("stats %+v, want 1 accepted and 4 rejected and dead-lettered", got)
		}

		if got := b.cash(first); got != "-1" {
			t.Fatalf("cash of the first subject %s, want -1: only the good event is charged", got)
		}
		if got, evs := b.cash(second), b.events(second); got != "0" || len(evs) != 0 {
			t.Fatalf("the second subject has cash %s and events %+v, want none", got, evs)
		}
		ds := b.deadLetters()
		if len(ds) != 4 {
			t.Fatalf("%d dead letters, want 4: %+v", len(ds), ds)
		}
		for _, d := range ds {
			ids := d.Headers["ce-id"]
			if len(ids) == 0 || !strings.HasPrefix(d.Reason, want[ids[0]]) || want[ids[0]] == "" {
				t.Errorf("dead letter of %v: reason %q, want %q", ids, d.Reason, want[ids[0]])
			}
		}
	})
}

// TestConsumerDeadLettersByContentHeaders: a body that is not JSON under a
// Content-Type naming another format is dead-lettered naming the header,
// as is a compressed one, which abacus does not read over NATS; JSON under
// a type that says otherwise is charged, as CSGHub's producers send it.
func TestConsumerDeadLettersByContentHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	ctx := context.Background()
	acct := newID()
	publish := func(h nats.Header, body string) {
		t.Helper()
		m := nats.NewMsg(metering.DefaultSubject)
		m.Header, m.Data = h, []byte(body)
		if _, err := b.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	c := b.start(metering.ConsumerConfig{})
	publish(nats.Header{"Content-Type": {"text/csv"}}, "uuid,user_uuid\nx,y\n")
	publish(nats.Header{"Content-Encoding": {"gzip"}}, "\x1f\x8b\x08\x00")
	publish(nats.Header{"Content-Type": {"application/xml"}}, csghub(string(newID()), acct, "2"))
	// Binary mode's headers without ce-specversion: the body is not taken
	// for an event of its own (QA: it was charged under its uuid).
	publish(nats.Header{"ce-id": {string(newID())}}, csghub(string(newID()), acct, "3"))
	waitFor(t, "4 messages received", func() bool { return c.Stats().Received == 4 })
	b.waitDrained(metering.DefaultDurable)
	if got := c.Stats(); got.Accepted != 1 || got.DeadLettered != 3 {
		t.Fatalf("stats %+v, want 1 accepted and 3 dead-lettered", got)
	}
	ds := b.deadLetters()
	if len(ds) != 3 || !strings.HasPrefix(ds[0].Reason, "Content-Type: ") || !strings.HasPrefix(ds[1].Reason, "Content-Encoding: ") ||
		!strings.HasPrefix(ds[2].Reason, "ce-specversion: is missing, but the message has ce-id") {
		t.Fatalf("dead letters %+v, want reasons naming Content-Type, Content-Encoding and ce-specversion", ds)
	}
}
