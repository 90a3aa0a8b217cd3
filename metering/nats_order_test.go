package metering_test

import (
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
// later value was stored and the earlier message dead-lettered).
func TestConsumerEarlierMessageWinsAcrossPulls(t *testing.T) {
	t.Parallel()
	b := setup(t, testdb.SQLite(t), unlimited)
	b.createStream()
	acct, id := newID(), string(newID())
	b.publish(metering.DefaultSubject, csghub(string(newID()), acct, "1")) // the first pull's first turn
	b.publish(metering.DefaultSubject, csghub(id, acct, "1"))              // its second
	b.publish(metering.DefaultSubject, csghub(id, acct, "2"))              // the second pull: a conflict
	c := b.consumer(metering.ConsumerConfig{Batch: 2, MaxEvents: 1})
	var calls atomic.Int32
	second := make(chan struct{})
	metering.SetHooks(c, func(int) {
		switch calls.Add(1) {
		case 1: // hold the first turn until the second pull is being charged
			select {
			case <-second:
				time.Sleep(200 * time.Millisecond)
			case <-time.After(10 * time.Second):
				t.Error("the second pull was not fetched while the first was charged")
			}
		case 2:
			close(second)
		}
	}, nil)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(metering.DefaultDurable)
	var value int64 = -1
	for _, e := range b.events(acct) {
		if e.ID == id {
			value = e.Value
		}
	}
	if s := c.Stats(); value != 1 || s.Accepted != 2 || s.DeadLettered != 1 {
		t.Fatalf("the id stored with value %d, stats %+v: want the earlier message's 1, the later dead-lettered", value, s)
	}
	if got := b.cash(acct); got != "-1" {
		t.Fatalf("cash %s, want -1", got)
	}
}
