package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

func bodyOf(ctx context.Context, size int64) *http.Request {
	r := httptest.NewRequestWithContext(ctx, "POST", "/", nil)
	r.ContentLength = size
	return r
}

// TestAdmission: requests wait, in order, until their bodies fit; one
// larger than the room runs alone; one declared over the limit, or whose
// client gives up waiting, is refused.
func TestAdmission(t *testing.T) {
	a := newAdmission(100)
	w := httptest.NewRecorder()
	ctx := context.Background()
	resA, err := a.admit(w, bodyOf(ctx, 60), 1000)
	if err != nil {
		t.Fatal(err)
	}
	admitted := make(chan string, 2)
	var resB, resC *reservation
	go func() {
		resB, _ = a.admit(w, bodyOf(ctx, 50), 1000) // does not fit beside A
		admitted <- "B"
		resC, _ = a.admit(w, bodyOf(ctx, -1), 1000) // no Content-Length: the largest body, clamped to the room
		admitted <- "C"
	}()
	select {
	case who := <-admitted:
		t.Fatalf("%s was admitted while A held 60 of 100", who)
	case <-time.After(200 * time.Millisecond):
	}
	resA.release()
	if who := <-admitted; who != "B" {
		t.Fatalf("%s first", who)
	}
	select {
	case <-admitted:
		t.Fatal("C, which needs the whole room, was admitted beside B")
	case <-time.After(200 * time.Millisecond):
	}
	resB.release()
	<-admitted
	// Waiting ends when the client gives up.
	gone, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := a.admit(w, bodyOf(gone, 10), 1000); err == nil {
		t.Fatal("a request admitted while C held the whole room")
	}
	resC.release()
	if _, err := a.admit(w, bodyOf(ctx, 1001), 1000); err == nil {
		t.Fatal("a body declared over the limit was admitted")
	}
	if res, err := a.admit(w, bodyOf(ctx, 100), 1000); err != nil {
		t.Fatalf("the room is free again: %v", err)
	} else {
		res.release()
	}
}

// TestAdmissionGrows: a request grows its reservation at once when there
// is room, and never beyond the room; two that fill the room and both need
// more do not wait for each other for ever, as they would holding on; what
// a request gives back is free for others at once.
func TestAdmissionGrows(t *testing.T) {
	a := newAdmission(100)
	w := httptest.NewRecorder()
	ctx := context.Background()
	resA, _ := a.admit(w, bodyOf(ctx, 30), 1000)
	if err := resA.grow(ctx, 20); err != nil || resA.n != 50 {
		t.Fatalf("grown to %d: %v", resA.n, err)
	}
	resB, _ := a.admit(w, bodyOf(ctx, 50), 1000)
	done := make(chan *reservation, 2)
	for _, res := range []*reservation{resA, resB} {
		go func() {
			if err := res.grow(ctx, 10); err != nil || res.n != 60 {
				t.Errorf("grown to %d: %v", res.n, err)
			}
			done <- res
		}()
	}
	for range 2 {
		select {
		case res := <-done:
			res.release()
		case <-time.After(5 * time.Second):
			t.Fatal("two requests that both need more wait for each other")
		}
	}
	res, _ := a.admit(w, bodyOf(ctx, 10), 1000)
	if err := res.grow(ctx, 1000); err != nil || res.n != 100 {
		t.Fatalf("grown to %d, want the whole room: %v", res.n, err)
	}
	res.shrink(30) // what a compressed body took, once read
	other, err := a.admit(w, bodyOf(ctx, 70), 1000)
	if err != nil {
		t.Fatalf("the 70 given back: %v", err)
	}
	other.release()
	res.release()
	if res, err := a.admit(w, bodyOf(ctx, 100), 1000); err != nil {
		t.Fatalf("the room is free again: %v", err)
	} else {
		res.release()
	}
}

// TestAdmissionDeadlinesEndWithTheRequest: the deadlines an admitted
// request gets do not outlive it on a kept-alive connection.
func TestAdmissionDeadlinesEndWithTheRequest(t *testing.T) {
	defer func(d time.Duration) { answerDeadline = d }(answerDeadline)
	answerDeadline = 200 * time.Millisecond
	st := testdb.SQLite(t)
	e := ledger.New(st, ledger.Config{})
	defer e.Close()
	srv := httptest.NewServer(NewServer(e, Config{}).Handler())
	defer srv.Close()
	k, token, err := abacus.NewAPIKey("svc", abacus.RoleService, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.APIKeyCreate(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	client := srv.Client()
	for i := range 2 {
		body := fmt.Sprintf(`[{"uuid":"deadline-%d","user_uuid":"aaaaaaaa-0000-4000-8000-00000000000%d","value":1,"value_type":0,"scene":11,`+
			`"resource_id":"gpu","customer_id":"s","created_at":"2026-11-02T10:00:00Z"}]`, i, i)
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/accounting/metering/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if !info.Reused {
				conns.Add(1)
			}
		}}
		res, err := client.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
		time.Sleep(2 * answerDeadline) // past the first request's deadline
	}
	if conns.Load() != 1 {
		t.Fatalf("%d connections; the test needs the second request on the first one's", conns.Load())
	}
}
