package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// BenchmarkEventRows measures what SQLite itself takes to store usage
// events, nothing else: an op is one usage_events row that SQLite makes
// itself (a random 128-bit id, as the 16 bytes the store keeps a UUID
// as; one of 1,000 accounts), stored in write transactions of a batch of
// rows on the store's writer connection with its settings (WAL,
// synchronous=FULL) and its background checkpointer. There is no
// rating, ledger, counter, rollup, dedupe read or Go-side encoding, and
// every ingested event is such a row, so rows/s bounds what ingestion on
// SQLite can reach on the machine with batches of that size. Times
// "clock" come in order, so each account's entries append to its stretch
// of the account-time index; "spread" puts them anywhere in one hour, as
// `abacus bench ingest` does by default. "without-account-index" drops
// the account-time index first, which listing an account's events needs:
// what the id index, the dedupe key, costs on its own. A row costs more
// as the table grows, so store as many as a run at the target rate
// would, 75,000 events/s for ~11 s:
//
//	go test ./store/sqlite -run '^$' -bench EventRows -benchtime 800000x
func BenchmarkEventRows(b *testing.B) {
	for _, times := range []string{"clock", "spread"} {
		for _, batch := range []int{300, 3000, 16000} {
			b.Run(fmt.Sprintf("times=%s/batch=%d", times, batch), func(b *testing.B) {
				eventRows(b, times == "spread", batch, false)
			})
		}
	}
	b.Run("times=spread/batch=16000/without-account-index", func(b *testing.B) {
		eventRows(b, true, 16000, true)
	})
}

func eventRows(b *testing.B, spread bool, batch int, withoutAccountIndex bool) {
	db := sqlite.WriterDB(testdb.SQLite(b))
	if withoutAccountIndex {
		if _, err := db.Exec(`DROP INDEX usage_events_account`); err != nil {
			b.Fatal(err)
		}
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	eventTime := "?2 + i * 1000" // a millisecond apart, in order
	if spread {
		eventTime = "?2 + abs(random() % 3600000000)" // anywhere in the hour
	}
	b.ResetTimer()
	for stored := 0; stored < b.N; stored += batch {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		_, err = tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
				event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
			SELECT randomblob(16), printf('be000000-0000-4000-8000-%012d', abs(random() % 1000)), 11, 0, 30, '', 'sku-3', '',
				'space-5', `+eventTime+`, ?3, '', 'charged', 'USD', 1234, 1234, 0, 0, '7'
			FROM n`, min(batch, b.N-stored), at+int64(stored)*1000, at)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
