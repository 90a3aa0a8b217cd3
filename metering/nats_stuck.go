package metering

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// stuckAfter is how long the durable's ack floor may stay where it is,
// with messages pending, NATS and the database in reach, and none of this
// process's messages handed back meanwhile,
// before the consumer stops for its process to be restarted. nats-server
// 2.9.10 now and then never delivered again a message handed back or left
// unacknowledged by a crashed process; a restart of abacus had it
// delivered (QA). Healthy, nothing stays pending this long: a turn gives
// up after turnTimeout (five minutes) and a message handed back comes
// again within maxRetryDelay.
const stuckAfter = 15 * time.Minute

// stuckCheck is how often the consumer reads the durable's state for it.
const stuckCheck = time.Minute

// stuckWatch follows the durable's ack floor.
type stuckWatch struct {
	floor   uint64    // the ack floor's stream sequence
	since   time.Time // when it was first seen there, with messages pending
	retried int64     // this process's messages handed back by then
	checked time.Time // when the loop last asked for the durable's state
}

// unknown starts the count again: while NATS or the database cannot be
// reached, a floor that stays put says nothing of the server.
func (w *stuckWatch) unknown() { w.since = time.Time{} }

// stuck records the durable's state and returns an error once its ack
// floor has stayed for after with messages pending above it, though this
// process handed none back (retried counts those) since: a database that
// fails keeps the floor where it is, and that is no fault of the server.
func (w *stuckWatch) stuck(info *jetstream.ConsumerInfo, retried int64, now time.Time, after time.Duration) error {
	if info.NumAckPending == 0 || info.AckFloor.Stream != w.floor || retried != w.retried || w.since.IsZero() {
		w.floor, w.since, w.retried = info.AckFloor.Stream, now, retried
		return nil
	}
	if now.Sub(w.since) < after {
		return nil
	}
	return fmt.Errorf("metering: %d messages of durable %s have stayed pending for %s, the ack floor at stream sequence %d, and abacus handed none back: "+
		"nats-server is not delivering them again (nats-server 2.9 did this after crashes and outages; upgrade it). The consumer stops, for its process "+
		"to be restarted, which has them delivered", info.NumAckPending, info.Name, now.Sub(w.since).Round(time.Second), info.AckFloor.Stream)
}
