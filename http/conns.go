package http

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// DefaultConnectionsPerKey is how many connections one API key keeps
// open between requests unless configured otherwise.
const DefaultConnectionsPerKey = 256

// keptConns bounds the connections each API key keeps open between
// requests. Without a bound, a client holding any key, a customer's user
// key included, could keep thousands of idle connections for the idle
// deadline each, a request every two minutes keeping them for ever, and
// take every file the process may open, as clients without a key could
// before their connections were closed (QA). A connection past its key's
// bound is served as usual and closed after its answer, so a client with
// more concurrent requests than the bound still gets every answer; it
// pays a new connection per request.
type keptConns struct {
	limit int
	mu    sync.Mutex
	held  map[net.Conn]string // connection → the key it is kept for
	count map[string]int      // key id → its kept connections
}

func newKeptConns(limit int) *keptConns {
	return &keptConns{limit: limit, held: map[net.Conn]string{}, count: map[string]int{}}
}

type connCtx struct{}

// withConn is the http.Server's ConnContext: it lets keep find the
// request's connection.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connCtx{}, c)
}

// keep reports whether the request's connection may stay open for the key
// after its answer, counting it against the key's bound if so. A request
// served outside HTTPServer (no connection known) keeps its connection.
func (k *keptConns) keep(ctx context.Context, key string) bool {
	c, ok := ctx.Value(connCtx{}).(net.Conn)
	if !ok {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old, held := k.held[c]
	if held && old == key {
		return true
	}
	if held { // the connection's earlier requests used another key
		k.forget(c, old)
	}
	if k.count[key] >= k.limit {
		return false
	}
	k.held[c] = key
	k.count[key]++
	return true
}

// connState is the http.Server's ConnState: a connection closed, or
// taken over, no longer counts against its key.
func (k *keptConns) connState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, held := k.held[c]; held {
		k.forget(c, key)
	}
}

func (k *keptConns) forget(c net.Conn, key string) {
	delete(k.held, c)
	if k.count[key]--; k.count[key] <= 0 {
		delete(k.count, key)
	}
}
