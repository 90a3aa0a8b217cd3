package bench

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

var prefill = flag.Int("prefill", 0, "older usage events stored before BenchmarkIngestBatch measures, as a database that has run a while holds")

// BenchmarkIngestBatch charges usage batches of a fixed size, one at a
// time, with the workload of `abacus bench ingest`: what one batch costs
// end to end (reads, rating, writes, commit) without the queueing of a
// loaded run. Its curve over batch sizes is why half load costs more per
// event than peak: smaller batches net less per account. With -prefill N
// the database first holds N older events, as one that has run a while
// does, which is where random ids cost most (their index outgrows the
// caches).
//
//	go test ./bench -run '^$' -bench IngestBatch -benchtime 100x [-args -prefill 3000000]
func BenchmarkIngestBatch(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, size := range []int{200, 3000} {
			b.Run(fmt.Sprintf("%s/%d", kind, size), func(b *testing.B) {
				cfg := IngestConfig{Accounts: 1000, SKUs: 20, Duplicates: 1, IDs: RandomIDs}
				st, cleanup, err := freshStore(b.Context(), kind, b.TempDir(), testdb.PostgresURL(), 4, *prefill, cfg.Accounts)
				if err != nil {
					b.Fatal(err)
				}
				defer cleanup()
				start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
				if err := st.PriceBookAdd(b.Context(), skuPrices(cfg.SKUs, start.AddDate(0, -1, 0)), nil); err != nil {
					b.Fatal(err)
				}
				e := ledger.New(st, ledger.Config{Workers: 1})
				defer e.Close()
				g := &generator{cfg: cfg, start: start}
				rnd := rand.New(rand.NewPCG(1, 42))
				ingest := func() {
					evs := g.batch(rnd, size)
					for i := range evs {
						if err := evs[i].Validate(); err != nil {
							b.Fatal(err)
						}
					}
					rs, err := e.Ingest(b.Context(), evs)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range rs {
						if r.Status == abacus.IngestRejected {
							b.Fatalf("%s rejected: %v", r.ID, r.Err)
						}
					}
				}
				for range 20_000 / size { // every account exists and the tables have some rows
					ingest()
				}
				b.ResetTimer()
				for b.Loop() {
					ingest()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*size), "µs/event")
			})
		}
	}
}
