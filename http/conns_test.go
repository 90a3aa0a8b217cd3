package http

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestConnectionsPerKeyAreBounded: a key keeps at most ConnectionsPerKey
// connections open between requests, and its others are closed after
// their answer, where a client with any key, a customer's included, could
// keep thousands idle and take every file the process may open (QA). The
// bound is each key's, a connection counts once however many requests it
// carries, and one closed makes room for another.
func TestConnectionsPerKeyAreBounded(t *testing.T) {
	st, srv := startHTTPServerWith(t, Config{ConnectionsPerKey: 2})
	first, second := serviceToken(t, st), serviceToken(t, st)
	dial := func() net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// kept sends a request with the token on conn, and reports whether the
	// server kept the connection open after its answer.
	kept := func(conn net.Conn, token string) bool {
		t.Helper()
		fmt.Fprintf(conn, "GET /api/v1/accounts/revenue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("answered %s", res.Status)
		}
		if res.Close {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("the answer said Connection: close, and then the connection read %v", err)
			}
		}
		return !res.Close
	}
	a, b, c := dial(), dial(), dial()
	for i, want := range []bool{
		kept(a, first), kept(a, first), // one connection, counted once
		kept(b, first),
		!kept(c, first), // the key's third
		kept(dial(), second),
	} {
		if !want {
			t.Fatalf("answer %d: the connection was not treated as the bound says", i+1)
		}
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second) // the server sees the close when it reads it
	for !kept(dial(), first) {
		if time.Now().After(deadline) {
			t.Fatal("a connection closed by its client still counted against its key after 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConnectionsClosingTakeNoRoom: a request whose client asked to close
// its connection, or spoke HTTP/1.0 without keep-alive, takes none of its
// key's room while it is served, where two such requests in flight had
// taken both of a key's and its keep-alive client got closed (QA).
func TestConnectionsClosingTakeNoRoom(t *testing.T) {
	st, srv := startHTTPServerWith(t, Config{ConnectionsPerKey: 1})
	token := serviceToken(t, st)
	for _, request := range []string{
		"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
		"POST /api/v1/accounts HTTP/1.0\r\nHost: x\r\n",
	} {
		slow, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		// Its body comes no further than its first byte, so it is in flight
		// while the next request is answered.
		fmt.Fprintf(slow, "%sAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", request, token)
	}
	time.Sleep(200 * time.Millisecond) // for the server to read both requests' headers
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/accounts/revenue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("the keep-alive request: %s, Connection: close %v; want 200 and its connection kept", res.Status, res.Close)
	}
}
