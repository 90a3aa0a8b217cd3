package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
)

// LedgerConfig sets up `abacus bench ledger`.
type LedgerConfig struct {
	Stores      []string      // "sqlite", "postgres"
	Workloads   []string      // "spread", "hot"
	Designs     []string      // "batched", "per-op"
	PostgresURL string        // where the postgres runs make their schemas
	Dir         string        // where the sqlite runs make their files
	Duration    time.Duration // measured time per run
	Accounts    int           // customer accounts in the spread workload
	Callers     int           // concurrent callers, each waiting for its answer
	PerOpConns  int           // connections (= concurrent transactions) of the per-operation design
	Verify      bool          // run ledger.Verify after every run
	IDs         IDs           // how idempotency keys are spelled
	MaxBatch    int           // operations per database transaction of the batched design
	Workers     int           // batches in flight at once in the batched design on PostgreSQL
}

// LedgerResult is one run's figures.
type LedgerResult struct {
	Store, Workload, Design string
	Ops                     int64
	Rejected                int64
	OpsPerSec               float64
	P50, P99                time.Duration
	PeakRSS                 int64
	Batches, Retries        int64
	Verified                string
}

// Ledger runs every combination of store, workload (spread over many
// accounts, or one hot account) and design (the batched engine, or one
// database transaction per operation with its rows locked by SELECT … FOR
// UPDATE, as most ledgers do), and prints the figures and the ratios.
func Ledger(ctx context.Context, cfg LedgerConfig, out io.Writer) ([]LedgerResult, error) {
	fmt.Fprintf(out, "abacus bench ledger: %s\n", Machine())
	fmt.Fprintf(out, "%s measured per run after warm-up; %d callers; spread = %d accounts, hot = 1 account; every operation is a charge with its own idempotency key (%s)\n\n",
		cfg.Duration, cfg.Callers, cfg.Accounts, cfg.IDs)
	var results []LedgerResult
	for _, st := range cfg.Stores {
		for _, workload := range cfg.Workloads {
			var pair []LedgerResult
			for _, design := range cfg.Designs {
				r, err := runLedger(ctx, cfg, st, workload, design)
				if err != nil {
					return results, fmt.Errorf("%s %s %s: %w", st, workload, design, err)
				}
				fmt.Fprintf(out, "  %-8s %-6s %-7s %10s ops/s   p50 %-8s p99 %-8s peak RSS %-8s %d batches, %d retried  %s\n", r.Store, r.Workload, r.Design,
					thousands(r.OpsPerSec), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), mib(r.PeakRSS), r.Batches, r.Retries, r.Verified)
				pair = append(pair, r)
				results = append(results, r)
			}
			if len(pair) == 2 {
				fmt.Fprintf(out, "  %-8s %-6s %s / %s = %.1f×\n", st, workload, pair[0].Design, pair[1].Design, pair[0].OpsPerSec/pair[1].OpsPerSec)
			}
			fmt.Fprintln(out)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tworkload\tdesign\tops/s\tp50\tp99\tpeak RSS\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Store, r.Workload, r.Design, thousands(r.OpsPerSec),
			r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), mib(r.PeakRSS))
	}
	return results, tw.Flush()
}

func runLedger(ctx context.Context, cfg LedgerConfig, kind, workload, design string) (LedgerResult, error) {
	r := LedgerResult{Store: kind, Workload: workload, Design: design}
	ecfg := ledger.Config{MaxBatch: cfg.MaxBatch, Workers: 1}
	conns := int32(8)
	if kind == "postgres" {
		ecfg.Workers = cfg.Workers
	}
	if design == "per-op" {
		ecfg.MaxBatch, ecfg.Workers = 1, 1
		if kind == "postgres" {
			ecfg.Workers = cfg.PerOpConns
			conns = int32(cfg.PerOpConns) + 4
		}
	}
	st, cleanup, err := freshStore(ctx, kind, cfg.Dir, cfg.PostgresURL, conns, 0, 0)
	if err != nil {
		return r, err
	}
	defer cleanup()
	accounts := cfg.Accounts
	if workload == "hot" {
		accounts = 1
	}
	ids, err := createFunded(ctx, st, accounts)
	if err != nil {
		return r, err
	}
	runtime.GC()
	resetPeakRSS()
	e := ledger.New(st, ecfg)
	defer e.Close()

	var (
		seq      atomic.Int64
		rejected atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		sent     []request
		wg       sync.WaitGroup
		firstErr atomic.Value
	)
	for c := 0; c < cfg.Callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []request
			for !stop.Load() {
				n := seq.Add(1)
				op := &abacus.Move{Type: abacus.TxCharge, Account: ids[int(n)%len(ids)], Currency: "USD",
					Amount: abacus.AmountFromMicros(1 + n%997)}
				start := time.Now()
				_, err := e.Submit(ctx, cfg.IDs.id(n), op)
				mine = append(mine, request{start, time.Now(), 1})
				if err != nil {
					if abacus.ErrorCodeOf(err) != abacus.CodeInsufficientFunds {
						firstErr.CompareAndSwap(nil, err)
						stop.Store(true)
						return
					}
					rejected.Add(1)
				}
			}
			mu.Lock()
			sent = append(sent, mine...)
			mu.Unlock()
		}()
	}
	warm := min(time.Second, cfg.Duration/4)
	time.Sleep(warm)
	b0, _, r0 := e.Stats()
	w0 := time.Now()
	time.Sleep(cfg.Duration)
	w1 := time.Now()
	b1, _, r1 := e.Stats()
	r.PeakRSS = peakRSS()
	stop.Store(true)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return r, err
	}
	var lat latencies
	var share float64
	r.Ops, share, lat = window(sent, w0, w1)
	r.Rejected, r.Batches, r.Retries = rejected.Load(), b1-b0, r1-r0
	r.OpsPerSec = share / w1.Sub(w0).Seconds()
	r.P50, r.P99 = lat.quantile(0.50), lat.quantile(0.99)
	e.Close()
	if cfg.Verify {
		rep, err := ledger.Verify(ctx, st)
		if err != nil {
			return r, err
		}
		if !rep.OK() {
			return r, fmt.Errorf("verify failed after the run:\n%s", rep)
		}
		r.Verified = "verify ok"
	}
	return r, nil
}

// createFunded creates n accounts and tops each up with plenty.
func createFunded(ctx context.Context, st abacus.Store, n int) ([]abacus.AccountID, error) {
	ids := make([]abacus.AccountID, n)
	now := time.Now().UTC()
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range ids {
		ids[i] = abacus.AccountID(fmt.Sprintf("b0000000-0000-4000-8000-%012d", i+1))
		sem <- struct{}{}
		go func(id abacus.AccountID) {
			defer func() { <-sem }()
			_, _, err := st.AccountCreate(ctx, abacus.Account{ID: id, Kind: abacus.KindUser, Name: "bench", Currency: "USD", CreatedAt: now})
			errs <- err
		}(ids[i])
	}
	for range ids {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	e := ledger.New(st, ledger.Config{})
	defer e.Close()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			amount, _ := abacus.AmountFromUnits(1_000_000_000)
			if _, err := e.Submit(ctx, "fund-"+string(id), &abacus.Move{Type: abacus.TxTopup, Account: id, Currency: "USD", Amount: amount}); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return ids, nil
}
