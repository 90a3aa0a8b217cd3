package http

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
)

// TestRequestRoomBoundsOtherRequests: a request other than ingestion takes
// room for its body before reading it; while a slow sender's body holds
// all the large room, another large body waits, and past roomWait is
// refused 503 with Retry-After, changing nothing, and so is a body of
// unknown length, which may be large and come slowly. Small requests have
// a room of their own and go on at once.
// Once the slow sender is gone the room is back. Without it, memory grew
// with every request at once (QA: 1,000 bodies of 1 MiB took 6.2 GB).
func TestRequestRoomBoundsOtherRequests(t *testing.T) {
	defer func(d time.Duration) { roomWait = d }(roomWait)
	roomWait = 200 * time.Millisecond
	url, token := serveIngestWith(t, testdb.SQLite(t), Config{RequestMemory: 1 << 20})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // before the server's cleanup, which waits for it
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n{", token)
	account := func(i int, pad int) string {
		return fmt.Sprintf(`{"id":"aaaaaaaa-0000-4000-8000-%012d","kind":"user","currency":"USD"}`, i) + strings.Repeat(" ", pad)
	}
	send := func(method, path, body string, chunked bool) (*http.Response, map[string]any) {
		return call(t, url, token, method, path, body, chunked)
	}
	time.Sleep(100 * time.Millisecond) // the slow body has its room
	start := time.Now()
	res, v := send("POST", "/api/v1/accounts", account(1, 30000), false) // 30 KB: a large request
	if res.StatusCode != 503 || v["code"] != string(abacus.CodeUnavailable) || res.Header.Get("Retry-After") == "" || time.Since(start) < roomWait {
		t.Fatalf("a large body beside one holding all the large room: %d %v after %v", res.StatusCode, v, time.Since(start))
	}
	if res, v = send("POST", "/api/v1/accounts", account(2, 0), true); res.StatusCode != 503 {
		t.Fatalf("a body of unknown length: %d %v", res.StatusCode, v)
	}
	start = time.Now()
	for i, c := range []struct {
		method, path, body string
		chunked            bool
		status             int
	}{
		{"POST", "/api/v1/accounts", account(3, 0), false, 201},
		{"GET", "/api/v1/accounts/aaaaaaaa-0000-4000-8000-000000000003", "", false, 200},
	} {
		if res, v := send(c.method, c.path, c.body, c.chunked); res.StatusCode != c.status {
			t.Fatalf("small request %d beside the large room held: %d %v", i, res.StatusCode, v)
		}
	}
	if time.Since(start) > roomWait {
		t.Fatalf("small requests waited %v behind the large room", time.Since(start))
	}
	conn.Close()
	if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		t.Fatal("an answer on a closed connection")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, v = send("POST", "/api/v1/accounts", account(1, 30000), true)
		if res.StatusCode == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("once the slow sender left: %d %v", res.StatusCode, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEventPagesAreBoundedByTheirBytes: a page of events ends once its
// events' text passes pageBytes, however many its limit allows, and says
// where to go on; following next_after lists every event once (QA: a page
// of 1,000 events with 16 KB extras took 38 MB a request).
func TestEventPagesAreBoundedByTheirBytes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		url, token := serveIngestWith(t, open(t), Config{})
		do := func(method, path, body string) map[string]any {
			t.Helper()
			res, v := call(t, url, token, method, path, body, false)
			if res.StatusCode != 200 || v == nil {
				t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, v)
			}
			return v
		}
		const acct, n = "bbbbbbbb-0000-4000-8000-00000000000b", 200
		note := strings.Repeat("x", 15000)
		var events []string
		for i := range n {
			events = append(events, fmt.Sprintf(`{"uuid":"big-%d","user_uuid":%q,"value":1,"value_type":0,"scene":11,"resource_id":"gpu","created_at":"2026-11-02T10:00:%02dZ","extra":{"note":%q}}`,
				i, acct, i%60, note))
		}
		do("POST", "/api/v1/accounting/metering/events", "["+strings.Join(events, ",")+"]")
		seen, pages, after := map[string]bool{}, 0, ""
		for {
			page := do("GET", "/api/v1/accounting/metering/events?limit=1000&account="+acct+after, "")
			evs := page["events"].([]any)
			pages++
			if len(evs) > pageBytes/15000+1 {
				t.Fatalf("page %d holds %d events of 15 KB", pages, len(evs))
			}
			for _, e := range evs {
				id := e.(map[string]any)["uuid"].(string)
				if seen[id] {
					t.Fatalf("%s listed twice", id)
				}
				seen[id] = true
			}
			next, ok := page["next_after"].(float64)
			if !ok {
				break
			}
			after = fmt.Sprintf("&after=%d", int64(next))
		}
		if len(seen) != n || pages < 3 {
			t.Fatalf("%d events over %d pages, want %d over several", len(seen), pages, n)
		}
	})
}

// TestListingShrinksItsRoom: a listing takes room for the largest page
// before it reads one, and gives back what its page does not need before
// it writes, so that a slow reader of a small page holds little.
func TestListingShrinksItsRoom(t *testing.T) {
	s := &Server{room: newRequestRoom(16 << 20)}
	var free bool
	h := s.within(roomPage, func(w http.ResponseWriter, r *http.Request) error {
		if s.room.large.TryAcquire(s.room.largeSize - 8<<20) {
			t.Fatal("a listing about to read its page holds less than a page's room")
		}
		if err := fitRoom(w, r, 1000); err != nil {
			t.Fatal(err)
		}
		free = s.room.large.TryAcquire(s.room.largeSize - baseRoom - pageFactor*1000)
		return nil
	})
	if err := h(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)); err != nil {
		t.Fatal(err)
	}
	if !free {
		t.Fatal("a page of 1,000 bytes kept more than it takes")
	}
}

// TestListingGrowsItsRoomOrIsBusy: a page that its last row took past what
// the listing holds (a dead letter of a large payload) takes more of the
// large room, or, with none there now, is refused as busy: it had held a
// page's room whatever its size (QA: 2.37 GB for pages of 25 MB).
func TestListingGrowsItsRoomOrIsBusy(t *testing.T) {
	s := &Server{room: newRequestRoom(32 << 20)}
	for _, c := range []struct {
		taken int64 // of the large room by others
		busy  bool
	}{{0, false}, {s.room.largeSize - 9<<20, true}} {
		if c.taken > 0 && !s.room.large.TryAcquire(c.taken) {
			t.Fatal("the large room is not free")
		}
		err := s.within(roomPage, func(w http.ResponseWriter, r *http.Request) error {
			return fitRoom(w, r, 3<<20)
		})(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		var ae *abacus.Error
		if busy := errors.As(err, &ae) && ae.Code == abacus.CodeUnavailable; busy != c.busy || !busy && err != nil {
			t.Fatalf("with %d of the large room taken: %v", c.taken, err)
		}
		s.room.large.Release(c.taken)
		if !s.room.large.TryAcquire(s.room.largeSize) {
			t.Fatal("a listing kept room once answered")
		}
		s.room.large.Release(s.room.largeSize)
	}
}

// call sends a JSON body with the token and returns the answer and its
// JSON (nil if it has none). chunked hides the body's length, as a client
// streaming it does.
func call(t *testing.T, url, token, method, path, body string, chunked bool) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	req, _ := http.NewRequest(method, url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var v map[string]any
	json.Unmarshal(raw, &v)
	return res, v
}
