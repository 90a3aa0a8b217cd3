package bench

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store/postgres"
)

var prefill = flag.Int("prefill", 0, "usage events stored before BenchmarkIngestBatch measures, as a database that has been running a while holds")

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
	stores := map[string]func(testing.TB) abacus.Store{
		"sqlite": func(t testing.TB) abacus.Store {
			st := testdb.SQLite(t)
			if *prefill > 0 {
				db, err := sql.Open("sqlite3", st.Path()+"?_busy_timeout=10000")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				prefillEvents(t, func(q string) error { _, err := db.Exec(q); return err }, sqlitePrefill)
			}
			return st
		},
		"postgres": func(t testing.TB) abacus.Store {
			url := testdb.PostgresSchemaURL(t)
			st, err := postgres.Open(t.Context(), url, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			if *prefill > 0 {
				conn, err := pgx.Connect(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				prefillEvents(t, func(q string) error { _, err := conn.Exec(t.Context(), q); return err }, postgresPrefill)
				if _, err := conn.Exec(t.Context(), "VACUUM ANALYZE usage_events"); err != nil {
					t.Fatal(err)
				}
			}
			return st
		},
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, size := range []int{200, 3000} {
			b.Run(fmt.Sprintf("%s/%d", kind, size), func(b *testing.B) {
				st := stores[kind](b)
				cfg := IngestConfig{Accounts: 1000, SKUs: 20, Duplicates: 1, IDs: RandomIDs}
				start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
				if err := st.PriceBookAdd(b.Context(), skuPrices(cfg.SKUs, start.AddDate(0, -1, 0)), nil, nil); err != nil {
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

// The prefilled events belong to the month before the measured ones, with
// ids that look random, spread over the same accounts; chunks of them commit in
// turn, %d rows after %d.
const (
	sqlitePrefill = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
			event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
		SELECT lower(hex(randomblob(16))), printf('be000000-0000-4000-8000-%%012d', 1 + abs(random() %% 1000)), 11, 0, 30, '', 'sku-3', '',
			'space-5', 1790812800000000 + (%d + i) * 1000, 1790812800000000, '', 'charged', 'USD', 1234, 1234, 0, 0, '7'
		FROM n`
	postgresPrefill = `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
			event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
		SELECT md5((%[2]d + i)::text), format('be000000-0000-4000-8000-%%s', lpad((1 + floor(random() * 1000))::text, 12, '0')), 11, 0, 30, '', 'sku-3', '',
			'space-5', timestamptz '2026-10-01' + ((%[2]d + i) * interval '1 ms'), timestamptz '2026-10-01', '', 'charged', 'USD', 1234, 1234, 0, 0, '7'
		FROM generate_series(1, %[1]d) i`
)

func prefillEvents(t testing.TB, exec func(string) error, query string) {
	const chunk = 200_000
	for done := 0; done < *prefill; done += chunk {
		if err := exec(fmt.Sprintf(query, min(chunk, *prefill-done), done)); err != nil {
			t.Fatal(err)
		}
	}
}
