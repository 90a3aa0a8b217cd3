package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	a := newAdmission(100, 100, 100)
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

// TestAdmissionUnpacked: compressed bodies wait in order for room for
// what they decompress to, holding their compressed bodies' room, which
// they give back once decompressed; one whose trailer lied gives back what
// it held of the unpacked room before it waits for more, so two that fill
// the room do not wait for each other for ever.
func TestAdmissionUnpacked(t *testing.T) {
	a := newAdmission(100, 100, 100)
	w := httptest.NewRecorder()
	ctx := context.Background()
	resA, _ := a.admit(w, bodyOf(ctx, 30), 1000)
	if err := resA.reserveUnpacked(ctx, 60); err != nil || resA.unpacked != 60 {
		t.Fatalf("reserved %d: %v", resA.unpacked, err)
	}
	resB, _ := a.admit(w, bodyOf(ctx, 30), 1000)
	bUnpacked := make(chan error, 1)
	go func() { bUnpacked <- resB.reserveUnpacked(ctx, 60) }()
	select {
	case err := <-bUnpacked:
		t.Fatalf("B got 60 of the unpacked room beside A's 60: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	aAgain := make(chan error, 1)
	go func() { aAgain <- resA.reserveUnpacked(ctx, 1000) }() // its trailer said too little
	select {
	case err := <-bUnpacked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("A kept its 60 while it waited for the whole room, and B waits for ever")
	}
	select {
	case err := <-aAgain:
		t.Fatalf("A got the whole room while B held 60 of it: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	resB.release()
	if err := <-aAgain; err != nil || resA.unpacked != 100 {
		t.Fatalf("A reserved %d of the unpacked room, want the whole: %v", resA.unpacked, err)
	}
	resA.shrink(0) // decompressed: its compressed body's room goes back
	other, err := a.admit(w, bodyOf(ctx, 100), 1000)
	if err != nil {
		t.Fatalf("the bodies' room A gave back: %v", err)
	}
	resA.release()
	if err := other.reserveUnpacked(ctx, 100); err != nil {
		t.Fatalf("the unpacked room is free again: %v", err)
	}
	other.release()
}

// TestAdmissionEventsWaitHoldingTheirBody: a request waiting for room for
// its events keeps its body's room meanwhile, so bodies read and waiting
// never exceed the bodies' room. Before, it gave its room back while it
// waited, holding its body and everything it had decoded, and let the
// next request in to do the same: 300 producers of 10,000 events took
// 4.6 GB with 64 MiB configured (QA).
func TestAdmissionEventsWaitHoldingTheirBody(t *testing.T) {
	a := newAdmission(100, 100, 10*perEvent)
	w := httptest.NewRecorder()
	ctx := context.Background()
	first, _ := a.admit(w, bodyOf(ctx, 40), 1000)
	if err := first.reserveEvents(ctx, 8); err != nil {
		t.Fatal(err)
	}
	second, _ := a.admit(w, bodyOf(ctx, 40), 1000)
	waited := make(chan error, 1)
	go func() { waited <- second.reserveEvents(ctx, 8) }() // 16 events do not fit in 10
	select {
	case err := <-waited:
		t.Fatalf("the second request's events were given room beside the first's: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	try, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if res, err := a.admit(w, bodyOf(try, 30), 1000); err == nil {
		res.release()
		t.Fatal("a third body was admitted while the second waited for its events: the second gave its body's room back")
	}
	first.release()
	if err := <-waited; err != nil || second.events != 8*perEvent {
		t.Fatalf("the second request's events: %d reserved, %v", second.events, err)
	}
	third, err := a.admit(w, bodyOf(ctx, 60), 1000)
	if err != nil {
		t.Fatal(err)
	}
	try, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := third.reserveEvents(try, 1000); err == nil {
		t.Fatal("more events than the room were given room beside another request's")
	}
	second.release()
	if err := third.reserveEvents(ctx, 1000); err != nil || third.events != 10*perEvent {
		t.Fatalf("more events than the room, alone: %d reserved, %v", third.events, err)
	}
	third.release()
	if res, err := a.admit(w, bodyOf(ctx, 100), 1000); err != nil || res.reserveEvents(ctx, 10) != nil {
		t.Fatalf("both rooms free again: %v", err)
	}
}

// TestAdmissionDeadlinesEndWithTheRequest: the deadlines an admitted
// request gets do not outlive it on a kept-alive connection.
func TestAdmissionDeadlinesEndWithTheRequest(t *testing.T) {
	defer func(d, m time.Duration) { answerDeadline, answerMargin = d, m }(answerDeadline, answerMargin)
	answerDeadline, answerMargin = 200*time.Millisecond, 0
	url, token := serveIngest(t, testdb.SQLite(t))
	var conns atomic.Int32
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := range 2 {
		body := fmt.Sprintf(`[{"uuid":"deadline-%d","user_uuid":"aaaaaaaa-0000-4000-8000-00000000000%d","value":1,"value_type":0,"scene":11,`+
			`"resource_id":"gpu","customer_id":"s","created_at":"2026-11-02T10:00:00Z"}]`, i, i)
		req, _ := http.NewRequest("POST", url+"/api/v1/accounting/metering/events", strings.NewReader(body))
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

// serveIngest serves the API over st and returns its URL and a service
// key's token.
func serveIngest(t *testing.T, st abacus.Store) (string, string) {
	t.Helper()
	return serveIngestWith(t, st, Config{})
}

func serveIngestWith(t *testing.T, st abacus.Store, cfg Config) (string, string) {
	t.Helper()
	e := ledger.New(st, ledger.Config{})
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewServer(NewServer(e, cfg).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, serviceToken(t, st)
}

// serviceToken stores a service key in st and returns its token.
func serviceToken(t *testing.T, st abacus.Store) string {
	t.Helper()
	k, token, err := abacus.NewAPIKey("svc", abacus.RoleService, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.APIKeyCreate(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return token
}

// stalledStore holds the engine's writes until release is closed: a
// database that takes longer than a request may wait.
type stalledStore struct {
	abacus.Store
	release chan struct{}
}

func (s stalledStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	<-s.release
	return s.Store.Write(ctx, fn)
}

// TestIngestAnswersBeforeItsWriteDeadline: a request whose events the
// engine has not committed answerMargin before its write deadline is
// answered 503, saying that sending it again is safe, rather than cut off
// without an answer; nor does the end of its body's read deadline end it.
// Sent again once the engine is through, the events are duplicates.
func TestIngestAnswersBeforeItsWriteDeadline(t *testing.T) {
	defer func(b, a, m time.Duration) { bodyDeadline, answerDeadline, answerMargin = b, a, m }(bodyDeadline, answerDeadline, answerMargin)
	bodyDeadline, answerDeadline, answerMargin = 100*time.Millisecond, 2*time.Second, time.Second
	st := stalledStore{Store: testdb.SQLite(t), release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(st.release) }) }
	url, token := serveIngest(t, st)
	t.Cleanup(release) // before the engine closes, which waits for its writes
	send := func() (*http.Response, map[string]any, time.Duration) {
		body := `[{"uuid":"slow-1","user_uuid":"aaaaaaaa-0000-4000-8000-000000000001","value":1,"value_type":0,"scene":11,` +
			`"resource_id":"gpu","customer_id":"s","created_at":"2026-11-02T10:00:00Z"}]`
		req, _ := http.NewRequest("POST", url+"/api/v1/accounting/metering/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		res, err := (&http.Client{Timeout: 3 * answerDeadline}).Do(req)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		defer res.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			t.Fatalf("status %d, no JSON: %v", res.StatusCode, err)
		}
		return res, v, time.Since(start)
	}
	res, v, took := send()
	if res.StatusCode != 503 || v["code"] != "unavailable" || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(v["message"].(string), "sending them again is safe") {
		t.Fatalf("%d (Retry-After %q) %v", res.StatusCode, res.Header.Get("Retry-After"), v)
	}
	if wait := answerDeadline - answerMargin; took < wait || took >= answerDeadline {
		t.Fatalf("answered after %s, want from %s to %s", took, wait, answerDeadline)
	}
	release()
	if res, v, _ := send(); res.StatusCode != 200 || v["duplicate"] != 1.0 {
		t.Fatalf("sent again: %d %v", res.StatusCode, v)
	}
}

// TestIngestBodyThatStalls: a body that has not all come by bodyDeadline is
// answered 408, saying so, and naming nothing of the connection.
func TestIngestBodyThatStalls(t *testing.T) {
	defer func(d time.Duration) { bodyDeadline = d }(bodyDeadline)
	bodyDeadline = 200 * time.Millisecond
	url, token := serveIngest(t, testdb.SQLite(t))
	for _, coding := range []string{"identity", "gzip"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /api/v1/accounting/metering/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Encoding: %s\r\nContent-Length: 100\r\n\r\n\x1f\x8b", token, coding)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", coding, err)
		}
		raw, _ := io.ReadAll(res.Body)
		var v map[string]any
		json.Unmarshal(raw, &v)
		if res.StatusCode != 408 || v["code"] != "timeout" || v["field"] != "body" || v["message"] != "body: did not arrive within 200ms" {
			t.Errorf("%s: %d %s", coding, res.StatusCode, raw)
		}
	}
}

// TestIngestSlowGzipSendersHoldOnlyWhatTheySent: a compressed body holds
// its Content-Length of the bodies' room while it comes, and room for what
// it decompresses to only once it has all come. Before, it reserved the
// largest body (16 MiB) while it was read: with 16 MiB for bodies, one
// slow gzip sender held back every other request for a minute.
func TestIngestSlowGzipSendersHoldOnlyWhatTheySent(t *testing.T) {
	url, token := serveIngestWith(t, testdb.SQLite(t), Config{IngestMemory: 64 << 20}) // 16 MiB for bodies
	for range 2 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/accounting/metering/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 1000\r\n\r\n\x1f\x8b", token)
	}
	time.Sleep(200 * time.Millisecond) // both admitted, their bodies coming
	body := `[{"uuid":"beside-slow-gzip","user_uuid":"aaaaaaaa-0000-4000-8000-000000000001","value":1,"value_type":0,"scene":11,` +
		`"resource_id":"gpu","customer_id":"s","created_at":"2026-11-02T10:00:00Z"}]`
	var packed bytes.Buffer
	zw := gzip.NewWriter(&packed)
	zw.Write([]byte(body))
	zw.Close()
	req, _ := http.NewRequest("POST", url+"/api/v1/accounting/metering/events", &packed)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Encoding", "gzip")
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("a request beside two slow gzip senders: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"accepted":1`) {
		t.Fatalf("%d %s", res.StatusCode, raw)
	}
}

// TestIngestBodyOfUnknownLength: a body sent without a Content-Length
// reserves unknownBody, and past it takes the rest of its room at once if
// there is room, or is answered 503 saying to send it again (or with its
// length); it is never held waiting with part of its body read.
func TestIngestBodyOfUnknownLength(t *testing.T) {
	url, token := serveIngestWith(t, testdb.SQLite(t), Config{IngestMemory: 8 << 20}) // 2 MiB for bodies
	event := `{"uuid":"chunked-1","user_uuid":"aaaaaaaa-0000-4000-8000-000000000001","value":1,"value_type":0,"scene":11,` +
		`"resource_id":"gpu","customer_id":"s","created_at":"2026-11-02T10:00:00Z"}`
	body := "[" + event + strings.Repeat(" ", 3<<19) + "]" // 1.5 MiB
	send := func() (int, map[string]any) {
		t.Helper()
		// Only a reader of unknown length is sent chunked.
		req, _ := http.NewRequest("POST", url+"/api/v1/accounting/metering/events", io.MultiReader(strings.NewReader(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if req.ContentLength != 0 {
			t.Fatalf("sent with a Content-Length of %d", req.ContentLength)
		}
		var v map[string]any
		json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	// A request that declared 1 MiB and sends nothing holds half the room.
	holder, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	fmt.Fprintf(holder, "POST /api/v1/accounting/metering/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", token, 1<<20)
	time.Sleep(300 * time.Millisecond) // for it to be admitted
	if code, v := send(); code != 503 || v["field"] != "body" || !strings.Contains(fmt.Sprint(v["message"]), "without a Content-Length") {
		t.Fatalf("past 1 MiB with the rest of the room held: %d %v", code, v)
	}
	// A body of just the size reserved needs no more, even when its last
	// chunk comes a while after its bytes (QA: it got 503).
	other := strings.Replace(event, "chunked-1", "chunked-2", 1)
	exact := "[" + other + strings.Repeat(" ", unknownBody-len(other)-2) + "]"
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(exact))
		time.Sleep(300 * time.Millisecond)
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", url+"/api/v1/accounting/metering/events", pr)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	json.NewDecoder(res.Body).Decode(&v)
	res.Body.Close()
	if res.StatusCode != 200 || v["accepted"] != 1.0 {
		t.Fatalf("a body of just %d bytes, its end late: %d %v", unknownBody, res.StatusCode, v)
	}
	holder.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, v := send()
		if code == 200 && v["accepted"] == 1.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the room free again: %d %v", code, v)
		}
		time.Sleep(100 * time.Millisecond) // the server sees the holder gone when it reads
	}
}

// TestBodyReadErrorsHideTheConnection: what went wrong reading a body is
// told without the sockets' addresses that the error's text carries.
func TestBodyReadErrorsHideTheConnection(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 38084}
	for cause, code := range map[error]abacus.ErrorCode{os.ErrDeadlineExceeded: abacus.CodeTimeout, syscall.ECONNRESET: abacus.CodeInvalid} {
		err := &net.OpError{Op: "read", Net: "tcp", Source: addr, Addr: addr, Err: cause}
		for name, got := range map[string]error{"decodeError": decodeError(err), "usageReadError": usageReadError(err)} {
			var ae *abacus.Error
			if !errors.As(got, &ae) || ae.Code != code || ae.Field != "body" || strings.Contains(ae.Message, "127.0.0.1") || strings.Contains(ae.Message, "tcp") {
				t.Errorf("%s(%v): %v, want %s naming body and no socket", name, err, got, code)
			}
		}
	}
}

// statusRecorder notes the status a handler writes, if any.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// TestIngestClientGoneGetsNothing: a client that gives up while the engine
// is busy is written no answer, and nothing is logged: it is no 503 and
// no 500.
func TestIngestClientGoneGetsNothing(t *testing.T) {
	defer func(a, m time.Duration) { answerDeadline, answerMargin = a, m }(answerDeadline, answerMargin)
	answerDeadline, answerMargin = 2*time.Second, time.Second
	st := stalledStore{Store: testdb.SQLite(t), release: make(chan struct{})}
	e := ledger.New(st, ledger.Config{})
	t.Cleanup(func() { e.Close() })
	t.Cleanup(func() { close(st.release) })
	var logged bytes.Buffer
	api := NewServer(e, Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))}).Handler()
	written := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		api.ServeHTTP(rec, r)
		written <- rec.status
	}))
	t.Cleanup(srv.Close)
	token := serviceToken(t, st)
	body := `[{"uuid":"gone-1","user_uuid":"aaaaaaaa-0000-4000-8000-000000000001","value":1,"value_type":0,"scene":11,` +
		`"resource_id":"gpu","customer_id":"s","created_at":"2026-11-02T10:00:00Z"}]`
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/accounting/metering/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		t.Fatalf("answered %d while the engine was stalled", res.StatusCode)
	}
	if status := <-written; status != 0 || logged.Len() != 0 {
		t.Fatalf("a client gone was written %d; logged %q", status, logged.String())
	}
}

