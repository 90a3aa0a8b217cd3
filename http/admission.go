package http

import (
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/abacus-billing/abacus"
)

// admission holds ingestion requests back until their bodies fit in the
// memory the endpoint may use, so that memory is bounded by configuration
// however many producers send at once: a request reserves its
// Content-Length (the largest body when it sends none) before its body is
// read, and gives it back once answered. Waiters are served in order; a
// request larger than the whole room waits to run alone. What a body decodes
// to is proportional to it, so the room bounds that too.
type admission struct {
	room int64
	sem  *semaphore.Weighted
}

// An admitted request has bodyDeadline to send its body and answerDeadline
// to be answered and take the answer: a slow client must not sit on room
// others are waiting for. (A request cut off after its commit is safe to
// send again: its events come back duplicate.)
var (
	bodyDeadline   = time.Minute
	answerDeadline = 2 * time.Minute
)

func newAdmission(room int64) *admission {
	return &admission{room: room, sem: semaphore.NewWeighted(room)}
}

// admit waits for room for r's body and returns what gives it back. It
// fails when the body is declared too large, or when the client gives up
// waiting.
func (a *admission) admit(w http.ResponseWriter, r *http.Request, maxBody int64) (func(), error) {
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
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(bodyDeadline))
	rc.SetWriteDeadline(time.Now().Add(answerDeadline))
	return func() { a.sem.Release(n) }, nil
}
