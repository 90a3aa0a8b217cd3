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
	// Requests that take little have a room of their own, an eighth (and
	// at least one such request's, while that is at most half), so
	// that they never wait behind large ones in turn (QA: an account read
	// waited 8 s behind slow senders of large bodies).
	small, large         *semaphore.Weighted
	smallSize, largeSize int64
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
	// smallRequest is the most a request takes from the small room.
	smallRequest = 256 << 10
	// unsizedStart is what a body without a Content-Length (chunked) is
	// taken to be until more comes: one had taken the largest body's room,
	// and a default room let 15 such small requests in at once (QA).
	unsizedStart = 16 << 10
)

// roomWait is how long a request waits for room before it is refused as
// busy (503, to be sent again).
var roomWait = 10 * time.Second

func newRequestRoom(size int64) *requestRoom {
	small := min(max(size/8, smallRequest), size/2)
	return &requestRoom{small: semaphore.NewWeighted(small), large: semaphore.NewWeighted(size - small), smallSize: small, largeSize: size - small}
}

// roomKind is what a route holds in memory besides its answer.
type roomKind int

const (
	roomSmall roomKind = iota // no body, one small object
	roomBody                  // a JSON body of up to maxBody
	roomPage                  // a page of a listing: pageBytes and its last row
)

// heldRoom is what a request holds: n of one room, which a listing shrinks
// once it knows what its page takes, and grown of the large room, which a
// body of unknown length takes once it is more than unsizedStart.
type heldRoom struct {
	sem   *semaphore.Weighted
	n     int64
	room  *requestRoom
	grown int64
}

type heldRoomKey struct{}

// heldOf is the room r holds, nil outside within.
func heldOf(r *http.Request) *heldRoom {
	held, _ := r.Context().Value(heldRoomKey{}).(*heldRoom)
	return held
}

// within runs h once the request has room of its kind.
func (s *Server) within(kind roomKind, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		n := int64(baseRoom)
		switch kind {
		case roomBody:
			body := r.ContentLength
			if body < 0 {
				body = unsizedStart
			}
			n += bodyFactor * min(body, maxBody)
		case roomPage:
			n += pageFactor * 2 * pageBytes
		}
		held := &heldRoom{room: s.room, sem: s.room.small, n: n}
		// A body of unknown length may be large, and come slowly: in the
		// small room, slow chunked senders held back every small request
		// (QA).
		if n > smallRequest || n > s.room.smallSize || kind == roomBody && r.ContentLength < 0 {
			held.sem, held.n = s.room.large, min(n, s.room.largeSize) // larger than the room: it waits to run alone
		}
		ctx, cancel := context.WithTimeout(r.Context(), roomWait)
		err := held.sem.Acquire(ctx, held.n)
		cancel()
		if err != nil {
			if r.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return busy(w)
			}
			return err
		}
		defer func() {
			held.sem.Release(held.n)
			s.room.large.Release(held.grown)
		}()
		return h(w, r.WithContext(context.WithValue(r.Context(), heldRoomKey{}, held)))
	}
}

// busy is the answer to a request that finds no room: 503, to be sent
// again.
func busy(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "1")
	return abacus.Errorf(abacus.CodeUnavailable, "", "the server is busy with other requests; try again in a moment")
}

// growRoom takes more of the large room for r if there is some now, and
// says whether it did: a body of unknown length that grows past what it
// was taken to be is refused if there is none, not held.
func growRoom(r *http.Request, more int64) bool {
	held := heldOf(r)
	if held == nil {
		return true
	}
	inLarge := held.grown
	if held.sem == held.room.large {
		inLarge += held.n
	}
	more = min(more, held.room.largeSize-inLarge) // the whole room at most: it runs alone
	if more <= 0 {
		return true
	}
	if !held.room.large.TryAcquire(more) {
		return false
	}
	held.grown += more
	return true
}

// fitRoom makes what r holds what a page of bytes (of JSON) takes to
// answer: it gives back the rest, so that a slow reader of a small page
// holds little, or takes more of the large room for a page that its last
// row took past pageBytes (a dead letter may be as large as NATS's max
// payload), refusing the request as busy if there is none now.
func fitRoom(w http.ResponseWriter, r *http.Request, bytes int) error {
	held := heldOf(r)
	if held == nil {
		return nil
	}
	want := int64(baseRoom + pageFactor*bytes)
	switch {
	case want < held.n:
		held.sem.Release(held.n - want)
		held.n = want
	case want > held.n+held.grown && !growRoom(r, want-held.n-held.grown):
		return busy(w)
	}
	return nil
}
