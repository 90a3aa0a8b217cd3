package metering_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/metering/decode"
	"github.com/abacus-billing/abacus/metering/natstest"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// bundle is what a consumer test works with: a store with a price of 0.5
// per GPU minute, an engine over it, a JetStream server and a client.
type bundle struct {
	t   *testing.T
	st  abacus.Store
	p   *metering.Pipeline
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
}

func setup(t *testing.T, st abacus.Store, usage ledger.UsageConfig) *bundle {
	t.Helper()
	return setupOn(t, natstest.Start(t), st, usage)
}

// setupOn is setup with a NATS server of the test's own.
func setupOn(t *testing.T, srv *server.Server, st abacus.Store, usage ledger.UsageConfig) *bundle {
	t.Helper()
	ctx := context.Background()
	gpu := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD", Unit: 1,
		Model: abacus.ModelPerUnit, UnitPrice: decimal.RequireFromString("0.5"), ValidFrom: t0, CreatedAt: t0}
	if err := st.PriceBookAdd(ctx, []abacus.Price{gpu}, nil); err != nil {
		t.Fatal(err)
	}
	eng := ledger.New(st, ledger.Config{Usage: usage, Logger: testLogger(t)})
	t.Cleanup(func() { eng.Close() })
	nc, js := natstest.Connect(t, srv.ClientURL())
	return &bundle{t: t, st: st, p: &metering.Pipeline{Engine: eng}, url: srv.ClientURL(), nc: nc, js: js}
}

// consumer returns a consumer on the bundle's server with quick retries;
// it is stopped when the test ends.
func (b *bundle) consumer(cfg metering.ConsumerConfig) *metering.Consumer {
	cfg.URL = b.url
	if cfg.Logger == nil {
		cfg.Logger = testLogger(b.t)
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 20 * time.Millisecond
	}
	c := metering.NewConsumer(cfg, b.p, b.st)
	b.t.Cleanup(c.Stop)
	return c
}

// start returns a started consumer.
func (b *bundle) start(cfg metering.ConsumerConfig) *metering.Consumer {
	b.t.Helper()
	c := b.consumer(cfg)
	if err := c.Start(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	return c
}

// createStream creates the stream the consumer would create.
func (b *bundle) createStream() {
	b.t.Helper()
	_, err := b.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: metering.DefaultStream, Subjects: []string{metering.DefaultSubject}})
	if err != nil {
		b.t.Fatal(err)
	}
}

// createDeadLetterStream creates CSGHub's DLQ stream: dead letters are
// then published to it with a confirmation.
func (b *bundle) createDeadLetterStream() jetstream.Stream {
	b.t.Helper()
	return b.createDeadLetterStreamWindow(0)
}

// createDeadLetterStreamWindow creates the DLQ stream with a duplicates
// window of its own (0: the server's default, two minutes): past it, a
// message id no longer makes a second copy a duplicate.
func (b *bundle) createDeadLetterStreamWindow(duplicates time.Duration) jetstream.Stream {
	b.t.Helper()
	dlq, err := b.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "accountingDlqStream", Subjects: []string{"accounting.dlq.>"},
		Duplicates: duplicates})
	if err != nil {
		b.t.Fatal(err)
	}
	return dlq
}

// publish publishes to JetStream and waits for the stream to store it.
func (b *bundle) publish(subject, data string) {
	b.t.Helper()
	if _, err := b.js.Publish(context.Background(), subject, []byte(data)); err != nil {
		b.t.Fatalf("publishing to %s: %v", subject, err)
	}
}

// info returns the durable consumer's state.
func (b *bundle) info(durable string) *jetstream.ConsumerInfo {
	b.t.Helper()
	cons, err := b.js.Consumer(context.Background(), metering.DefaultStream, durable)
	if err != nil {
		b.t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return info
}

// waitDrained waits until every message the durable takes was delivered
// and acked. Its pending count alone can read 0 just after a publish,
// before the server counts the message for it (a test once read the
// consumer's stats before it had fetched anything), so it also waits for
// the durable's ack floor to reach the last message it takes.
func (b *bundle) waitDrained(durable string) {
	b.t.Helper()
	last := b.lastSeq(b.filters(durable))
	waitFor(b.t, "every message delivered and acked", func() bool {
		i := b.info(durable)
		return i.NumPending == 0 && i.NumAckPending == 0 && i.AckFloor.Stream >= last
	})
}

// lastSeq returns the stream sequence of the last message stored on any
// of the subjects (all of them if none), 0 if there is none.
func (b *bundle) lastSeq(subjects []string) uint64 {
	b.t.Helper()
	ctx := context.Background()
	s, err := b.js.Stream(ctx, metering.DefaultStream)
	if err != nil {
		b.t.Fatal(err)
	}
	if len(subjects) == 0 {
		subjects = []string{">"}
	}
	var last uint64
	for _, subject := range subjects {
		m, err := s.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			b.t.Fatalf("the last message on %s: %v", subject, err)
		}
		last = max(last, m.Sequence)
	}
	return last
}

// cash returns an account's cash balance.
func (b *bundle) cash(id abacus.AccountID) string {
	b.t.Helper()
	ws, err := b.st.Wallets(context.Background(), []abacus.AccountID{id})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, w := range ws {
		if w.Bucket == abacus.BucketCash {
			return w.Balance.String()
		}
	}
	return "no cash wallet"
}

