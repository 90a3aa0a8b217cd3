package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// The bank test (Jepsen style): goroutines move money between 20 customer
// accounts and the hot system accounts for a while, a reader checks the
// invariants on snapshots meanwhile, the hold sweeper races the clients
// for expired holds, and at the end the history the clients were told is
// checked against what the database holds (bank_check_test.go).

const (
	bankAccounts = 20
	bankWorkers  = 8
	bankDuration = 1500 * time.Millisecond
)

func TestBank(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		// A small wallet cache, so that it evicts while the bank runs.
		runBank(t, st, engines(t, ledger.Config{Workers: 2, MaxBatch: 32, CacheAccounts: 8}, st))
	})
}

// TestBankTwoEngines runs the bank through two engines, each with its own
// pool, on one PostgreSQL schema: two processes sharing a database. It
// must not deadlock, and every invariant must hold.
func TestBankTwoEngines(t *testing.T) {
	a, b := twoPostgres(t)
	runBank(t, a, engines(t, ledger.Config{Workers: 3, MaxBatch: 32}, a, b))
}

// bankOp is one request and what the client was told.
type bankOp struct {
	key          string
	op           abacus.Op
	invoke, done time.Time
	res          abacus.Result
	err          error
}

type bank struct {
	t        *testing.T
	es       []*ledger.Engine
	accounts []abacus.AccountID
	prefix   string

	mu    sync.Mutex
	ops   []*bankOp
	holds []abacus.Hold // holds some client created and nobody has resolved yet
	txs   []int64       // charges and top-ups that may be reverted
}

func runBank(t *testing.T, st abacus.Store, es []*ledger.Engine) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	b := &bank{t: t, es: es, prefix: newKeyPrefix()}
	for i := range bankAccounts {
		var od abacus.Overdraft
		switch i % 5 {
		case 0:
			od.Limit = units(t, 50)
		case 1:
			od.Unlimited = true
		}
		b.accounts = append(b.accounts, createAccount(t, st, od))
	}
	for _, a := range b.accounts {
		b.do(b.es[0], &abacus.Move{Type: abacus.TxTopup, Account: a, Currency: "USD", Amount: units(t, 200)})
		b.do(b.es[0], &abacus.Move{Type: abacus.TxGrant, Account: a, Currency: "USD", Amount: units(t, 20)})
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	snapshots := 0
	go func() { // the reader: every snapshot must satisfy every invariant
		defer readers.Done()
		for {
			rep, err := ledger.Verify(context.Background(), st)
			if err != nil || !rep.OK() {
				t.Errorf("snapshot %d: %v\n%s", snapshots, err, rep)
				return
			}
			snapshots++
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	readers.Add(1)
	go func() { // the sweeper, racing the clients for expired holds
		defer readers.Done()
		for i := 0; ; i++ {
			if _, err := es[i%len(es)].ExpireDue(context.Background()); err != nil {
				t.Errorf("expiring holds: %v", err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	deadline := time.Now().Add(bankDuration)
	var wg sync.WaitGroup
	for w := range bankWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for n := 0; time.Now().Before(deadline); n++ {
				b.step(rng, b.es[(w+n)%len(b.es)])
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	t.Logf("%d requests, %d snapshots verified while they ran", len(b.ops), snapshots)
	for i, e := range es {
		batches, ops, retries := e.Stats()
		t.Logf("engine %d: %d batches, %d requests, %d batches retried after losing a race", i, batches, ops, retries)
	}
	b.check(st)
}

// step sends one random request.
func (b *bank) step(rng *rand.Rand, e *ledger.Engine) {
	acct := func() abacus.AccountID { return b.accounts[rng.IntN(len(b.accounts))] }
	cents := func(max int64) abacus.Amount { return abacus.AmountFromMicros((1 + rng.Int64N(max*100)) * 10_000) }
	switch r := rng.IntN(100); {
	case r < 30:
		o := b.do(e, &abacus.Move{Type: abacus.TxCharge, Account: acct(), Currency: "USD", Amount: cents(40)})
		b.remember(o)
	case r < 42:
		o := b.do(e, &abacus.Move{Type: abacus.TxTopup, Account: acct(), Currency: "USD", Amount: cents(30)})
		b.remember(o)
	case r < 62:
		from, to := acct(), acct()
		if from == to {
			return
		}
		x := cents(30)
		negx, _ := x.Neg()
		b.do(e, &abacus.Transfer{Postings: []abacus.PostingSpec{
			{Account: from, Bucket: abacus.BucketCash, Currency: "USD", Amount: negx},
			{Account: to, Bucket: abacus.BucketCash, Currency: "USD", Amount: x},
		}})
	case r < 80:
		h := &abacus.HoldCreate{Account: acct(), Currency: "USD", Amount: cents(20)}
		if rng.IntN(3) == 0 {
			h.ExpiresAt = time.Now().Add(time.Duration(50+rng.IntN(300)) * time.Millisecond)
		}
		if o := b.do(e, h); o.err == nil {
			b.mu.Lock()
			b.holds = append(b.holds, *o.res.Hold)
			b.mu.Unlock()
		}
	case r < 95:
		b.mu.Lock()
		if len(b.holds) == 0 {
			b.mu.Unlock()
			return
		}
		// Usually take the hold; sometimes leave it for others to race for.
		i := rng.IntN(len(b.holds))
		h := b.holds[i]
		if rng.IntN(4) > 0 {
			b.holds = slices.Delete(b.holds, i, i+1)
		}
		b.mu.Unlock()
		var op abacus.Op = &abacus.HoldVoid{HoldID: h.ID}
		switch rng.IntN(3) {
		case 0:
			op = &abacus.HoldPost{HoldID: h.ID}
		case 1:
			a := abacus.AmountFromMicros(1 + rng.Int64N(h.Amount.Micros()))
			op = &abacus.HoldPost{HoldID: h.ID, Amount: &a}
		}
		b.do(e, op)
	default:
		b.mu.Lock()
		if len(b.txs) == 0 {
			b.mu.Unlock()
			return
		}
		id := b.txs[rng.IntN(len(b.txs))]
		b.mu.Unlock()
		b.do(e, &abacus.Revert{TxID: id})
	}
}

func (b *bank) remember(o *bankOp) {
	if o.err == nil {
		b.mu.Lock()
		b.txs = append(b.txs, o.res.Tx.ID)
		b.mu.Unlock()
	}
}

// do submits op under a fresh key and records the request and its answer.
func (b *bank) do(e *ledger.Engine, op abacus.Op) *bankOp {
	b.mu.Lock()
	o := &bankOp{key: fmt.Sprintf("%s-%d", b.prefix, len(b.ops)), op: op}
	b.ops = append(b.ops, o)
	b.mu.Unlock()
	o.invoke = time.Now()
	o.res, o.err = e.Submit(context.Background(), o.key, op)
	o.done = time.Now()
	return o
}
