package metering_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/metering"
)

// TestConsumerEarlierMessageWinsAcrossPulls: with two pulls in flight, the
// second's events go into batches only after the first's last turn, so
// the earlier of two messages with one id wins, as it does within a pull.
// The second pull had been charged between the first's turns (QA: the
// later value was stored and the earlier message dead-lettered); then so
// had its second turn when its first reached no batch (all malformed, or
// refused before batching), and when its wait for the first pull outlasted
// the ack wait (QA again).
func TestConsumerEarlierMessageWinsAcrossPulls(t *testing.T) {
	t.Parallel()
	farAhead := func(s string) string {
		return strings.Replace(s, "2026-11-01T10:00:00+08:00", "2099-11-01T10:00:00+08:00", 1)
	}
	for _, c := range []struct {
		name    string
		opening func(id string) string // the second pull's first turn, before the conflict
		hold    time.Duration          // how long the first pull's first turn is held
		ackWait time.Duration
		charged int64 // events accepted
	}{
		{"plain", nil, 200 * time.Millisecond, 0, 2},
		{"opening turn malformed", func(id string) string { return csghub(id, newID(), `"x"`) }, 300 * time.Millisecond, 0, 2},
		{"opening turn refused before batching", func(id string) string { return farAhead(csghub(id, newID(), "1")) }, 300 * time.Millisecond, 0, 2},
		{"the wait outlasts the ack wait", func(id string) string { return csghub(id, newID(), "1") }, 2500 * time.Millisecond, time.Second, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testdb.SQLite(t), unlimited)
			b.createStream()
			acct, id := newID(), string(newID())
			b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "1")) // the first pull's first turn
			b.publish(metering.DefaultSubject, csghub(id, acct, "1"))              // its second
			if c.opening != nil {
				b.publish(metering.DefaultSubject, c.opening(string(newID())))
			}
			b.publish(metering.DefaultSubject, csghub(id, acct, "2")) // the second pull: a conflict
			cons := b.consumer(metering.ConsumerConfig{Batch: 2, MaxEvents: 1, AckWait: c.ackWait})
			var calls atomic.Int32
			second := make(chan struct{})
			metering.SetHooks(cons, func(int) {
				switch calls.Add(1) {
				case 1: // hold the first turn until the second pull is being charged
					select {
					case <-second:
						time.Sleep(c.hold)
					case <-time.After(10 * time.Second):
						t.Error("the second pull was not fetched while the first was charged")
					}
				case 2:
					close(second)
				}
			}, nil)
			if err := cons.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			b.waitDrained(metering.DefaultDurable)
			var value int64 = -1
			for _, e := range b.events(acct) {
				if e.ID == id {
					value = e.Value
				}
			}
			if s := cons.Stats(); value != 1 || s.Accepted != c.charged || s.Redelivered != 0 {
				t.Fatalf("the id stored with value %d, stats %+v: want the earlier message's 1, nothing redelivered", value, s)
			}
			if got := b.cash(acct); got != "-1" {
				t.Fatalf("cash %s, want -1", got)
			}
		})
	}
}

// TestConsumerFailedTurnHoldsBackItsPull: a turn that fails hands back the
// rest of its pull too, so the earlier message still wins when both come
// back (QA: the next turn's event was charged while the failed one waited
// for its redelivery).
func TestConsumerFailedTurnHoldsBackItsPull(t *testing.T) {
	t.Parallel()
	st := &flakyStore{Store: testdb.SQLite(t)}
	b := setup(t, st, unlimited)
	b.createStream()
	acct, id := newID(), string(newID())
	b.publish(metering.DefaultSubject, csghub(id, acct, "1"))
	b.publish(metering.DefaultSubject, csghub(id, acct, "2")) // the same pull, the next turn: a conflict
	cons := b.consumer(metering.ConsumerConfig{Batch: 2, MaxEvents: 1})
	var calls atomic.Int32
	metering.SetHooks(cons, func(int) {
		if calls.Add(1) == 1 {
			st.writesDown.Store(true) // the first turn fails
		}
	}, func() { st.writesDown.Store(false) })
	if err := cons.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(metering.DefaultDurable)
	evs := b.events(acct)
	if s := cons.Stats(); len(evs) != 1 || evs[0].Value != 1 || s.DeadLettered != 1 || s.Retried != 2 {
		t.Fatalf("stored %+v, stats %+v: want the earlier value 1, the later dead-lettered, both handed back once", evs, s)
	}
}