// events returns the events stored for an account.
func (b *bundle) events(id abacus.AccountID) []abacus.StoredEvent {
	b.t.Helper()
	evs, err := b.st.Events(context.Background(), abacus.EventQuery{Account: id, Limit: 1000})
	if err != nil {
		b.t.Fatal(err)
	}
	return evs
}

// deadLetters returns every dead letter.
func (b *bundle) deadLetters() []abacus.DeadLetter {
	b.t.Helper()
	ds, err := b.st.DeadLetters(context.Background(), 0, 1000)
	if err != nil {
		b.t.Fatal(err)
	}
	return ds
}

// subscribe collects the messages published to a subject.
func (b *bundle) subscribe(subject string) *collector {
	b.t.Helper()
	c := &collector{ch: make(chan *nats.Msg, 100)}
	sub, err := b.nc.ChanSubscribe(subject, c.ch)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.nc.Flush(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { sub.Unsubscribe() })
	return c
}

type collector struct {
	ch   chan *nats.Msg
	msgs []*nats.Msg
}

// wait waits for n messages in all.
func (c *collector) wait(t *testing.T, n int) []*nats.Msg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(c.msgs) < n {
		select {
		case m := <-c.ch:
			c.msgs = append(c.msgs, m)
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(c.msgs), n)
		}
	}
	return c.msgs
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testLogger logs into the test's output, shown when it fails or with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newID() abacus.AccountID {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return abacus.AccountID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// csghub returns a CSGHub metering event of GPU minutes as JSON.
func csghub(id string, acct abacus.AccountID, minutes string) string {
	return fmt.Sprintf(`{"uuid":%q,"user_uuid":%q,"value":%s,"value_type":0,"scene":11,"op_uid":"","resource_id":"gpu",`+
		`"resource_name":"GPU","customer_id":"space-1","created_at":"2026-11-01T10:00:00+08:00","extra":"{}"}`, id, acct, minutes)
}

// cloudEvent returns a CloudEvent of GPU minutes.
func cloudEvent(id string, acct abacus.AccountID, minutes int) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/deployer","type":"com.opencsg.metering","subject":%q,`+
		`"time":"2026-11-01T10:00:00Z","datacontenttype":"application/json",`+
		`"data":{"value":%d,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-2"}}`, id, acct, minutes)
}

func createAccount(t *testing.T, st abacus.Store, od abacus.Overdraft) abacus.AccountID {
	t.Helper()
	id := newID()
	a := abacus.Account{ID: id, Kind: abacus.KindUser, Name: "test", Currency: "USD", Overdraft: od, CreatedAt: t0}
	if _, created, err := st.AccountCreate(context.Background(), a); err != nil || !created {
		t.Fatalf("creating account %s: created=%v err=%v", id, created, err)
	}
	return id
}

var unlimited = ledger.UsageConfig{}

// TestConsumerCharges is the main flow: the stream and the durable are
// created, events in every shape are charged once, and every message is
// acked.
func TestConsumerCharges(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		b := setup(t, open(t), unlimited)
		ctx := context.Background()
		if _, err := b.js.Stream(ctx, metering.DefaultStream); err != jetstream.ErrStreamNotFound {
			t.Fatalf("stream before Start: %v", err)
		}
		c := b.start(metering.ConsumerConfig{})

		s, err := b.js.Stream(ctx, metering.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(s.CachedInfo().Config.Subjects, ","); got != metering.DefaultSubjects {
			t.Fatalf("stream subjects %v", got)
		}
		// No filter: the durable takes the whole stream, of the three subjects.
		ci := b.info(metering.DefaultDurable).Config
		if ci.AckPolicy != jetstream.AckExplicitPolicy || ci.DeliverPolicy != jetstream.DeliverAllPolicy ||
			ci.FilterSubject != "" || len(ci.FilterSubjects) != 0 || ci.Durable != metering.DefaultDurable || ci.AckWait != 30*time.Second {
			t.Fatalf("durable consumer config %+v", ci)
		}

		a1, a2 := newID(), newID()
		for range 5 {
			b.publish(metering.DefaultSubject, csghub(string(newID()), a1, "2"))
		}
		b.publish(metering.DefaultSubject, "["+csghub(string(newID()), a2, "1")+","+csghub(string(newID()), a2, "1")+","+
			cloudEvent(string(newID()), a2, 1)+"]")
		b.publish(metering.DefaultSubject, cloudEvent(string(newID()), a2, 4))
		// A CloudEvents batch, said so by its Content-Type header.
		batch := nats.NewMsg(metering.DefaultSubject)
		batch.Header.Set("Content-Type", decode.ContentTypeCloudEventBatch)
		batch.Data = []byte("[" + cloudEvent(string(newID()), a2, 2) + "]")
		if _, err := b.js.PublishMsg(ctx, batch); err != nil {
			t.Fatal(err)
		}
		// A CloudEvent in binary mode, as the CloudEvents SDK publishes it:
		// attributes in ce-* headers, the usage as the body.
		bin := nats.NewMsg(metering.DefaultSubject)
		for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": string(newID()), "ce-source": "/deployer",
			"ce-type": "com.opencsg.metering", "ce-subject": string(a2), "ce-time": "2026-11-01T10:00:00Z", "content-type": "application/json"} {
			bin.Header[k] = []string{v} // as sent: lower case, which NATS keeps
		}
		bin.Data = []byte(`{"value":3,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-2"}`)
		if _, err := b.js.PublishMsg(ctx, bin); err != nil {
			t.Fatal(err)
		}

		waitFor(t, "11 events accepted", func() bool { return c.Stats().Accepted == 11 })
		b.waitDrained(metering.DefaultDurable)
		if got := b.cash(a1); got != "-5" {
			t.Fatalf("a1 cash %s, want -5 (5 events of 2 minutes at 0.5)", got)
		}
		if got := b.cash(a2); got != "-6" {
			t.Fatalf("a2 cash %s, want -6 (12 minutes at 0.5)", got)
		}
		if evs := b.events(a1); len(evs) != 5 || evs[0].Status != abacus.EventCharged || evs[0].Charged.String() != "1" {
			t.Fatalf("a1 events %+v", evs)
		}
		if evs := b.events(a2); len(evs) != 6 {
			t.Fatalf("a2 has %d events, want 6", len(evs))
		}
		want := metering.ConsumerStats{Received: 9, Accepted: 11}
		if got := c.Stats(); got != want {
			t.Fatalf("stats %+v, want %+v", got, want)
		}
		c.Stop()
		c.Stop()
	})
}

