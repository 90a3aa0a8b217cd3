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

// bodyDeadline is how long an admitted request has to send its body: a
// slow client must not sit on room others are waiting for.
const bodyDeadline = time.Minute

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
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyDeadline))
	return func() { a.sem.Release(n) }, nil
}