// TestConnectionsEndWithTheirDeadlines: a connection left idle after an
// answer, and one whose request body never comes (even to a request
// refused 401, whose body the server would drain), are closed, not held
// for ever: a few thousand, which need no key, had locked every client
// out (QA).
func TestConnectionsEndWithTheirDeadlines(t *testing.T) {
	defer func(h, i, b time.Duration) { headerDeadline, idleDeadline, bodyDeadline = h, i, b }(headerDeadline, idleDeadline, bodyDeadline)
	headerDeadline, idleDeadline, bodyDeadline = 200*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	_, srv := startHTTPServer(t)
	closedWithin := func(conn net.Conn, d time.Duration) bool {
		conn.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, conn) // whatever answer comes, then the close
		return err == nil
	}
	for name, request := range map[string]string{
		"idle after an answer":      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"a body that never comes":   "POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n",
		"headers that never finish": "GET /healthz HTTP/1.1\r\nHost: x\r\n",
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, request)
		if !closedWithin(conn, 5*time.Second) {
			t.Errorf("%s: the connection was still open after 5 s", name)
		}
		conn.Close()
	}
}

// TestConnectionsWithoutAKeyAreClosed: the answer to a request without a
// valid key closes its connection, where one request every two minutes
// kept it for ever and a few thousand such clients took every file the
// process may open (QA); a client with a key keeps its connection. Headers
// past maxHeaderBytes are refused, where Go's default let a connection
// hold a megabyte before any key was checked (QA).
func TestConnectionsWithoutAKeyAreClosed(t *testing.T) {
	st, srv := startHTTPServer(t)
	token := serviceToken(t, st)
	// ask sends one request and reads its answer's status line, then
	// reports whether the server closed the connection, cleanly (not reset),
	// within three seconds; what Go answers itself (431) is not JSON.
	ask := func(request string) (status string, closed bool) {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, request)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", request, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusRequestHeaderFieldsTooLarge && !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%.60q: answered in %q", request, ct)
		}
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		return res.Status, err == io.EOF
	}
	for _, c := range []struct{ request, status string }{
		{"GET /api/v1/accounts/revenue HTTP/1.1\r\nHost: x\r\n\r\n", "401 Unauthorized"},
		{"GET /api/v1/accounts/revenue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abk_wrong\r\n\r\n", "401 Unauthorized"},
		{"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK"},
		{"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", "404 Not Found"},
		{"GET /api/v1/accounts/revenue HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", "431 Request Header Fields Too Large"},
		// Go's own answer to OPTIONS * kept it open (QA).
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "404 Not Found"},
		// A body declared and never sent held it for the request's
		// minute, Go waiting to read it after the answer (QA).
		{"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{", "401 Unauthorized"},
		{"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "200 OK"},
		// A body sent whole is read, and the connection closed cleanly:
		// closed with it unread, it was reset (regression QA).
		{"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("x", 200000), "401 Unauthorized"},
	} {
		if status, closed := ask(c.request); status != c.status || !closed {
			t.Errorf("%.60q: %s, closed %v; want %s, closed", c.request, status, closed, c.status)
		}
	}
	if status, closed := ask("GET /api/v1/accounts/revenue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n"); status != "200 OK" || closed {
		t.Errorf("with a key: %s, closed %v; want 200 and the connection kept", status, closed)
	}
}

// startHTTPServer serves the API as serve does, with HTTPServer's
// deadlines and limits, over a new SQLite store.
func startHTTPServer(t *testing.T) (abacus.Store, *httptest.Server) {
	return startHTTPServerWith(t, Config{})
}

func startHTTPServerWith(t *testing.T, cfg Config) (abacus.Store, *httptest.Server) {
	st := testdb.SQLite(t)
	e := ledger.New(st, ledger.Config{})
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer(e, cfg).HTTPServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	return st, srv
}
