package http

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/abacus-billing/abacus"
)

// admission holds ingestion requests back until they fit in the memory
// the endpoint may use, so that memory is bounded by configuration however
// many producers send at once. It has three rooms, which a request takes
// in order, never waiting for one while it holds a later one, so no two
// wait for each other:
//   - bodies: before its body is read, its Content-Length, or, with none,
//     unknownBody and the rest at once when the body grows past it (a
//     request that finds no room then is refused, not held);
//   - unpacked: for a compressed body, once read, what it decompresses to
//     (the size its gzip trailer gives), waiting there with the compressed
//     body's room held, which it gives back once decompressed;
//   - events: once read, and before any of it is decoded, perEvent for each
//     item the body holds, waiting there with the room its body takes
//     held (the unpacked room's, for a compressed one).
//
// All are given back once it is answered. Waiters are served in order; a
// request larger than a whole room waits to run alone.
type admission struct {
	bodyRoom, unpackedRoom, eventRoom int64
	bodies, unpacked, events          *semaphore.Weighted
}

// An admitted request has bodyDeadline to send its body and answerDeadline
// to be answered and take the answer: a slow client must not sit on room
// others are waiting for. (A request cut off after its commit is safe to
// send again: its events come back duplicate.) It stops waiting for room
// and for the engine answerMargin before answerDeadline, so that it can
// still say so: past the write deadline no answer gets through.
var (
	bodyDeadline   = time.Minute
	answerDeadline = 2 * time.Minute
	answerMargin   = 10 * time.Second
)

// RequestDeadline is the longest an admitted usage request takes to be
// answered, which a server shutting down waits for.
func RequestDeadline() time.Duration { return answerDeadline }

func newAdmission(bodyRoom, unpackedRoom, eventRoom int64) *admission {
	return &admission{bodyRoom: bodyRoom, unpackedRoom: unpackedRoom, eventRoom: eventRoom,
		bodies: semaphore.NewWeighted(bodyRoom), unpacked: semaphore.NewWeighted(unpackedRoom), events: semaphore.NewWeighted(eventRoom)}
}

// splitAdmission gives a quarter of the ingestion memory to bodies as
// sent, an eighth to compressed ones decompressed, and the rest to what
// they decode to: an event of ~200 bytes takes perEvent.
func splitAdmission(memory int64) *admission {
	return newAdmission(memory/4, memory/8, memory-memory/4-memory/8)
}

// perEvent is the memory an event of an admitted request takes beyond its
// bytes of the body, decoded, charged and answered (measured: about 1 KiB
// for a rejected one, a few for a charged one).
const perEvent = 4 << 10

// unknownBody is what a request without a Content-Length reserves before
// its body is read: a slow client sending one has held the largest body's
// room, and sixteen of them all of it, for a minute.
const unknownBody = 1 << 20

// reservation is the room an admitted request holds.
type reservation struct {
	a        *admission
	n        int64 // of the bodies' room
	unpacked int64 // of the unpacked room
	events   int64 // of the events' room
	// waitUntil is when the request stops waiting (answerMargin before
	// its write deadline).
	waitUntil time.Time
}

func (r *reservation) release() {
	r.a.bodies.Release(r.n)
	r.a.unpacked.Release(r.unpacked)
	r.a.events.Release(r.events)
	r.n, r.unpacked, r.events = 0, 0, 0
}

// tryGrow reserves more for the request's body, up to the whole room, if
// there is room now.
func (r *reservation) tryGrow(more int64) bool {
	total := min(r.n+more, r.a.bodyRoom)
	if total > r.n && !r.a.bodies.TryAcquire(total-r.n) {
		return false
	}
	r.n = max(r.n, total)
	return true
}

// shrink gives back what the request holds for its body beyond n.
func (r *reservation) shrink(n int64) {
	if n < r.n {
		r.a.bodies.Release(r.n - n)
		r.n = n
	}
}

// reserveUnpacked waits for n bytes of the unpacked room (at most the
// whole room), giving back first what it held there: a request waits for
// it holding its compressed body's room, never part of the same room.
func (r *reservation) reserveUnpacked(ctx context.Context, n int64) error {
	r.a.unpacked.Release(r.unpacked)
	r.unpacked = 0
	n = min(n, r.a.unpackedRoom)
	if err := r.a.unpacked.Acquire(ctx, n); err != nil {
		return err
	}
	r.unpacked = n
	return nil
}

// reserveEvents waits for room for items decoded events (see admission).
func (r *reservation) reserveEvents(ctx context.Context, items int) error {
	n := min(int64(items)*perEvent, r.a.eventRoom)
	if err := r.a.events.Acquire(ctx, n); err != nil {
		return err
	}
	r.events += n
	return nil
}

// admit waits for room for r's body and returns the reservation, which
// the caller must release. It fails when the body is declared too large,
// or when the client gives up waiting.
func (a *admission) admit(w http.ResponseWriter, r *http.Request, maxBody int64) (*reservation, error) {
	n := r.ContentLength
	switch {
	case n > maxBody:
		return nil, abacus.Errorf(abacus.CodeTooLarge, "body", "is larger than %d bytes", maxBody)
	case n < 0:
		n = min(unknownBody, maxBody)
	}
	n = min(n, a.bodyRoom)
	if err := a.bodies.Acquire(r.Context(), n); err != nil {
		return nil, err
	}
	// Both end with the request: the server sets the connection's own
	// before it reads the next one.
	now := time.Now()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(now.Add(bodyDeadline))
	rc.SetWriteDeadline(now.Add(answerDeadline))
	return &reservation{a: a, n: n, waitUntil: now.Add(answerDeadline - answerMargin)}, nil
}