// TestConsumerDuplicates: an event sent twice over NATS, and once more over
// another path, is charged once.
func TestConsumerDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	acct := newID()
	e1, e2 := csghub(string(newID()), acct, "2"), csghub(string(newID()), acct, "4")
	// e1 came over HTTP first.
	items, err := decode.CSGHubJSON([]byte(e1))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := b.p.Ingest(context.Background(), items)
	if err != nil || rs[0].Status != abacus.IngestAccepted {
		t.Fatalf("direct ingest: %+v %v", rs, err)
	}
	c := b.start(metering.ConsumerConfig{})
	b.publish(metering.DefaultSubject, e1)
	b.publish(metering.DefaultSubject, e2)
	b.publish(metering.DefaultSubject, e1)
	b.publish(metering.DefaultSubject, e2)
	waitFor(t, "4 messages received", func() bool { return c.Stats().Received == 4 })
	b.waitDrained(metering.DefaultDurable)
	// Later, e2 comes over HTTP too.
	rs, err = b.p.Ingest(context.Background(), items[:0:0])
	if err != nil {
		t.Fatal(err)
	}
	items, _ = decode.CSGHubJSON([]byte(e2))
	if rs, err = b.p.Ingest(context.Background(), items); err != nil || rs[0].Status != abacus.IngestDuplicate {
		t.Fatalf("e2 over HTTP after NATS: %+v %v", rs, err)
	}
	if got := b.cash(acct); got != "-3" {
		t.Fatalf("cash %s, want -3 (6 minutes at 0.5, each event once)", got)
	}
	if evs := b.events(acct); len(evs) != 2 {
		t.Fatalf("%d events stored, want 2", len(evs))
	}
	want := metering.ConsumerStats{Received: 4, Accepted: 1, Duplicate: 3}
	if got := c.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// TestConsumerRedeliveryAfterCrash: a consumer that commits a batch and
// dies before acking it leaves the messages to be redelivered; the next
// consumer on the durable finds them duplicates and acks them.
func TestConsumerRedeliveryAfterCrash(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct := newID()
	const n = 20
	for range n {
		b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	}
	cfg := metering.ConsumerConfig{AckWait: time.Second}
	c1 := b.consumer(cfg)
	metering.SetHooks(c1, nil, func() { metering.KillConnection(c1) })
	if err := c1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first consumer to commit its batch", func() bool { return c1.Stats().Accepted == n })
	c1.Stop()
	if got := b.cash(acct); got != "-20" {
		t.Fatalf("cash after the crash %s, want -20", got)
	}
	if i := b.info(metering.DefaultDurable); i.NumAckPending != n {
		t.Fatalf("after the crash %d messages await an ack, want %d", i.NumAckPending, n)
	}

	c2 := b.start(cfg)
	waitFor(t, "the redelivered messages", func() bool { return c2.Stats().Duplicate == n })
	b.waitDrained(metering.DefaultDurable)
	if got := b.cash(acct); got != "-20" {
		t.Fatalf("cash after redelivery %s, want -20: every event charged once", got)
	}
	if evs := b.events(acct); len(evs) != n {
		t.Fatalf("%d events stored, want %d", len(evs), n)
	}
	if s := c2.Stats(); s.Received != n || s.Redelivered != n || s.Accepted != 0 || s.DeadLettered != 0 {
		t.Fatalf("second consumer stats %+v", s)
	}
}

