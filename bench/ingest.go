package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	abacushttp "github.com/abacus-billing/abacus/http"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/metering/decode"
)

// IngestConfig sets up `abacus bench ingest`.
type IngestConfig struct {
	Stores      []string
	Paths       []string // "in-process", "http"
	PostgresURL string
	Dir         string
	Duration    time.Duration
	Accounts    int
	SKUs        int
	// Producers are the counts of concurrent producers, each sending a
	// request and waiting for its answer, to run the batched engine with:
	// the count that gives the most events/s is its peak, where the
	// half-load and per-event runs then take place.
	Producers  []int
	BatchSize  int   // events per request
	Duplicates int   // percent of events that repeat an earlier id
	IDs        IDs   // how event ids are spelled
	Times      Times // how event times run
	MaxBatch   int   // most events per usage transaction
	Workers    int   // PostgreSQL batches in flight
	// Stored is how many older usage events each run's database holds
	// before it starts, as one that has run a while does; 0: none.
	Stored int
	Verify bool
}

// IngestResult is one run's figures.
type IngestResult struct {
	Store, Path, Design string
	Producers           int
	Events              int64
	EventsPerSec        float64
	P50, P99            time.Duration
	HalfLoadP99         time.Duration // p99 when offered half of the peak rate
	CPU, HalfLoadCPU    CPUUse
	PeakRSS             int64
	Verified            string
}