// TestConsumerTurnSlowerThanAckWait: a turn that takes longer than the ack
// wait keeps its messages in progress and is charged once, where it had
// failed at its deadline every time it came back (QA).
func TestConsumerTurnSlowerThanAckWait(t *testing.T) {
	t.Parallel()
	st := &flakyStore{Store: testdb.SQLite(t)}
	b := setup(t, st, unlimited)
	b.createStream()
	acct := newID()
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "1"))
	st.writeDelay.Store(int64(time.Second))
	cons := b.start(metering.ConsumerConfig{AckWait: 300 * time.Millisecond})
	waitFor(t, "the event charged", func() bool { return cons.Stats().Accepted == 1 })
	b.waitDrained(metering.DefaultDurable)
	if s := cons.Stats(); s.Redelivered != 0 || s.Retried != 0 {
		t.Fatalf("stats %+v: want it charged at its first delivery", s)
	}
}

// TestConsumerStopHandsBackAHungTurn: Stop lets a turn in flight try to
// commit for its grace, then hands it back, where a database that does not
// answer had held shutdown for the turn's whole bound (QA: 295 s).
func TestConsumerStopHandsBackAHungTurn(t *testing.T) {
	t.Parallel()
	st := &flakyStore{Store: testdb.SQLite(t)}
	b := setup(t, st, unlimited)
	b.createStream()
	b.publish(metering.DefaultSubject, csghub(string(newID()), newID(), "1"))
	st.writeDelay.Store(int64(3 * time.Second))
	cons := b.consumer(metering.ConsumerConfig{})
	metering.SetStopGrace(cons, 300*time.Millisecond)
	inTurn := make(chan struct{})
	var once atomic.Bool
	metering.SetHooks(cons, func(int) {
		if once.CompareAndSwap(false, true) {
			close(inTurn)
		}
	}, nil)
	if err := cons.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-inTurn
	time.Sleep(100 * time.Millisecond) // the turn waits for its write
	start := time.Now()
	cons.Stop()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Stop took %v with a turn the database does not answer", took)
	}
	if s := cons.Stats(); s.Accepted != 0 || s.Retried != 1 {
		t.Fatalf("stats %+v: want the turn handed back", s)
	}
}

// TestConsumerHandsBackInOrder: messages of a pull handed back come back
// in their order, though the earlier was delivered more often: each is
// handed back with a delay no shorter than the one before it. The earlier
// had come back after the later and lost the conflict to it (QA).
func TestConsumerHandsBackInOrder(t *testing.T) {
	t.Parallel()
	st := &flakyStore{Store: testdb.SQLite(t)}
	b := setup(t, st, unlimited)
	b.createStream()
	acct, id := newID(), string(newID())
	b.publish(metering.DefaultSubject, csghub(id, acct, "1"))
	st.writesDown.Store(true)
	first := b.start(metering.ConsumerConfig{})
	waitFor(t, "the first message handed back", func() bool { return first.Stats().Retried >= 1 })
	first.Stop() // abacus restarted while the database is down
	b.publish(metering.DefaultSubject, csghub(id, acct, "2"))
	time.Sleep(time.Second) // the first message's delay is over: it comes first in the next pull
	second := b.consumer(metering.ConsumerConfig{Batch: 2, MaxEvents: 1})
	metering.SetHooks(second, nil, func() { st.writesDown.Store(false) }) // up again after the pull's first turn
	if err := second.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(metering.DefaultDurable)
	evs := b.events(acct)
	if len(evs) != 1 || evs[0].Value != 1 {
		t.Fatalf("stored %+v, stats %+v: want the earlier value 1", evs, second.Stats())
	}
}