// TestConsumerDeadLetters: bad messages and refused events land on the
// dead letter subject and in the store, with their reason, and are acked;
// the good events around them are charged.
func TestConsumerDeadLetters(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		b := setup(t, st, ledger.UsageConfig{NoAutoCreate: true})
		ctx := context.Background()
		dlq := b.createDeadLetterStream()
		sub := b.subscribe(metering.DefaultDeadLetterSubject)
		rich := createAccount(t, st, abacus.Overdraft{Unlimited: true})
		poor := createAccount(t, st, abacus.Overdraft{}) // no money, no overdraft: usage is refused
		cloudNoSource := strings.Replace(cloudEvent(string(newID()), rich, 1), `"source":"/deployer",`, "", 1)

		good := csghub(string(newID()), rich, "2")
		type expect struct{ reason, code string }
		bad := map[string]expect{ // payload → how its reason starts, and its code
			`{"uuid": oops`:                       {"body: is not valid JSON", "invalid"},
			`42`:                                  {"body: is a number", "invalid"},
			csghub(string(newID()), rich, "1.5"):  {"value: ", "invalid"},
			csghub(string(newID()), newID(), "1"): {"user_uuid: ", "not_found"},
			csghub(string(newID()), poor, "2"):    {"value: ", "insufficient_funds"},
			cloudNoSource:                         {"source: is required", "invalid"},
			"[" + csghub(string(newID()), rich, "4") + "," + csghub(string(newID()), rich, `"x"`) + "]": {"[1] value: ", "invalid"},
			"[" + csghub(string(newID()), rich, "2") + ", 42]":                                          {"[1]: is a number, not a JSON object", "invalid"},
			" [ ] ": {"body: holds no events", "invalid"},
		}
		// A CloudEvent in binary mode with a bad time: its reason names the
		// header, and its dead letter keeps the headers.
		binBody, binID := `{"value":1,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"binary"}`, string(newID())
		bad[binBody] = expect{"ce-time: ", "invalid"}
		c := b.start(metering.ConsumerConfig{})
		b.publish(metering.DefaultSubject, good)
		for p := range bad {
			if p == binBody {
				continue
			}
			b.publish(metering.DefaultSubject, p)
		}
		bin := nats.NewMsg(metering.DefaultSubject)
		for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": binID, "ce-source": "/deployer", "ce-type": "usage",
			"ce-subject": string(rich), "ce-time": "yesterday", "Content-Type": "application/json",
			"Nats-Expected-Stream": metering.DefaultStream} { // for the original only: the dead letter must not carry it
			bin.Header[k] = []string{v}
		}
		bin.Data = []byte(binBody)
		if _, err := b.js.PublishMsg(ctx, bin); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "10 messages dead-lettered", func() bool { return c.Stats().DeadLettered == 10 })
		b.waitDrained(metering.DefaultDurable)

		if got := b.cash(rich); got != "-4" {
			t.Fatalf("rich cash %s, want -4: the good events are charged", got)
		}
		if got := b.cash(poor); got != "0" {
			t.Fatalf("poor cash %s, want 0", got)
		}
		ds := b.deadLetters()
		if len(ds) != 10 {
			t.Fatalf("%d dead letters stored, want 10: %+v", len(ds), ds)
		}
		reasons := map[string]string{}
		for _, d := range ds {
			want, ok := bad[string(d.Payload)]
			if !ok {
				t.Fatalf("dead letter of a payload not sent bad: %q", d.Payload)
			}
			if d.Source != "nats" || d.Subject != metering.DefaultSubject || !strings.HasPrefix(d.Reason, want.reason) || d.ReceivedAt.IsZero() {
				t.Fatalf("dead letter %+v: want reason with %q", d, want)
			}
			reasons[string(d.Payload)] = d.Reason
			if string(d.Payload) == binBody && (len(d.Headers["ce-id"]) != 1 || d.Headers["ce-id"][0] != binID) {
				t.Fatalf("the binary-mode dead letter was stored without its attributes: %+v", d.Headers)
			}
		}
		for _, m := range sub.wait(t, 10) {
			if string(m.Data) == binBody && (m.Header["ce-id"] == nil || m.Header["ce-id"][0] != binID || m.Header.Get("Nats-Expected-Stream") != "") {
				t.Fatalf("binary-mode dead letter lost its attributes: %v", m.Header)
			}
			if got, want := m.Header.Get(metering.ReasonHeader), reasons[string(m.Data)]; got != want || want == "" {
				t.Fatalf("DLQ message %q: reason header %q, want %q", m.Data, got, want)
			}
			if m.Header.Get(metering.SubjectHeader) != metering.DefaultSubject || m.Header.Get(metering.CodeHeader) != bad[string(m.Data)].code {
				t.Fatalf("DLQ message headers %v", m.Header)
			}
		}
		if info, err := dlq.Info(ctx); err != nil || info.State.Msgs != 10 {
			t.Fatalf("DLQ stream: %+v %v", info, err)
		}
		want := metering.ConsumerStats{Received: 11, Accepted: 3, Rejected: 7, DeadLettered: 10}
		if got := c.Stats(); got != want {
			t.Fatalf("stats %+v, want %+v", got, want)
		}
	})
}

// flakyStore is a store whose database can go down.
type flakyStore struct {
	abacus.Store
	writesDown, readsDown atomic.Bool
	writeDelay            atomic.Int64 // nanoseconds each write waits first
}

var errDown = fmt.Errorf("database is down")

func (s *flakyStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	if s.writesDown.Load() {
		return errDown
	}
	time.Sleep(time.Duration(s.writeDelay.Load()))
	return s.Store.Write(ctx, fn)
}

func (s *flakyStore) DeadLetterAdd(ctx context.Context, d abacus.DeadLetter) (bool, error) {
	if s.writesDown.Load() {
		return false, errDown
	}
	return s.Store.DeadLetterAdd(ctx, d)
}

func (s *flakyStore) DeadLetterPublished(ctx context.Context, key string, at time.Time) error {
	if s.writesDown.Load() {
		return errDown
	}
	return s.Store.DeadLetterPublished(ctx, key, at)
}

