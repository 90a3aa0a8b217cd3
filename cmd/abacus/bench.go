package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus/bench"
	"github.com/abacus-billing/abacus/ledger"
)

// oneOf checks a comma-separated list against the names it may hold: an
// unknown one had run as another and labelled its rows with the typo (QA).
func oneOf(flag, list string, names ...string) error {
	for _, v := range strings.Split(list, ",") {
		if !slices.Contains(names, v) {
			return usagef("--%s: %q is not one of %s", flag, v, strings.Join(names, ", "))
		}
	}
	return nil
}

// checkRuns checks what both benchmarks take: the stores, and a duration.
func checkRuns(stores string, dur time.Duration) error {
	if err := oneOf("stores", stores, "sqlite", "postgres"); err != nil {
		return err
	}
	if dur <= 0 {
		return usagef("--duration: %s is not a positive duration", dur)
	}
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "ingest" {
		return runBenchIngest(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ledger" {
		fmt.Fprintln(stderr, "usage: abacus bench ledger|ingest [flags]   (abacus bench ledger --help)")
		if len(args) > 0 && isHelp(args[0]) {
			return nil
		}
		return exitError{2}
	}
	fs := newFlagSet("bench ledger", "", stderr)
	stores := fs.String("stores", "sqlite,postgres", "stores to measure, comma-separated")
	workloads := fs.String("workloads", "spread,hot", "workloads: spread (many accounts), hot (one account)")
	designs := fs.String("designs", "batched,per-op", "designs: batched (the engine), per-op (one transaction per operation)")
	pg := fs.String("postgres", envOr("ABACUS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL URL; each run makes and drops a schema there (env ABACUS_BENCH_POSTGRES)")
	dur := fs.Duration("duration", 10*time.Second, "measured time per run")
	accounts := fs.Int("accounts", 1000, "customer accounts in the spread workload")
	callers := fs.Int("callers", 4000, "concurrent callers")
	conns := fs.Int("per-op-conns", 32, "concurrent database transactions of the per-operation design on PostgreSQL")
	maxBatch := fs.Int("max-batch", 4000, "operations per database transaction of the batched design")
	workers := fs.Int("workers", 4, "batches in flight at once in the batched design on PostgreSQL")
	ids := idsFlag(fs)
	verify := fs.Bool("verify", true, "check every ledger invariant after each run")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := parseFlags(fs, args[1:], false); err != nil {
		return err
	}
	keys, err := ids()
	if err != nil {
		return err
	}
	if err := checkRuns(*stores, *dur); err != nil {
		return err
	}
	if err := positive(fs, "accounts", "callers", "per-op-conns", "max-batch", "workers"); err != nil {
		return err
	}
	if err := oneOf("workloads", *workloads, "spread", "hot"); err != nil {
		return err
	}
	if err := oneOf("designs", *designs, "batched", "per-op"); err != nil {
		return err
	}
	stopProfile, err := startProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	dir, err := os.MkdirTemp("", "abacus-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	_, err = bench.Ledger(ctx, bench.LedgerConfig{
		Stores: strings.Split(*stores, ","), Workloads: strings.Split(*workloads, ","), Designs: strings.Split(*designs, ","), PostgresURL: *pg, Dir: dir, Duration: *dur,
		Accounts: *accounts, Callers: *callers, PerOpConns: *conns, Verify: *verify, MaxBatch: *maxBatch, Workers: *workers, IDs: keys,
	}, stdout)
	return err
}

func runBenchIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench ingest", "", stderr)
	stores := fs.String("stores", "sqlite,postgres", "stores to measure, comma-separated")
	paths := fs.String("paths", "in-process,http", "paths: in-process (the pipeline called directly), http (the ingestion endpoint over loopback)")
	pg := fs.String("postgres", envOr("ABACUS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL URL; each run makes and drops a schema there (env ABACUS_BENCH_POSTGRES)")
	dur := fs.Duration("duration", 10*time.Second, "measured time per run")
	accounts := fs.Int("accounts", 1000, "accounts the events are spread over")
	skus := fs.Int("skus", 20, "SKUs, each with a graduated price of three tiers")
	producers := fs.String("producers", "64,256", "concurrent producers, each sending a request and waiting for its answer; with several counts, the one with the most events/s is the peak")
	batch := fs.Int("batch", 100, "events per request")
	dups := fs.Int("duplicates", 1, "percent of events that repeat an earlier id")
	maxBatch := fs.Int("max-batch", ledger.DefaultUsageBatch, "most events per database transaction (serve's --max-usage-batch)")
	workers := fs.Int("workers", 4, "batches in flight at once on PostgreSQL")
	stored := fs.Int("stored", 0, "older usage events each run's database holds before it starts, as one that has run a while does (0: none)")
	verify := fs.Bool("verify", true, "check every ledger invariant after each full-load run")
	ids := idsFlag(fs)
	times := fs.String("times", "spread", "event times: spread (each account's events 1,000 s apart, all over one hour) or clock (each account reporting once a minute, in time order, as producers do)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	keys, err := ids()
	if err != nil {
		return err
	}
	if t := bench.Times(*times); t != bench.SpreadTimes && t != bench.ClockTimes {
		return usagef("--times: %q is not spread or clock", *times)
	}
	if *stored < 0 {
		return usagef("--stored: %d is negative; give 0 or more events", *stored)
	}
	var counts []int
	for _, f := range strings.Split(*producers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return usagef("--producers: %q is not a list of positive counts such as 64,256", *producers)
		}
		counts = append(counts, n)
	}
	if err := checkRuns(*stores, *dur); err != nil {
		return err
	}
	if err := oneOf("paths", *paths, "in-process", "http"); err != nil {
		return err
	}
	if err := positive(fs, "accounts", "skus", "batch", "max-batch", "workers"); err != nil {
		return err
	}
	if *batch > 10_000 { // the ingestion endpoint's bound
		return usagef("--batch: %d is more than the 10,000 events a request may hold", *batch)
	}
	if *dups < 0 || *dups > 99 {
		return usagef("--duplicates: %d is not a percent from 0 to 99", *dups)
	}
	stopProfile, err := startProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	dir, err := os.MkdirTemp("", "abacus-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	_, err = bench.Ingest(ctx, bench.IngestConfig{
		Stores: strings.Split(*stores, ","), Paths: strings.Split(*paths, ","), PostgresURL: *pg, Dir: dir, Duration: *dur,
		Accounts: *accounts, SKUs: *skus, Producers: counts, BatchSize: *batch, Duplicates: *dups,
		MaxBatch: *maxBatch, Workers: *workers, IDs: keys, Times: bench.Times(*times), Stored: *stored, Verify: *verify,
	}, stdout)
	return err
}

// startProfile writes a CPU profile to path until the returned func runs.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// idsFlag adds --ids; the func it returns reads it.
func idsFlag(fs *flag.FlagSet) func() (bench.IDs, error) {
	v := fs.String("ids", "random", "ids and idempotency keys: random (UUIDs v4, as most clients send) or ordered (growing with time, as UUIDs v7)")
	return func() (bench.IDs, error) {
		switch k := bench.IDs(*v); k {
		case bench.RandomIDs, bench.OrderedIDs:
			return k, nil
		}
		return "", usagef("--ids: %q is not random or ordered", *v)
	}
}

// positive refuses an int flag of fs below 1: a count of 0 divided by zero,
// hung, or measured nothing (QA).
func positive(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		if v := fs.Lookup(name).Value.(flag.Getter).Get().(int); v < 1 {
			return usagef("--%s: %d is not a positive number", name, v)
		}
	}
	return nil
}
