package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// poisonStore fails any batch holding a transaction with the memo
// "poison", as a database would fail on a value it cannot store.
type poisonStore struct{ abacus.Store }

func (p poisonStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	return p.Store.Write(ctx, func(tx abacus.WriteTx) error { return fn(poisonTx{tx}) })
}

type poisonTx struct{ abacus.WriteTx }

func (p poisonTx) Apply(ctx context.Context, c *abacus.Changes) error {
	if poisoned(c) {
		return errors.New("the database refused a value")
	}
	return p.WriteTx.Apply(ctx, c)
}

func (p poisonTx) Commit(ctx context.Context, c *abacus.Changes) error {
	if poisoned(c) {
		return errors.New("the database refused a value")
	}
	return p.WriteTx.Commit(ctx, c)
}

func poisoned(c *abacus.Changes) bool {
	for _, t := range c.Transactions {
		if t.Memo == "poison" {
			return true
		}
	}
	return false
}

// TestPoisonedBatch: one operation the database refuses fails alone; the
// others of its batch commit.
func TestPoisonedBatch(t *testing.T) {
	st := testdb.SQLite(t)
	e := ledger.New(poisonStore{st}, ledger.Config{MaxBatch: 100})
	defer e.Close()
	acct := createAccount(t, st, abacus.Overdraft{})
	release := blockWrites(t, st)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			memo := ""
			if i == len(errs)-1 {
				time.Sleep(50 * time.Millisecond) // join the queue last
				memo = "poison"
			}
			_, errs[i] = e.Submit(context.Background(), fmt.Sprintf("p%d", i),
				&abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 1), Memo: memo})
		}()
	}
	time.Sleep(150 * time.Millisecond)
	release()
	wg.Wait()
	for i, err := range errs[:len(errs)-1] {
		if err != nil {
			t.Errorf("operation %d shared a batch with a poisoned one and failed: %v", i, err)
		}
	}
	if abacus.ErrorCodeOf(errs[len(errs)-1]) != abacus.CodeUnavailable {
		t.Errorf("the poisoned operation: %v", errs[len(errs)-1])
	}
	if w := wallet(t, st, acct, abacus.BucketCash, "USD"); w.Balance != units(t, 19) {
		t.Errorf("cash balance %s, want 19", w.Balance)
	}
	mustVerify(t, st)
}

// downStore fails every write, as a database that is down does, once
// open is closed.
type downStore struct {
	abacus.Store
	open chan struct{}
}

func (d downStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	<-d.open
	return errors.New("connection refused")
}

// TestUsageOutageLogsQuietly: while the database is down every usage
// batch fails and is retried job by job; the log says so once in 10 s,
// not for every batch (QA: 78 lines in 20 s of an outage).
func TestUsageOutageLogsQuietly(t *testing.T) {
	st := testdb.SQLite(t)
	var logs lockedBuffer
	down := downStore{st, make(chan struct{})}
	e := ledger.New(down, ledger.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Usage: ledger.UsageConfig{MaxAhead: -1}})
	defer e.Close()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	acct := createAccount(t, st, abacus.Overdraft{})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Ingest(context.Background(), []abacus.UsageEvent{spaceEvent(fmt.Sprintf("down-%d", i), acct, "gpu", 1, t0)})
		}()
	}
	time.Sleep(200 * time.Millisecond) // the first batch waits for the database, the others queue behind it
	close(down.open)
	wg.Wait()
	if n := strings.Count(logs.String(), "retrying it job by job"); n != 1 {
		t.Fatalf("%d lines of retrying job by job, want 1:\n%s", n, logs.String())
	}
}
