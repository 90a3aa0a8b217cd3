package ledger_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// newAccountID returns a fresh random (version 4) UUID, so tests that share
// one database never share an account.
func newAccountID() abacus.AccountID {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return abacus.AccountID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// newKeyPrefix returns a random prefix for the idempotency keys of one run.
func newKeyPrefix() string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

// tb is what the helpers need of a test: a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// createAccount creates a USD user account with the given overdraft.
func createAccount(t tb, st abacus.Store, od abacus.Overdraft) abacus.AccountID {
	t.Helper()
	id := newAccountID()
	a := abacus.Account{ID: id, Kind: abacus.KindUser, Name: "test", Currency: "USD", Overdraft: od, CreatedAt: time.Now().UTC()}
	if _, created, err := st.AccountCreate(context.Background(), a); err != nil || !created {
		t.Fatalf("creating account %s: created=%v err=%v", id, created, err)
	}
	return id
}

// units returns n whole currency units.
func units(t tb, n int64) abacus.Amount {
	t.Helper()
	a, err := abacus.AmountFromUnits(n)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return a
}

// wallet returns one wallet of an account as the store has it now.
func wallet(t tb, st abacus.Store, id abacus.AccountID, b abacus.Bucket, c abacus.Currency) abacus.Wallet {
	t.Helper()
	ws, err := st.Wallets(context.Background(), []abacus.AccountID{id})
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, w := range ws {
		if w.Bucket == b && w.Currency == c {
			return w
		}
	}
	t.Fatalf("account %s has no %s %s wallet", id, b, c)
	return abacus.Wallet{}
}

// mustVerify runs the invariant checker and fails the test unless every
// invariant holds.
func mustVerify(t tb, a abacus.Auditor) *ledger.Report {
	t.Helper()
	rep, err := ledger.Verify(context.Background(), a)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("verify:\n%s", rep)
	}
	return rep
}

// fakeClock is an engine clock that moves only when a test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// emptyPostgres deletes everything but the system accounts from a
// PostgreSQL store, leaving the ledger as a new database has it.
func emptyPostgres(t tb, s *postgres.Store) {
	t.Helper()
	// Past the triggers that keep postings and transactions append-only.
	_, err := s.Pool().Exec(context.Background(), `SET LOCAL session_replication_role = replica;
		DELETE FROM idempotency_keys; DELETE FROM hold_legs; DELETE FROM holds;
		DELETE FROM postings; DELETE FROM transactions; DELETE FROM wallets; DELETE FROM accounts WHERE kind <> 'system'`)
	if err != nil {
		t.Fatalf("emptying the database: %v", err)
	}
}

// twoPostgres opens two stores, each with its own connection pool, on one
// fresh PostgreSQL schema: what two abacus processes sharing a database
// look like.
func twoPostgres(t *testing.T) (*postgres.Store, *postgres.Store) {
	t.Helper()
	url := testdb.PostgresSchemaURL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// engines starts one engine per store and closes them when the test ends.
func engines(t *testing.T, cfg ledger.Config, stores ...abacus.Store) []*ledger.Engine {
	var es []*ledger.Engine
	for _, st := range stores {
		e := ledger.New(st, cfg)
		t.Cleanup(func() { e.Close() })
		es = append(es, e)
	}
	return es
}

// submit submits op and fails the test unless it is accepted.
func submit(t tb, e *ledger.Engine, key string, op abacus.Op) abacus.Result {
	t.Helper()
	res, err := e.Submit(context.Background(), key, op)
	if err != nil {
		t.Fatalf("%s %T %+v: %v", key, op, op, err)
	}
	return res
}

// together runs fn(0) … fn(n-1) in n goroutines released at the same
// moment, and waits for all of them.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// writeGate is a store whose writes a test can hold at a gate: a batch
// arriving at a held gate waits there, so whatever the test queues
// meanwhile goes into the batch after it.
type writeGate struct {
	abacus.Store
	mu      sync.Mutex
	open    chan struct{} // closed while writes pass
	arrived chan struct{}
}

func newWriteGate(st abacus.Store) *writeGate {
	g := &writeGate{Store: st, open: make(chan struct{}), arrived: make(chan struct{}, 1)}
	close(g.open)
	return g
}

func (g *writeGate) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	default:
		select {
		case g.arrived <- struct{}{}:
		default:
		}
		select {
		case <-open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Store.Write(ctx, fn)
}

// hold closes the gate. arrived receives when a write reaches it; release
// opens it again.
func (g *writeGate) hold() (arrived <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	open := make(chan struct{})
	g.open = open
	return g.arrived, func() { close(open) }
}

// waitQueued waits until n operations or usage jobs wait for e's worker.
func waitQueued(t *testing.T, e *ledger.Engine, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.Queued() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d operations queued after 10 s", e.Queued(), n)
		}
	}
}

// blockWrites stops every ledger batch from committing until release is
// called: it holds SQLite's write lock, or an exclusive lock on
// PostgreSQL's idempotency keys, which every batch with a key reads.
// Requests keep being validated and queued meanwhile.
func blockWrites(t *testing.T, st abacus.Store) (release func()) {
	t.Helper()
	ctx := context.Background()
	switch s := st.(type) {
	case *sqlite.Store:
		db, err := sql.Open("sqlite3", s.Path()+"?_busy_timeout=10000")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(ctx)
		if err == nil {
			_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		}
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			db.Close()
		}
	case *postgres.Store:
		tx, err := s.Pool().Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE")
		}
		if err != nil {
			t.Fatal(err)
		}
		return func() { tx.Rollback(ctx) }
	}
	t.Fatalf("blockWrites: unknown store %T", st)
	return nil
}