func (s *flakyStore) AccountCreate(ctx context.Context, a abacus.Account) (abacus.Account, bool, error) {
	if s.writesDown.Load() {
		return abacus.Account{}, false, errDown
	}
	return s.Store.AccountCreate(ctx, a)
}

func (s *flakyStore) AccountGet(ctx context.Context, id abacus.AccountID) (abacus.Account, error) {
	if s.readsDown.Load() {
		return abacus.Account{}, errDown
	}
	return s.Store.AccountGet(ctx, id)
}

func (s *flakyStore) AccountsCreate(ctx context.Context, as []abacus.Account) ([]abacus.AccountID, error) {
	if s.writesDown.Load() {
		return nil, errDown
	}
	return s.Store.AccountsCreate(ctx, as)
}

func (s *flakyStore) PriceBookVersion(ctx context.Context) (int64, error) {
	if s.readsDown.Load() {
		return 0, errDown
	}
	return s.Store.PriceBookVersion(ctx)
}

func (s *flakyStore) Accounts(ctx context.Context, ids []abacus.AccountID) ([]abacus.Account, error) {
	if s.readsDown.Load() {
		return nil, errDown
	}
	return s.Store.Accounts(ctx, ids)
}

// TestConsumerDatabaseDown: while the database cannot commit, nothing is
// acked and nothing is dead-lettered; once it is back, every event is
// charged once and the bad message dead-lettered once.
func TestConsumerDatabaseDown(t *testing.T) {
	t.Parallel()
	st := &flakyStore{Store: testdb.SQLite(t)}
	b := setup(t, st, unlimited)
	sub := b.subscribe(metering.DefaultDeadLetterSubject) // no DLQ stream: published plainly
	acct := createAccount(t, st, abacus.Overdraft{Unlimited: true})
	st.writesDown.Store(true)
	c := b.start(metering.ConsumerConfig{})
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	b.publish(metering.DefaultSubject, csghub(string(newID()), newID(), "2")) // a new account: its creation fails too
	b.publish(metering.DefaultSubject, "not json")
	waitFor(t, "redeliveries", func() bool { return c.Stats().Retried >= 9 })
	if evs := b.events(acct); len(evs) != 0 {
		t.Fatalf("events stored while the database is down: %+v", evs)
	}
	if i := b.info(metering.DefaultDurable); i.AckFloor.Stream != 0 {
		t.Fatalf("a message was acked while the database is down: %+v", i)
	}
	if ds := b.deadLetters(); len(ds) != 0 || len(sub.ch) != 0 {
		t.Fatalf("dead-lettered while the database is down: %+v", ds)
	}

	st.writesDown.Store(false)
	b.waitDrained(metering.DefaultDurable)
	if got := b.cash(acct); got != "-1" {
		t.Fatalf("cash %s, want -1", got)
	}
	if ds := b.deadLetters(); len(ds) != 1 || !strings.HasPrefix(ds[0].Reason, "body: is not valid JSON") {
		t.Fatalf("dead letters %+v", ds)
	}
	if ms := sub.wait(t, 1); string(ms[0].Data) != "not json" || ms[0].Header.Get(metering.ReasonHeader) == "" {
		t.Fatalf("DLQ message %+v", ms[0])
	}
	if s := c.Stats(); s.Accepted != 2 || s.Duplicate != 0 || s.DeadLettered != 1 || s.Redelivered < 3 {
		t.Fatalf("stats %+v", s)
	}
	time.Sleep(20 * time.Millisecond)
	if len(sub.ch) != 0 {
		t.Fatalf("the bad message was dead-lettered more than once")
	}
}

