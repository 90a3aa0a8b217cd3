package http_test

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
)

// unreachable is a store whose reads fail as a lost connection does while
// down is set.
type unreachable struct {
	abacus.Store
	down *atomic.Bool
}

var errReset = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

func (u unreachable) APIKeyByHash(ctx context.Context, hash []byte) (abacus.APIKey, error) {
	if u.down.Load() {
		return abacus.APIKey{}, errReset
	}
	return u.Store.APIKeyByHash(ctx, hash)
}

func (u unreachable) AccountGet(ctx context.Context, id abacus.AccountID) (abacus.Account, error) {
	if u.down.Load() {
		return abacus.Account{}, errReset
	}
	return u.Store.AccountGet(ctx, id)
}

// TestDatabaseOutageIs503: a request that fails because the database
// cannot be reached, checking its key or reading, gets 503 with
// Retry-After, for the client to send it again, not a 500 that says the
// request itself is at fault.
func TestDatabaseOutageIs503(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		down := &atomic.Bool{}
		f := newFixture(t, unreachable{Store: open(t), down: down})
		down.Store(true)
		for _, who := range []string{"alice", "admin"} { // a key not cached yet; then a read
			r := f.do(who, "GET", "/api/v1/accounts/"+string(alice), "", "")
			if r.status != 503 || r.body["code"] != "unavailable" || r.header.Get("Retry-After") == "" {
				t.Fatalf("%s while the database is down: %d %v %s", who, r.status, r.header, r.raw)
			}
			down.Store(false)
			f.mustDo(who, "GET", "/api/v1/accounts/"+string(alice), "", "", 200)
			down.Store(true)
		}
	})
}