// Ingest measures usage ingestion end to end: decoding, dedupe against the
// database, rating with tiered prices, charging, rollups, commit, answer.
// Each store and path runs the batched engine with each count of
// producers, and at the count that gave the most events/s (its peak: more
// in flight makes bigger, cheaper batches until the machine is saturated)
// the batched engine again at half that rate, to measure acknowledgement
// latency under ordinary load, and the common design of one database
// transaction per event (the same work with batches of one).
func Ingest(ctx context.Context, cfg IngestConfig, out io.Writer) ([]IngestResult, error) {
	if cfg.Times == "" {
		cfg.Times = SpreadTimes
	}
	fmt.Fprintf(out, "abacus bench ingest: %s\n", Machine())
	fmt.Fprintf(out, "%s per run; %d accounts, %d SKUs with graduated tiers, %d%% duplicates, %s event ids, %s event times; %s producers sending %d events per request; at most %d events per transaction%s\n\n",
		cfg.Duration, cfg.Accounts, cfg.SKUs, cfg.Duplicates, cfg.IDs, cfg.Times, ints(cfg.Producers), cfg.BatchSize, cfg.MaxBatch, storedNote(cfg.Stored))
	var results []IngestResult
	for _, st := range cfg.Stores {
		for _, path := range cfg.Paths {
			var batched IngestResult
			for _, p := range cfg.Producers {
				r, err := runIngest(ctx, cfg, st, path, "batched", p, 0)
				if err != nil {
					return results, fmt.Errorf("%s %s batched, %d producers: %w", st, path, p, err)
				}
				printRun(out, r)
				if r.EventsPerSec > batched.EventsPerSec {
					batched = r
				}
			}
			half, err := runIngest(ctx, cfg, st, path, "batched", batched.Producers, batched.EventsPerSec/2)
			if err != nil {
				return results, fmt.Errorf("%s %s at half load: %w", st, path, err)
			}
			batched.HalfLoadP99, batched.HalfLoadCPU = half.P99, half.CPU
			perEvent, err := runIngest(ctx, cfg, st, path, "per-event", batched.Producers, 0)
			if err != nil {
				return results, fmt.Errorf("%s %s per-event: %w", st, path, err)
			}
			printRun(out, perEvent)
			fmt.Fprintf(out, "  %-8s %-10s batched / per-event = %.1f×; p99 at half load (%s events/s) = %s, CPU %s\n\n", st, path,
				batched.EventsPerSec/perEvent.EventsPerSec, thousands(batched.EventsPerSec/2), batched.HalfLoadP99.Round(100*time.Microsecond),
				batched.HalfLoadCPU)
			results = append(results, batched, perEvent)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tpath\tdesign\tproducers\tevents/s\tp50\tp99\tp99 at half load\tpeak RSS\t")
	for _, r := range results {
		half := "-"
		if r.HalfLoadP99 > 0 {
			half = r.HalfLoadP99.Round(100 * time.Microsecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Store, r.Path, r.Design, r.Producers, thousands(r.EventsPerSec),
			r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), half, mib(r.PeakRSS))
	}
	return results, tw.Flush()
}

func printRun(out io.Writer, r IngestResult) {
	fmt.Fprintf(out, "  %-8s %-10s %-9s %5d producers %9s events/s  p50 %-9s p99 %-9s peak RSS %-8s %s\n", r.Store, r.Path, r.Design, r.Producers,
		thousands(r.EventsPerSec), r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), mib(r.PeakRSS), r.Verified)
	fmt.Fprintf(out, "  %-8s %-10s %-9s CPU %s\n", "", "", "", r.CPU)
}

func storedNote(n int) string {
	if n == 0 {
		return "; each run starts from an empty database"
	}
	return fmt.Sprintf("; each run's database holds %s older events first", thousands(float64(n)))
}

func ints(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// skuPrices returns n graduated per-minute prices: the first 1,000 minutes
// of a month at one rate, the next 9,000 cheaper, the rest cheaper still.
func skuPrices(n int, from time.Time) []abacus.Price {
	var ps []abacus.Price
	for i := 0; i < n; i++ {
		base := decimal.New(int64(10+i), -3) // 0.010, 0.011, …
		ps = append(ps, abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: fmt.Sprintf("sku-%d", i), UnitType: "minute",
			Currency: "USD", Unit: 1, Model: abacus.ModelGraduated, ValidFrom: from, CreatedAt: from,
			Tiers: []abacus.PriceTier{
				{UpTo: 1000, UnitPrice: base},
				{UpTo: 10000, UnitPrice: base.Mul(decimal.RequireFromString("0.8"))},
				{UpTo: 0, UnitPrice: base.Mul(decimal.RequireFromString("0.6"))},
			}})
	}
	return ps
}

// generator makes events: random accounts and SKUs, and a share that
// repeat an id sent before.
type generator struct {
	cfg   IngestConfig
	seq   atomic.Int64
	start time.Time
}

func (g *generator) batch(r *rand.Rand, n int) []abacus.UsageEvent {
	evs := make([]abacus.UsageEvent, n)
	for i := range evs {
		s := g.seq.Add(1)
		if g.cfg.Duplicates > 0 && r.IntN(100) < g.cfg.Duplicates && s > 1000 {
			s -= 1 + int64(r.IntN(1000)) // an id sent a moment ago
		}
		acct := int(s*7919) % g.cfg.Accounts
		evs[i] = abacus.UsageEvent{
			ID:         g.cfg.IDs.id(s),
			Account:    abacus.AccountID(fmt.Sprintf("be000000-0000-4000-8000-%012d", acct+1)),
			Value:      1 + s%60,
			Scene:      11,
			ResourceID: fmt.Sprintf("sku-%d", s%int64(g.cfg.SKUs)),
			CustomerID: fmt.Sprintf("space-%d", acct%97),
			Time:       g.cfg.Times.at(g.start, s, g.cfg.Accounts),
		}
	}
	return evs
}

// Times says how the events' times run.
type Times string

const (
	// SpreadTimes put the events of a run in one hour, each account's
	// consecutive events 1,000 s apart in event time, in different quarter
	// hours: an account's rollups do not net within a batch, and its
	// events land all over its stretch of the account-time index.
	SpreadTimes Times = "spread"
	// ClockTimes follow the clock, as producers' do: every account reports
	// once a minute, so its events come in time order.
	ClockTimes Times = "clock"
)

// at is the time of event number s.
func (t Times) at(start time.Time, s int64, accounts int) time.Time {
	if t == ClockTimes {
		return start.Add(time.Duration(s/int64(accounts)) * time.Minute)
	}
	return start.Add(time.Duration(s%3600) * time.Second)
}

// IDs says how the benchmarks spell event ids and idempotency keys.
type IDs string

const (
	// RandomIDs are UUIDs version 4, spread over the key space as most
	// producers' ids are: every insert into the id index lands on a
	// different page.
	RandomIDs IDs = "random"
	// OrderedIDs grow with time, as UUIDs version 7 or order numbers do:
	// inserts append to the index.
	OrderedIDs IDs = "ordered"
)

// id spells sequence number s.
func (k IDs) id(s int64) string {
	if k == OrderedIDs {
		return fmt.Sprintf("00000000-0000-7000-8000-%012d", s)
	}
	h := sha256.Sum256([]byte(strconv.FormatInt(s, 10)))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func runIngest(ctx context.Context, cfg IngestConfig, kind, path, design string, producers int, rate float64) (IngestResult, error) {
	r := IngestResult{Store: kind, Path: path, Design: design, Producers: producers}
	// The events' times are made up, from a fixed start: none is refused for being ahead.
	ecfg := ledger.Config{Workers: 1, Usage: ledger.UsageConfig{MaxBatch: cfg.MaxBatch, MaxAhead: -1}}
	conns := int32(8)
	batchSize := cfg.BatchSize
	if kind == "postgres" {
		ecfg.Workers = cfg.Workers
	}
	if design == "per-event" {
		ecfg.MaxBatch, ecfg.Usage.MaxBatch, batchSize = 1, 1, 1
		if kind == "postgres" {
			ecfg.Workers, conns = 32, 36
		}
	}
	st, cleanup, err := freshStore(ctx, kind, cfg.Dir, cfg.PostgresURL, conns, cfg.Stored, cfg.Accounts)
	if err != nil {
		return r, err
	}
	defer cleanup()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := st.PriceBookAdd(ctx, skuPrices(cfg.SKUs, start.AddDate(0, -1, 0)), nil); err != nil {
		return r, err
	}
	e := ledger.New(st, ecfg)
	defer e.Close()
	pipe := &metering.Pipeline{Engine: e}
	send := func(ctx context.Context, evs []abacus.UsageEvent) error {
		items := make([]decode.Item, len(evs))
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				return err
			}
			items[i] = decode.Item{Event: evs[i], ID: evs[i].ID}
		}
		_, err := pipe.Ingest(ctx, items)
		return err
	}
	if path == "http" {
		var stopHTTP func()
		send, stopHTTP, err = httpSender(st, e)
		if err != nil {
			return r, err
		}
		defer stopHTTP()
	}
	g := &generator{cfg: cfg, start: start}
	// Create the accounts (the engine would on first sight) before measuring.
	warm := make([]abacus.UsageEvent, 0, cfg.Accounts)
	for i := 0; i < cfg.Accounts; i++ {
		warm = append(warm, abacus.UsageEvent{ID: fmt.Sprintf("warm-%d", i), Account: abacus.AccountID(fmt.Sprintf("be000000-0000-4000-8000-%012d", i+1)),
			Value: 1, Scene: 11, ResourceID: "sku-0", Time: start})
	}
	for i := range warm {
		warm[i].Validate()
	}
	if _, err := e.Ingest(ctx, warm); err != nil {
		return r, err
	}
	runtime.GC()
	resetPeakRSS()

	var (
		stop           atomic.Bool
		mu             sync.Mutex
		sent           []request
		wg             sync.WaitGroup
		firstErr       atomic.Value
		perProducerGap time.Duration
	)
	if design == "per-event" {
		producers = min(producers*cfg.BatchSize/4, 4000) // a quarter as many events in flight, one per request
		r.Producers = producers
	}
	if rate > 0 {
		perProducerGap = time.Duration(float64(time.Second) * float64(producers*batchSize) / rate)
	}
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(p), 42))
			var mine []request
			next := time.Now().Add(time.Duration(rnd.Int64N(int64(perProducerGap + 1))))
			for !stop.Load() {
				if perProducerGap > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(perProducerGap)
				}
				evs := g.batch(rnd, batchSize)
				t0 := time.Now()
				if err := send(ctx, evs); err != nil {
					firstErr.CompareAndSwap(nil, err)
					stop.Store(true)
					return
				}
				mine = append(mine, request{t0, time.Now(), len(evs)})
			}
			mu.Lock()
			sent = append(sent, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(min(time.Second, cfg.Duration/4))
	cpu0 := sampleCPU()
	w0 := time.Now()
	time.Sleep(cfg.Duration)
	w1 := time.Now()
	cpu1 := sampleCPU()
	r.PeakRSS = peakRSS()
	stop.Store(true)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return r, err
	}
	var lat latencies
	var share float64
	r.Events, share, lat = window(sent, w0, w1)
	r.EventsPerSec = share / w1.Sub(w0).Seconds()
	r.CPU = cpuUse(cpu0, cpu1, int64(share))
	r.P50, r.P99 = lat.quantile(0.50), lat.quantile(0.99)
	e.Close()
	if cfg.Verify && rate == 0 {
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

// httpSender serves the API in-process on a loopback port and sends each
// batch as a JSON array to the ingestion endpoint, as a platform would.
// stop closes the server and the client's connections, so that nothing of
// the run (thousands of idle connections, the engine and store behind the
// server) outlives it into the next run's memory.
func httpSender(st abacus.Store, e *ledger.Engine) (send func(context.Context, []abacus.UsageEvent) error, stop func(), err error) {
	k, token, err := abacus.NewAPIKey("bench", abacus.RoleService, "", time.Now())
	if err != nil {
		return nil, nil, err
	}
	if err := st.APIKeyCreate(context.Background(), k); err != nil {
		return nil, nil, err
	}
	srv := httptest.NewServer(abacushttp.NewServer(e, abacushttp.Config{}).Handler())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096}}
	stop = func() {
		client.CloseIdleConnections()
		srv.Close()
	}
	type wire struct {
		UUID       string `json:"uuid"`
		UserUUID   string `json:"user_uuid"`
		Value      int64  `json:"value"`
		ValueType  int    `json:"value_type"`
		Scene      int    `json:"scene"`
		ResourceID string `json:"resource_id"`
		CustomerID string `json:"customer_id"`
		CreatedAt  string `json:"created_at"`
	}
	return func(ctx context.Context, evs []abacus.UsageEvent) error {
		ws := make([]wire, len(evs))
		for i, ev := range evs {
			ws[i] = wire{ev.ID, string(ev.Account), ev.Value, ev.ValueType, ev.Scene, ev.ResourceID, ev.CustomerID, ev.Time.Format(time.RFC3339)}
		}
		body, _ := json.Marshal(ws)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/accounting/metering/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return fmt.Errorf("ingest answered %d: %s", res.StatusCode, b)
		}
		return nil
	}, stop, nil
}

// request is one request a producer sent and had answered.
type request struct {
	sent, answered time.Time
	events         int
}

// window sums the requests answered within [from, to], with their
// acknowledgement times, and the events the window did the work of:
// each request's events in the share of its time that falls inside.
// Counting whole requests by their answers alone, a run of many
// producers counted whole rounds of them: at 256 producers their answers
// come back together, and so they send again together, so that a 10 s
// run could be off by a round, 8–15% of its rate.
func window(reqs []request, from, to time.Time) (answered int64, share float64, lat latencies) {
	for _, q := range reqs {
		if !q.answered.Before(from) && !q.answered.After(to) {
			answered += int64(q.events)
			lat = append(lat, q.answered.Sub(q.sent))
		}
		start, end := q.sent, q.answered
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		if took, inside := q.answered.Sub(q.sent), end.Sub(start); inside > 0 {
			share += float64(q.events) * float64(inside) / float64(took)
		}
	}
	return answered, share, lat
}
