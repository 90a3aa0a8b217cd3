package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store/postgres"
)

// BenchmarkEventRows measures what PostgreSQL itself takes to store usage
// events, nothing else: an op is one usage_events row that the server
// makes itself (a random UUID id, one of 1,000 accounts, a time anywhere
// in one hour, as `abacus bench ingest` spreads them), stored in
// transactions of a batch of rows by one or by four connections at once
// (serve's usage workers), with the store's schema and the server's
// settings. There is no rating, ledger, counter, rollup, dedupe read or
// Go-side encoding, and every ingested event is such a row, so rows/s
// bounds what ingestion on PostgreSQL can reach on the machine with
// batches of that size. Run as many rows as ~11 s at the 75,000 target
// would store (the PostgreSQL target is 50,000):
//
//	go test ./store/postgres -run '^$' -bench EventRows -benchtime 800000x
func BenchmarkEventRows(b *testing.B) {
	for _, workers := range []int{1, 4} {
		for _, batch := range []int{3000, 16000} {
			b.Run(fmt.Sprintf("workers=%d/batch=%d", workers, batch), func(b *testing.B) {
				eventRows(b, workers, batch)
			})
		}
	}
}

func eventRows(b *testing.B, workers, batch int) {
	pool := postgres.Pool(testdb.Postgres(b))
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		share := b.N / workers
		if w == 0 {
			share += b.N % workers
		}
		wg.Go(func() {
			for stored := 0; stored < share; stored += batch {
				_, err := pool.Exec(b.Context(), `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id,
					resource_name, customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus,
					drawn_voucher, price_ids)
					SELECT gen_random_uuid()::text, 'be000000-0000-4000-8000-' || lpad(floor(random() * 1000)::int::text, 12, '0'),
						11, 0, 30, '', 'sku-3', '', 'space-5', $2::timestamptz + random() * interval '1 hour', $2, '', 'charged',
						'USD', 1234, 1234, 0, 0, '7'
					FROM generate_series(1, $1)`, min(batch, share-stored), at)
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
