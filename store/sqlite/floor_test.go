package sqlite_test

import (
	"testing"
	"time"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// BenchmarkEventRows measures what SQLite itself takes to store usage
// events, nothing else: each op is one write transaction of 3,000
// usage_events rows that SQLite makes itself (random 128-bit ids, as the
// 16 bytes the store keeps a UUID as; 1,000 accounts), on the store's writer connection with its settings (WAL,
// synchronous=FULL) and its background checkpointer. There is no
// rating, ledger, counter, rollup, dedupe read or Go-side encoding, and
// every ingested event is such a row, so rows/s bounds what ingestion
// on SQLite can reach on the machine with batches of this size (a row
// costs less in a bigger batch, which shares more pages: 3x less at
// 30,000 on the machine the README names). Run as many ops as a 10 s
// `abacus bench ingest` stores events, since the cost grows with the
// table: go test ./store/sqlite -run '^$' -bench EventRows -benchtime 70x
func BenchmarkEventRows(b *testing.B) {
	db := sqlite.WriterDB(testdb.SQLite(b))
	const batch = 3000
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	b.ResetTimer()
	for i := range b.N {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		_, err = tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
				event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
			SELECT randomblob(16), printf('be000000-0000-4000-8000-%012d', abs(random() % 1000)), 11, 0, 30, '', 'sku-3', '',
				'space-5', ? + i * 1000, ?, '', 'charged', 'USD', 1234, 1234, 0, 0, '7'
			FROM n`, batch, at+int64(i)*batch*1000, at)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
