package http

import (
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/abacus-billing/abacus"
)

// requestRoom bounds the memory that the API's requests other than usage
// ingestion (which has its admission) hold at once, so that it is bounded
// by configuration however many clients call: each request takes room
// before it reads its body or a page, waiting its turn, and gives it back
// once answered. Without it, 300 clients listing events with large extras
// took 10.9 GB, and 1,000 bodies of 1 MiB sent at once 6.2 GB, even
// those refused (QA).
type requestRoom struct {
	size int64
	sem  *semaphore.Weighted
}

// DefaultRequestMemory is how many bytes of the other requests the API
// holds at once unless configured otherwise.
const DefaultRequestMemory = 128 << 20

const (
	// baseRoom is what any request takes: its headers, its answer.
	baseRoom = 64 << 10
	// bodyFactor is what a body takes for each of its bytes, read,
	// checked and decoded (QA measured about 6 for bodies of 1 MiB).
	bodyFactor = 8
	// pageBytes is about the most text a listing's page holds, before the
	// row that passes it (see abacus.EventQuery.MaxBytes); a page takes
	// pageFactor for each of its bytes, read and encoded.
	pageBytes  = 1 << 20
	pageFactor = 4
)

// roomWait is how long a request waits for room before it is refused as
// busy (503, to be sent again).
var roomWait = 10 * time.Second

func newRequestRoom(size int64) *requestRoom {
	return &requestRoom{size: size, sem: semaphore.NewWeighted(size)}
}

// roomKind is what a route holds in memory besides its answer.
type roomKind int

const (
	roomSmall roomKind = iota // no body, one small object
	roomBody                  // a JSON body of up to maxBody
	roomPage                  // a page of a listing: pageBytes and its last row
)

// heldRoom is what a request holds, which a listing shrinks once it knows
// what its page takes.
type heldRoom struct {
	room *requestRoom
	n    int64
}

type heldRoomKey struct{}

// within runs h once the request has room of its kind.
func (s *Server) within(kind roomKind, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		n := int64(baseRoom)
		switch kind {
		case roomBody:
			body := r.ContentLength
			if body < 0 || body > maxBody {
				body = maxBody
			}
			n += bodyFactor * body
		case roomPage:
			n += pageFactor * 2 * pageBytes
		}
		n = min(n, s.room.size) // larger than the room: it waits to run alone
		ctx, cancel := context.WithTimeout(r.Context(), roomWait)
		err := s.room.sem.Acquire(ctx, n)
		cancel()
		if err != nil {
			if r.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				w.Header().Set("Retry-After", "1")
				return abacus.Errorf(abacus.CodeUnavailable, "", "the server is busy with other requests; try again in a moment")
			}
			return err
		}
		held := &heldRoom{room: s.room, n: n}
		defer func() { s.room.sem.Release(held.n) }()
		return h(w, r.WithContext(context.WithValue(r.Context(), heldRoomKey{}, held)))
	}
}

// shrinkRoom gives back what r holds beyond what a page of bytes takes to
// answer, so that a slow reader of a small page holds little.
func shrinkRoom(r *http.Request, bytes int) {
	held, _ := r.Context().Value(heldRoomKey{}).(*heldRoom)
	if held == nil {
		return
	}
	if want := int64(baseRoom + pageFactor*bytes); want < held.n {
		held.room.sem.Release(held.n - want)
		held.n = want
	}
}