// TestConsumerRetryLimit: an event that keeps failing with an internal
// error is retried RetryLimit times, then dead-lettered with the error;
// the other event of its message is charged once.
// TestConsumerReadsDown: when the database cannot be read, the whole
// pull is handed back and retried; nothing is rejected or dead-lettered,
// and once the database answers every event is charged exactly once.
func TestConsumerReadsDown(t *testing.T) {
	t.Parallel()
	st := &flakyStore{Store: testdb.SQLite(t)}
	b := setup(t, st, unlimited)
	known := createAccount(t, st, abacus.Overdraft{Unlimited: true})
	// Charge known once, so the engine has it cached.
	items, _ := decode.CSGHubJSON([]byte(csghub(string(newID()), known, "2")))
	if _, err := b.p.Ingest(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	st.readsDown.Store(true) // accounts not cached cannot be looked up
	c := b.start(metering.ConsumerConfig{RetryLimit: 3, RetryDelay: 5 * time.Millisecond})
	newcomer := newID()
	b.publish(metering.DefaultSubject, "["+csghub(string(newID()), known, "2")+","+csghub(string(newID()), newcomer, "2")+"]")
	waitFor(t, "a few retries", func() bool { return c.Stats().Retried >= 3 })
	if got := c.Stats(); got.DeadLettered != 0 || got.Rejected != 0 || got.Accepted != 0 {
		t.Fatalf("with the database down nothing may be settled: %+v", got)
	}
	st.readsDown.Store(false)
	b.waitDrained(metering.DefaultDurable)
	if got := c.Stats(); got.Accepted != 2 || got.DeadLettered != 0 {
		t.Fatalf("stats %+v", got)
	}
	if got := b.cash(known); got != "-2" { // two events of 2 minutes at 0.5
		t.Fatalf("cash %s, want -2", got)
	}
	if got := b.cash(newcomer); got != "-1" {
		t.Fatalf("the new account's cash %s, want -1", got)
	}
}

// TestConsumerGracefulStop: Stop lets the batch in flight commit and be
// acked before it returns.
func TestConsumerGracefulStop(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct := newID()
	for range 10 {
		b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	}
	c := b.consumer(metering.ConsumerConfig{})
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	metering.SetHooks(c, func(int) {
		if once.CompareAndSwap(false, true) {
			close(inFlight)
			<-release
		}
	}, nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-inFlight // fetched, not yet charged
	stopped := make(chan struct{})
	go func() { c.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned with a batch in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	// No waiting: it is all done by now.
	if got := b.cash(acct); got != "-10" {
		t.Fatalf("cash %s, want -10", got)
	}
	if i := b.info(metering.DefaultDurable); i.NumAckPending != 0 || i.NumPending != 0 {
		t.Fatalf("after Stop: %d messages await an ack, %d undelivered", i.NumAckPending, i.NumPending)
	}
	if s := c.Stats(); s.Accepted != 10 || s.Received != 10 {
		t.Fatalf("stats %+v", s)
	}
}

// TestConsumerExistingStream: a stream that exists (CSGHub's) is used as
// it is, and a durable consumer given one subject reads only that; an
// existing durable is brought up to date.
func TestConsumerExistingStream(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	ctx := context.Background()
	csghubCfg := jetstream.StreamConfig{
		Name:        metering.DefaultStream,
		Description: "CSGHub's",
		Subjects:    []string{"accounting.metering.duration", "accounting.metering.token", "accounting.metering.quota"},
		MaxAge:      72 * time.Hour,
	}
	if _, err := b.js.CreateStream(ctx, csghubCfg); err != nil {
		t.Fatal(err)
	}
	if _, err := b.js.CreateConsumer(ctx, metering.DefaultStream, jetstream.ConsumerConfig{
		Durable: metering.DefaultDurable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, FilterSubject: metering.DefaultSubject,
	}); err != nil {
		t.Fatal(err)
	}
	acct := newID()
	b.publish("accounting.metering.duration", csghub(string(newID()), acct, "2"))
	b.publish("accounting.metering.token", csghub(string(newID()), acct, "2"))
	c := b.start(metering.ConsumerConfig{Subject: metering.DefaultSubject, AckWait: 10 * time.Second})
	waitFor(t, "the event charged", func() bool { return c.Stats().Accepted == 1 })
	b.waitDrained(metering.DefaultDurable)
	s, err := b.js.Stream(ctx, metering.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Config.Description != "CSGHub's" || len(info.Config.Subjects) != 3 || info.Config.MaxAge != 72*time.Hour || info.State.Msgs != 2 {
		t.Fatalf("the stream changed: %+v", info)
	}
	if ci := b.info(metering.DefaultDurable).Config; ci.AckWait != 10*time.Second || ci.FilterSubject != metering.DefaultSubject {
		t.Fatalf("durable not updated: %+v", ci)
	}
	if got := b.cash(acct); got != "-1" {
		t.Fatalf("cash %s, want -1", got)
	}
	if s := c.Stats(); s.Received != 1 {
		t.Fatalf("stats %+v: the token subject is not ours", s)
	}

	t.Run("a stream without the subject", func(t *testing.T) {
		c := b.consumer(metering.ConsumerConfig{Subject: "accounting.fee.credit", Durable: "fee"})
		if err := c.Start(ctx); err == nil || !strings.Contains(err.Error(), "captures") {
			t.Fatalf("Start: %v", err)
		}
		c.Stop()
	})
}

// TestConsumerLifecycle: Start fails clearly when it cannot work; Stop is
// safe before Start and twice.
func TestConsumerLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	ctx := context.Background()

	c := metering.NewConsumer(metering.ConsumerConfig{URL: "nats://127.0.0.1:1"}, b.p, b.st)
	c.Stop() // before Start
	if err := metering.NewConsumer(metering.ConsumerConfig{URL: "nats://127.0.0.1:0x1"}, b.p, b.st).Start(ctx); err == nil {
		t.Fatal("Start succeeded with a malformed URL")
	}
	if err := c.Start(ctx); err == nil {
		t.Fatal("Start after Stop succeeded")
	}

	loop := b.consumer(metering.ConsumerConfig{Subject: "accounting.>"})
	if err := loop.Start(ctx); err == nil || !strings.Contains(err.Error(), "dead-letter subject") {
		t.Fatalf("a subject that takes in its own dead letters: %v", err)
	}

	c = b.start(metering.ConsumerConfig{})
	if err := c.Start(ctx); err == nil {
		t.Fatal("a second Start succeeded")
	}
	c.Stop()
	c.Stop()

	// Cancelling Start's context stops fetching too; Stop still returns.
	cctx, cancel := context.WithCancel(ctx)
	c = b.consumer(metering.ConsumerConfig{})
	if err := c.Start(cctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	c.Stop()
}

// TestConsumerDurableDeleted: a durable deleted under a running consumer
// is made again, and the consumer goes on.
func TestConsumerDurableDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	ctx := context.Background()
	// On a busy machine the remade durable may deliver a message to a pull
	// that has just expired on the client; JetStream redelivers it after
	// AckWait, which here must come within waitDrained's ten seconds.
	c := b.start(metering.ConsumerConfig{AckWait: 3 * time.Second})
	acct := newID()
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	waitFor(t, "the first event", func() bool { return c.Stats().Accepted == 1 })
	if err := b.js.DeleteConsumer(ctx, metering.DefaultStream, metering.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	waitFor(t, "the second event", func() bool { return c.Stats().Accepted == 2 })
	b.waitDrained(metering.DefaultDurable)
	if got := b.cash(acct); got != "-2" {
		t.Fatalf("cash %s, want -2", got)
	}
}

// TestConsumerReplayChargesWhatWasAckedUncharged: a message acknowledged
// without its events being stored, as nats-server 2.9 once did (QA), is
// charged when the durable is deleted and abacus replays the stream; what
// was charged before comes back a duplicate (the README's recovery).
func TestConsumerReplayChargesWhatWasAckedUncharged(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	ctx := context.Background()
	acct := newID()
	c := b.start(metering.ConsumerConfig{})
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	waitFor(t, "the first event", func() bool { return c.Stats().Accepted == 1 })
	b.waitDrained(metering.DefaultDurable)
	c.Stop()

	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "3"))
	durable, err := b.js.Consumer(ctx, metering.DefaultStream, metering.DefaultDurable)
	if err != nil {
		t.Fatal(err)
	}
	lost, err := durable.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := lost.DoubleAck(ctx); err != nil { // acknowledged, never charged
		t.Fatal(err)
	}
	if got := b.cash(acct); got != "-1" { // 2 minutes at 0.5
		t.Fatalf("cash %s before the replay, want -1", got)
	}

	if err := b.js.DeleteConsumer(ctx, metering.DefaultStream, metering.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	replay := b.start(metering.ConsumerConfig{})
	waitFor(t, "the replay", func() bool { s := replay.Stats(); return s.Accepted == 1 && s.Duplicate == 1 })
	b.waitDrained(metering.DefaultDurable)
	if got := b.cash(acct); got != "-2.5" {
		t.Fatalf("cash %s after the replay, want -2.5: the lost event charged, the first not again", got)
	}
}

// TestConsumerFetchBudget: a pull fetches no more bytes than MaxBytes, so
// a backlog of large messages is taken a few at a time, not all at once;
// and a message larger than MaxBytes (but not than the server takes) is
// still fetched, on its own, rather than stalling the consumer.
func TestConsumerFetchBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct := newID()
	publishPadded := func(pad int) {
		b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "1")+strings.Repeat(" ", pad))
	}
	for range 40 {
		publishPadded(100 << 10)
	}
	publishPadded(900 << 10)

	const budget = 3 << 19 // 1.5 MiB: above the floor of the server's 1 MiB max_payload
	c := b.consumer(metering.ConsumerConfig{MaxBytes: budget})
	var mu sync.Mutex
	largest := 0 // messages in the largest pull
	metering.SetHooks(c, func(n int) {
		mu.Lock()
		largest = max(largest, n)
		mu.Unlock()
	}, nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "41 events accepted", func() bool { return c.Stats().Accepted == 41 })
	mu.Lock()
	most := largest
	mu.Unlock()
	if most > budget/(100<<10) {
		t.Fatalf("a pull fetched %d messages of 100 KiB, over the budget of 1.5 MiB", most)
	}
	if most < 2 {
		t.Fatalf("pulls fetched one message each: the budget is not used")
	}

	// A budget below one message is raised to what the server takes.
	publishPadded(900 << 10)
	tiny := b.start(metering.ConsumerConfig{Durable: "tiny", MaxBytes: 1 << 10})
	waitFor(t, "42 messages through the tiny budget", func() bool { return tiny.Stats().Received == 42 })
	b.waitDrained("tiny")
	if got := b.cash(acct); got != "-21" {
		t.Fatalf("cash %s, want -21 (42 minutes at 0.5, each event once)", got)
	}
}

