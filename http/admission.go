package http

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/abacus-billing/abacus"
)

// admission holds ingestion requests back until their bodies fit in the
// memory the endpoint may use, so that memory is bounded by configuration
// however many producers send at once: a request reserves its
// Content-Length (the largest body when it sends none) before its body is
// read, and reserves perEvent more for each event it decoded to (at most
// decode.MaxItems), and gives it all back once answered. Waiters are
// served in order; a request larger than the whole room waits to run alone.
type admission struct {
	room int64
	sem  *semaphore.Weighted
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

func newAdmission(room int64) *admission {
	return &admission{room: room, sem: semaphore.NewWeighted(room)}
}

// perEvent is the memory an event of an admitted request takes beyond its
// bytes of the body, decoded, charged and answered (measured: about 1 KiB
// for a rejected one, a few for a charged one).
const perEvent = 4 << 10

// reservation is the room an admitted request holds.
type reservation struct {
	a *admission
	n int64
	// waitUntil is when the request stops waiting (answerMargin before
	// its write deadline).
	waitUntil time.Time
}

func (r *reservation) release() { r.a.sem.Release(r.n) }

// grow reserves more for the request, up to the whole room: at once when
// there is room, and otherwise by giving back what it holds and waiting in
// line for the whole, so that no two requests wait holding room the other
// needs.
func (r *reservation) grow(ctx context.Context, more int64) error {
	total := min(r.n+more, r.a.room)
	if total <= r.n {
		return nil
	}
	if r.a.sem.TryAcquire(total - r.n) {
		r.n = total
		return nil
	}
	r.a.sem.Release(r.n)
	if err := r.a.sem.Acquire(ctx, total); err != nil {
		r.n = 0
		return err
	}
	r.n = total
	return nil
}

// shrink gives back what the request holds beyond n.
func (r *reservation) shrink(n int64) {
	if n < r.n {
		r.a.sem.Release(r.n - n)
		r.n = n
	}
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
		n = maxBody
	}
	n = min(n, a.room)
	if err := a.sem.Acquire(r.Context(), n); err != nil {
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
