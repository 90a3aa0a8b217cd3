package bench

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// storeOlderEvents gives a fresh store n usage events of the month before
// the benchmark's, as a database that has run a while holds: random ids
// (their index outgrows the caches, which is where random ids cost most;
// on SQLite stored as the 16 bytes abacus keeps a UUID as), spread over
// the benchmark's accounts, free (so no ledger transaction stands behind
// them), with the rollups that sum them, so `abacus verify` still holds.
// It writes with SQL, not through abacus, which would take longer than the
// runs themselves.
func storeOlderEvents(ctx context.Context, st abacus.Store, schemaURL string, accounts, n int) error {
	if n <= 0 {
		return nil
	}
	switch st := st.(type) {
	case *sqlite.Store:
		db, err := sql.Open("sqlite3", st.Path()+"?_busy_timeout=10000")
		if err != nil {
			return err
		}
		defer db.Close()
		return storeInChunks(n, func(q string) error { _, err := db.ExecContext(ctx, q); return err },
			sqliteOlderEvents, accounts, sqliteOlderRollups)
	case *postgres.Store:
		conn, err := pgx.Connect(ctx, schemaURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		err = storeInChunks(n, func(q string) error { _, err := conn.Exec(ctx, q); return err },
			postgresOlderEvents, accounts, postgresOlderRollups)
		if err == nil {
			// As autovacuum would have by then; this machine's server runs without it.
			_, err = conn.Exec(ctx, `VACUUM ANALYZE usage_events`)
		}
		return err
	}
	return fmt.Errorf("bench: cannot store older events in a %T", st)
}

// storeInChunks inserts n events, 200,000 to a transaction, then the
// rollups of all of them.
func storeInChunks(n int, exec func(string) error, events string, accounts int, rollups string) error {
	const chunk = 200_000
	for done := 0; done < n; done += chunk {
		if err := exec(fmt.Sprintf(events, min(chunk, n-done), done, accounts)); err != nil {
			return fmt.Errorf("bench: storing older events: %w", err)
		}
	}
	if err := exec(rollups); err != nil {
		return fmt.Errorf("bench: rolling up older events: %w", err)
	}
	return nil
}

// The queries take the count of events, the count stored before them and
// the count of accounts. Event times are a millisecond apart from
// 2026-10-01, the month before the benchmark's.
const (
	sqliteOlderEvents = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %[1]d)
		INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
			event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
		SELECT randomblob(16), printf('be000000-0000-4000-8000-%%012d', 1 + abs(random() %% %[3]d)), 11, 0, 30, '', 'sku-3', '',
			'space-5', 1790812800000000 + (%[2]d + i) * 1000, 1790812800000000 + (%[2]d + i) * 1000, '', 'charged', 'USD', 0, 0, 0, 0, ''
		FROM n`
	sqliteOlderRollups = `INSERT INTO usage_rollups (account_id, bucket, scene, resource_id, customer_id, currency, quantity, amount, events)
		SELECT account_id, event_time - event_time % 900000000, scene, resource_id, customer_id, currency, sum(value), 0, count(*)
		FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6`
	postgresOlderEvents = `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
			event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
		SELECT md5((%[2]d + i)::text), format('be000000-0000-4000-8000-%%s', lpad((1 + floor(random() * %[3]d))::text, 12, '0')), 11, 0, 30, '', 'sku-3', '',
			'space-5', t, t, '', 'charged', 'USD', 0, 0, 0, 0, ''
		FROM generate_series(1, %[1]d) i, LATERAL (SELECT timestamptz '2026-10-01 00:00:00+00' + (%[2]d + i) * interval '1 ms' AS t) at`
	postgresOlderRollups = `INSERT INTO usage_rollups (account_id, bucket, scene, resource_id, customer_id, currency, quantity, amount, events)
		SELECT account_id, date_bin('15 minutes', event_time, timestamptz '2026-10-01 00:00:00+00'), scene, resource_id, customer_id, currency,
			sum(value), 0, count(*)
		FROM usage_events GROUP BY 1, 2, 3, 4, 5, 6`
)