// TestConsumerOversizedMessage: a message over the byte budget even so (the
// server's max_payload was lowered after it was stored) is fetched alone
// rather than stalling the consumer.
func TestConsumerOversizedMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct := newID()
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "2"))
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "4")+strings.Repeat(" ", 10<<10))
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "6"))
	c := b.consumer(metering.ConsumerConfig{})
	metering.SetFetchBudget(c, 4<<10)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 events accepted", func() bool { return c.Stats().Accepted == 3 })
	b.waitDrained(metering.DefaultDurable)
	if got := b.cash(acct); got != "-6" {
		t.Fatalf("cash %s, want -6 (12 minutes at 0.5)", got)
	}
}

// TestConsumerPullsABacklogAtOnce: a pull takes thousands of waiting
// messages, so a backlog is charged in a few large batches, not one per
// thousand messages.
func TestConsumerPullsABacklogAtOnce(t *testing.T) {
	b := setup(t, testdb.SQLite(t), ledger.UsageConfig{})
	b.createStream()
	const n = 3000
	for i := range n {
		ev := fmt.Sprintf(`{"uuid":"00000000-0000-4000-8000-%012d","user_uuid":"be000000-0000-4000-8000-000000000001","value":1,`+
			`"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"c","created_at":"2026-11-01T00:00:00Z"}`, i)
		if _, err := b.js.PublishAsync(metering.DefaultSubject, []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	<-b.js.PublishAsyncComplete()
	before, _, _ := b.p.Engine.Stats()
	// Long enough for the server to deliver the whole backlog to one pull
	// however busy the machine; only the pull's size is under test.
	c := b.start(metering.ConsumerConfig{MaxWait: 3 * time.Second})
	waitFor(t, "every event charged", func() bool { return c.Stats().Accepted == n })
	if after, _, _ := b.p.Engine.Stats(); after-before > 2 {
		t.Fatalf("%d waiting messages took %d batches", n, after-before)
	}
}

// TestConsumerRollupOverflow: an event the database refuses, its quarter
// hour's rollup being full, is dead-lettered with the reason, and the
// events pulled with it are charged; the stream does not stall on it.
func TestConsumerRollupOverflow(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		b := setup(t, open(t), unlimited)
		full, other := newID(), newID()
		storage := func(id string, minutes string) string { // no price: kept unpriced, counted in rollups
			return strings.Replace(csghub(id, full, minutes), `"resource_id":"gpu"`, `"resource_id":"storage"`, 1)
		}
		c := b.start(metering.ConsumerConfig{})
		b.publish(metering.DefaultSubject, storage(string(newID()), "9223372036854775807"))
		waitFor(t, "the first event accepted", func() bool { return c.Stats().Accepted == 1 })
		tooMuch := storage(string(newID()), "1")
		b.publish(metering.DefaultSubject, tooMuch)
		b.publish(metering.DefaultSubject, csghub(string(newID()), other, "2"))
		waitFor(t, "a message dead-lettered", func() bool { return c.Stats().DeadLettered == 1 })
		b.waitDrained(metering.DefaultDurable)
		if got := b.cash(other); got != "-1" {
			t.Fatalf("cash %s, want -1: the event beside the refused one is charged", got)
		}
		ds := b.deadLetters()
		if len(ds) != 1 || string(ds[0].Payload) != tooMuch || !strings.Contains(ds[0].Reason, "value") {
			t.Fatalf("dead letters %+v, want the refused event's, naming value", ds)
		}
		want := metering.ConsumerStats{Received: 3, Accepted: 2, Rejected: 1, DeadLettered: 1}
		if got := c.Stats(); got != want {
			t.Fatalf("stats %+v, want %+v", got, want)
		}
	})
}

// TestConsumerChargesAPullInTurns: a pull's messages are charged in turns
// of at most MaxEvents events, a message's events all in one turn, so
// that messages carrying arrays do not decode into an unbounded batch;
// every event is charged once and every message acked.
func TestConsumerChargesAPullInTurns(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct := newID()
	for range 5 {
		b.publish(metering.DefaultSubject, "["+csghub(string(newID()), acct, "2")+","+csghub(string(newID()), acct, "2")+","+csghub(string(newID()), acct, "2")+"]")
	}
	c := b.consumer(metering.ConsumerConfig{MaxEvents: 7, MaxWait: time.Second})
	var mu sync.Mutex
	var turns []int
	metering.SetHooks(c, func(n int) {
		mu.Lock()
		turns = append(turns, n)
		mu.Unlock()
	}, nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(metering.DefaultDurable)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(turns) != "[2 2 1]" {
		t.Fatalf("turns of %v messages, want [2 2 1]: 6, 6 and 3 events", turns)
	}
	if got := c.Stats(); got.Accepted != 15 {
		t.Fatalf("stats %+v, want 15 accepted", got)
	}
	if got := b.cash(acct); got != "-15" {
		t.Fatalf("cash %s, want -15", got)
	}
}

// TestConsumerKeepsLongPullsFromRedelivery: a pull whose turns take
// longer together than the ack wait tells JetStream its messages are in
// progress, so that none is redelivered while it waits for its turn.
func TestConsumerKeepsLongPullsFromRedelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct := newID()
	for range 6 {
		b.publish(metering.DefaultSubject, "["+csghub(string(newID()), acct, "2")+","+csghub(string(newID()), acct, "2")+"]")
	}
	c := b.consumer(metering.ConsumerConfig{MaxEvents: 2, MaxWait: 100 * time.Millisecond, AckWait: 2 * time.Second})
	metering.SetHooks(c, func(int) { time.Sleep(700 * time.Millisecond) }, nil) // six turns: 4.2 s
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(metering.DefaultDurable)
	if got := c.Stats(); got.Accepted != 12 || got.Redelivered != 0 || got.Duplicate != 0 {
		t.Fatalf("stats %+v, want 12 accepted and nothing redelivered", got)
	}
}

// TestConsumerTracesMessagesAtDebugLevel: at debug level each message's
// way is logged by its stream sequence, so that a message reported lost
// can be followed to abacus's side or the server's (a pass tracing 1.33
// million messages on nats-server 2.9.10 needed it).
func TestConsumerTracesMessagesAtDebugLevel(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	var mu sync.Mutex
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := b.start(metering.ConsumerConfig{Logger: log})
	b.publish(metering.DefaultSubject, csghub(string(newID()), newID(), "2"))
	waitFor(t, "the message acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logged.String(), "usage messages acknowledged")
	})
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{`msg="usage message received" component=metering-nats seq=1 delivered=1 events=1`,
		`msg="usage message settled" component=metering-nats seq=1 events=1 to_ack=true`} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("no %s in\n%s", want, logged.String())
		}
	}
	if c.Stats().Accepted != 1 {
		t.Errorf("stats %+v", c.Stats())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
