package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) abacus.Store { return testdb.Postgres(t) })
}

// TestConformanceICU runs the suite in a database whose default collation
// is a natural-language one (ICU en-US) instead of byte order: what the
// store sorts by text must still come in the same order as on SQLite.
func TestConformanceICU(t *testing.T) {
	base := testdb.PostgresURL()
	testdb.PostgresSchemaURL(t) // skips, or fails under CI, if PostgreSQL is unreachable
	name := "abacus_test_icu_" + randomHex()
	if err := admin(base, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`); err != nil {
		// PostgreSQL before 15, or built without ICU.
		if os.Getenv("CI") == "true" {
			t.Fatalf("creating a database with an ICU collation: %v", err)
		}
		t.Skipf("this PostgreSQL cannot create a database with an ICU collation: %v", err)
	}
	t.Cleanup(func() {
		if err := admin(base, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	var natural bool
	if err := queryRow(u.String(), `SELECT 'a' < 'B'`, &natural); err != nil || !natural {
		t.Fatalf("the database does not sort as en-US does (%v)", err)
	}
	storetest.Run(t, func(t testing.TB) abacus.Store { return testdb.PostgresAt(t, u.String()) })
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func admin(url, sql string) error {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	return err
}

func queryRow(url, sql string, dst any) error {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(context.Background(), sql).Scan(dst)
}

func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func checkApplied(t testing.TB, s *postgres.Store) {
	t.Helper()
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Pool().Query(context.Background(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Version int
		Name    string
	}])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ms) {
		t.Fatalf("schema_migrations has %+v, want every one of %d migrations once", got, len(ms))
	}
	for i, m := range ms {
		if got[i].Version != m.Version || got[i].Name != m.Name {
			t.Fatalf("schema_migrations row %d is %+v, want %d %s", i, got[i], m.Version, m.Name)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := testdb.PostgresSchemaURL(t)
	s := open(t, u)
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	have, know, err := s.SchemaVersion(ctx)
	if err != nil || have != 0 || know != len(ms) {
		t.Fatalf("SchemaVersion of a new schema: %d, %d, %v; want 0, %d", have, know, err, len(ms))
	}
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		checkApplied(t, s)
	}
	have, know, err = s.SchemaVersion(ctx)
	if err != nil || have != len(ms) || know != len(ms) {
		t.Fatalf("SchemaVersion: %d, %d, %v; want %d, %d", have, know, err, len(ms), len(ms))
	}
	if err := open(t, u).Migrate(ctx); err != nil {
		t.Fatalf("Migrate from a second store: %v", err)
	}
	checkApplied(t, s)
}

func TestMigrateTooNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ms, _ := postgres.Migrations()
	if _, err := s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')`, len(ms)+1); err != nil {
		t.Fatal(err)
	}
	err := s.Migrate(ctx)
	var tooNew store.ErrSchemaTooNew
	if !errors.As(err, &tooNew) || tooNew.Have != len(ms)+1 || tooNew.Know != len(ms) {
		t.Fatalf("Migrate on a newer schema: %v, want ErrSchemaTooNew{%d, %d}", err, len(ms)+1, len(ms))
	}
	have, know, err := s.SchemaVersion(ctx)
	if err != nil || have != len(ms)+1 || know != len(ms) {
		t.Fatalf("SchemaVersion: %d, %d, %v", have, know, err)
	}
}

// TestMigrateIntoASchemaNotThere: a search_path naming no schema gets an
// error that says to create it (QA: PostgreSQL's "no schema has been
// selected to create in", alone).
func TestMigrateIntoASchemaNotThere(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.WithSchema(testdb.PostgresURL(), "abacus_never_created"))
	if err := s.Migrate(t.Context()); err == nil || !strings.Contains(err.Error(), "search_path names no schema that exists: create it first (CREATE SCHEMA name)") {
		t.Fatalf("Migrate into a schema not there: %v", err)
	}
}

// TestMigrateConcurrent starts several instances on one new schema at
// once, each with its own pool and several goroutines migrating: every
// Migrate succeeds and each migration is applied once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	u := testdb.PostgresSchemaURL(t)
	const pools, perPool = 5, 3
	stores := make([]*postgres.Store, pools)
	for i := range stores {
		stores[i] = open(t, u)
	}
	errs := make([]error, pools*perPool)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = stores[i%pools].Migrate(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	checkApplied(t, stores[0])
	if _, _, err := stores[1].AccountCreate(context.Background(), abacus.Account{
		ID: "11111111-1111-1111-1111-111111111111", Kind: abacus.KindUser, Currency: "USD",
	}); err != nil {
		t.Fatalf("the migrated schema does not work: %v", err)
	}
}

// TestRacesBlocked runs the suite's races with the second writer on its
// own pool, and commits the first only once PostgreSQL shows the second
// waiting for its lock: the second must then fail with ErrRetry, never
// with a raw unique violation.
func TestRacesBlocked(t *testing.T) {
	t.Parallel()
	u := testdb.PostgresSchemaURL(t)
	st1 := open(t, u)
	if err := st1.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	app := "abacus_race_" + randomHex()
	u2, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := u2.Query()
	q.Set("application_name", app)
	u2.RawQuery = q.Encode()
	st2 := open(t, u2.String())
	wait := func(t testing.TB) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			err := st1.Pool().QueryRow(context.Background(),
				`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n)
			if err != nil {
				t.Errorf("reading pg_stat_activity: %v", err)
				return
			}
			if n > 0 {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Errorf("the second writer never waited for the first one's lock")
	}
	storetest.RunRaces(t, st1, st2, wait)
}

// TestWriteLazyTransaction: the transaction that Write opens with its first
// statement and may close with Commit still fails whole. A statement after
// Commit is refused; a Write whose fn hid a failed statement reports the
// rollback instead of a commit; and the connection serves the next Write.
func TestWriteLazyTransaction(t *testing.T) {
	s := testdb.Postgres(t)
	ctx := t.Context()
	key := abacus.IdempotencyRecord{Key: "lazy", Hash: []byte{1}, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	err := s.Write(ctx, func(tx abacus.WriteTx) error {
		if err := tx.Commit(ctx, &abacus.Changes{Keys: []abacus.IdempotencyRecord{key}}); err != nil {
			return err
		}
		_, err := tx.ReadBatch(ctx, abacus.BatchReads{TxIDs: 1})
		return err
	})
	if err == nil {
		t.Fatal("a statement after Commit succeeded")
	}
	err = s.Write(ctx, func(tx abacus.WriteTx) error {
		tx.Apply(ctx, &abacus.Changes{Keys: []abacus.IdempotencyRecord{key}}) // taken: fails, and fn hides it
		return nil
	})
	if err == nil {
		t.Fatal("a Write whose transaction had failed reported a commit")
	}
	for range 3 { // more than the pool's idle connections would need
		var recs []abacus.IdempotencyRecord
		if err := s.Write(ctx, func(tx abacus.WriteTx) error {
			read, err := tx.ReadBatch(ctx, abacus.BatchReads{Keys: []string{"lazy"}})
			recs = read.Records
			return err
		}); err != nil {
			t.Fatalf("a Write after the failures: %v", err)
		}
		if len(recs) != 1 || recs[0].Key != "lazy" {
			t.Fatalf("keys %+v, want the one Commit wrote", recs)
		}
	}
}

// Statements that take a migrated database back to before a migration
// (and those after it), for tests that set up what an older schema held.
// Each has no room to spare, so appending to it copies.
var (
	undo0026 = []string{`DROP TRIGGER commitments_append_only ON commitments`, `DROP TRIGGER commitments_append_only_truncate ON commitments`,
		`DROP TABLE commitment_ends`, `DROP FUNCTION abacus_commitments_append_only`}
	undo0025 = slices.Concat(undo0026, []string{
		`CREATE TEMPORARY TABLE paid_by_month AS SELECT account_id, currency, period,
			sum(cash)::bigint AS cash, sum(bonus)::bigint AS bonus, sum(voucher)::bigint AS voucher FROM usage_paid GROUP BY 1, 2, 3`,
		`DELETE FROM usage_paid`,
		`ALTER TABLE usage_paid DROP CONSTRAINT usage_paid_pkey, DROP COLUMN resource_id, ADD PRIMARY KEY (account_id, currency, period)`,
		`INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher) SELECT * FROM paid_by_month`,
		`DROP TABLE paid_by_month`,
	})
	undo0024 = slices.Concat(undo0025, []string{`DROP TABLE billing_zone`})
	undo0023 = slices.Concat(undo0024, []string{`ALTER TABLE usage_rollups DROP COLUMN unpriced_quantity, DROP COLUMN unpriced_events`})
	undo0017 = slices.Concat(undo0023, []string{`ALTER TABLE usage_counters DROP COLUMN price_id`})
	undo0015 = slices.Concat(undo0017, []string{`ALTER TABLE usage_events DROP COLUMN uncommitted`}) // its index goes with it
	undo0014 = slices.Concat(undo0015, []string{`ALTER TABLE dead_letters DROP COLUMN published_at`})
	undo0013 = slices.Concat(undo0014, []string{`ALTER TABLE usage_events DROP COLUMN drawn_estimated`, `DROP TABLE usage_paid`})
	undo0011 = slices.Concat(undo0013, []string{
		`ALTER TABLE usage_events DROP COLUMN cost`,
		`DROP TABLE usage_reprices`,
		`DROP INDEX prices_key`,
		`ALTER TABLE prices DROP COLUMN revision`,
		`CREATE UNIQUE INDEX prices_key ON prices (sku_type, sku_kind, resource_id, unit_type, currency, valid_from)`,
	})
)

// TestMigrationNetsOldVoids: events voided before 0013 kept what their
// charge drew; the migration takes their refunds off it as the void split
// them, and marks the split an estimate. It sums what the events paid,
// net, per account, currency and month into usage_paid: UTC months,
// whatever the session's time zone (here 14 hours ahead of UTC, where the
// last microsecond of October is already in November).
func TestMigrationNetsOldVoids(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t)+"&timezone=Pacific/Kiritimati")
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(undo0013,
		`DELETE FROM schema_migrations WHERE version >= 13`,
		`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES ('whole', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-31T23:59:59.999999Z', now(), '', 'voided', 'USD', 16000000, 6000000, 0, 10000000, '1', 16000000),
			('part', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-31T23:59:59.999999Z', now(), '', 'voided', 'USD', 16000000, 6000000, 0, 10000000, '1', 12000000),
			('beyond', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-31T23:59:59.999999Z', now(), '', 'voided', 'USD', 8000000, 0, 0, 8000000, '1', 12000000),
			('cost', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-31T23:59:59.999999Z', now(), '', 'voided', 'USD', -2000000, -2000000, 0, 0, '1', -2000000),
			('kept', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-31T23:59:59.999999Z', now(), '', 'charged', 'USD', 16000000, 6000000, 0, 10000000, '1', 0),
			('next', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-11-01T00:00:00Z', now(), '', 'charged', 'USD', 6000000, 1000000, 2000000, 3000000, '1', 0)`,
	) {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckNettedVoids(t, s)
}

// TestMigrationRepairsUsagePaid: a database that ran 0013 before usage_paid
// was added to it has no such table; 0016 makes it and fills it from the
// events, and leaves a table 0013 made as it is.
func TestMigrationRepairsUsagePaid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES ('e1', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 16000000, 6000000, 0, 10000000, '1', 0),
			('e2', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 3000000, 1000000, 2000000, 0, '1', 0)`,
		strings.Join(undo0017, "; "),
		`DROP TABLE usage_paid`,
		`DELETE FROM schema_migrations WHERE version >= 16`,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second time the table is there: left as it is, not added to again
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var cash, bonus, voucher int64
		if err := s.Pool().QueryRow(ctx, `SELECT cash, bonus, voucher FROM usage_paid WHERE account_id = 'a'`).Scan(&cash, &bonus, &voucher); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(cash, bonus, voucher); got != "7000000 2000000 10000000" {
			t.Fatalf("usage_paid after the repair: %s, want 7000000 2000000 10000000", got)
		}
		if _, err := s.Pool().Exec(ctx, strings.Join(undo0017, "; ")+`; DELETE FROM schema_migrations WHERE version >= 16`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrationMarksOldDeadLettersPublished: a dead letter stored before
// 0014 was published right after it was recorded; the migration marks it
// published then, so that a replay of its message does not publish it
// again.
func TestMigrationMarksOldDeadLettersPublished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 11, 1, 12, 30, 0, 123456000, time.UTC)
	for _, q := range append(undo0014, `DELETE FROM schema_migrations WHERE version >= 14`) {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO dead_letters (key, source, subject, reason, payload, received_at)
		VALUES ('nats:s:d:1:1', 'nats', 'accounting.metering.duration', 'body: is not valid JSON', '\x7b', $1)`, received); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checkApplied(t, s)
	ds, err := s.DeadLetters(ctx, 0, 10)
	if err != nil || len(ds) != 1 || !ds[0].ReceivedAt.Equal(received) || !ds[0].PublishedAt.Equal(received) {
		t.Fatalf("dead letters after the migration: %+v %v; want one published at %v", ds, err, received)
	}
	// Under the key the consumer makes now, without the durable (0027).
	published, err := s.DeadLetterAdd(ctx, abacus.DeadLetter{Key: "nats:s:1:1", Source: "nats", Subject: "accounting.metering.duration",
		Reason: "body: is not valid JSON", Payload: []byte("{"), ReceivedAt: received.Add(time.Hour)})
	if err != nil || !published {
		t.Fatalf("the old dead letter added again: published %v, %v; want true", published, err)
	}
}

// TestMigrationKeysDeadLettersWithoutTheDurable: 0027 takes the durable's
// name out of the NATS dead letters' keys, so that a durable of another
// name knows them; of a message two durables recorded, the first letter
// keeps the key and the other stays listed without one.
func TestMigrationKeysDeadLettersWithoutTheDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range storetest.DeadLetterKeys0027 {
		var key any // NULL for ""
		if k.Before != "" {
			key = k.Before
		}
		if _, err := s.Pool().Exec(ctx, `INSERT INTO dead_letters (key, source, subject, reason, payload, received_at, published_at)
			VALUES ($1, 'nats', 's', 'bad', '\x7b', now(), CASE WHEN $2 THEN now() END)`, key, k.Published); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `DELETE FROM schema_migrations WHERE version >= 27`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checkApplied(t, s)
	storetest.CheckDeadLetterKeys0027(t, s)
}

// TestMigrationKeepsOldVoids: a void made before events recorded their
// refund gave back what the event was charged, and the migration that
// adds the record says so. The migration that records the latest event
// each price version charged fills it from the events stored before it,
// and the one that gives versions a revision keeps those stored at 0.
func TestMigrationKeepsOldVoids(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// The schema as it was before 0005, holding a voided and a charged
	// event and the price that charged them.
	for _, q := range append(undo0011,
		`ALTER TABLE usage_events DROP COLUMN refunded`,
		`DROP TABLE price_uses`,
		`DELETE FROM schema_migrations WHERE version >= 5`,
		`INSERT INTO prices (id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from, created_at)
		VALUES (1, 1, 1, 'gpu', 'minute', 'USD', 1, 'per_unit', '0.5', '{}', '', '2026-11-01T00:00:00Z', now())`,
		`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id, event_time,
			received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, void_tx_id)
		VALUES ('old', 'a', 11, 0, 4, '', 'gpu', '', 's', '2026-11-01T00:00:09Z', now(), '', 'voided', 'USD', 2000000, 2000000, 0, 0, '1', 1, 2),
			('kept', 'a', 11, 0, 4, '', 'gpu', '', 's', '2026-11-01T00:00:05Z', now(), '', 'charged', 'USD', 2000000, 2000000, 0, 0, '1,2', 1, NULL),
			('none', 'a', 11, 0, 4, '', 'gpu', '', 's', '2026-11-01T00:00:20Z', now(), '', 'unpriced', 'USD', 0, 0, 0, 0, '', NULL, NULL)`,
	) {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, abacus.EventQuery{IDs: []string{"old", "kept"}, Limit: 3})
	if err != nil || len(evs) != 2 || evs[0].Refunded.String() != "2" || !evs[1].Refunded.IsZero() {
		t.Fatalf("%+v %v", evs, err)
	}
	var uses string
	if err := s.Pool().QueryRow(ctx, `SELECT string_agg(price_id || '@' || shard || ':' || to_char(latest AT TIME ZONE 'UTC', 'HH24:MI:SS'), ' ' ORDER BY price_id)
		FROM price_uses`).Scan(&uses); err != nil || uses != "1@0:00:00:09 2@0:00:00:05" {
		t.Fatalf("price uses %q, want the latest charged event of each: %v", uses, err)
	}
	book, err := s.PriceBookLoad(ctx)
	if err != nil || len(book.Prices) != 1 || book.Prices[0].ID != 1 || book.Prices[0].Revision != 0 {
		t.Fatalf("the book after the migrations: %+v %v, want the old price at revision 0", book, err)
	}
	if evs[0].Cost.Valid || evs[1].Cost.Valid {
		t.Fatalf("events stored before 0012 have costs %v and %v, want them unknown", evs[0].Cost, evs[1].Cost)
	}
}

// TestWritePlansProbeIndexes: the statements of a write batch find rows
// through indexes even when their plans were made while the tables were
// empty and the statistics are stale, as in a new database under its first
// load. A scan there would read the whole table in every batch. (The plans
// are looked at in a write transaction, as a batch runs them: a plan
// invalidated meanwhile is made again there.)
func TestWritePlansProbeIndexes(t *testing.T) {
	ctx := t.Context()
	// One connection, whose statements keep the plan made at their first
	// run, as PostgreSQL does when custom plans look no cheaper.
	s, err := postgres.Open(ctx, testdb.PostgresSchemaURL(t)+"&plan_cache_mode=force_generic_plan", postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tiered := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD", Unit: 1,
		Model: abacus.ModelGraduated, ValidFrom: at, CreatedAt: at, Tiers: []abacus.PriceTier{
			{UpTo: 10, UnitPrice: decimal.RequireFromString("0.5")}, {UnitPrice: decimal.RequireFromString("0.25")}}}
	if err := s.PriceBookAdd(ctx, []abacus.Price{tiered}, nil); err != nil {
		t.Fatal(err)
	}
	e := ledger.New(s, ledger.Config{})
	defer e.Close()
	ev := abacus.UsageEvent{ID: "first", Account: "be000000-0000-4000-8000-000000000001", Value: 3, Scene: 11, ResourceID: "gpu", Time: at}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if rs, err := e.Ingest(ctx, []abacus.UsageEvent{ev}); err != nil || rs[0].Status != abacus.IngestAccepted {
		t.Fatalf("ingest: %+v %v", rs, err)
	}
	// The tables grow, with no ANALYZE.
	for _, grow := range []string{
		`INSERT INTO accounts (id, kind, name, currency, created_at) SELECT 'grown-' || i, 'user', '', 'USD', now() FROM generate_series(1, 20000) i`,
		`INSERT INTO wallets (account_id, bucket, currency) SELECT 'grown-' || i, 'cash', 'USD' FROM generate_series(1, 20000) i`,
		`INSERT INTO usage_counters (account_id, price_key, currency, period, quantity)
			SELECT 'grown-' || i, 'k', 'USD', now(), 1 FROM generate_series(1, 20000) i`,
		`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
			event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
			SELECT 'grown-' || i, 'grown-' || i, 11, 0, 1, '', 'gpu', '', '', now(), now(), '{}', 'charged', 'USD', 0, 0, 0, 0, ''
			FROM generate_series(1, 20000) i`,
	} {
		if _, err := s.Pool().Exec(ctx, grow); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ table, statement, args string }{
		{"usage_counters", "%FROM usage_counters c%", `'{a}', '{k}', '{USD}', '{2026-11-01}'`},
		{"wallets", "%UPDATE wallets w SET balance%", `'{1}', '{0}', '{0}', '{1}', 1`},
		{"usage_events", "SELECT seq, id, %FROM usage_events WHERE id = ANY($1)", `'{a}'`},
	} {
		var name string
		err := s.Pool().QueryRow(ctx, `SELECT name FROM pg_prepared_statements WHERE statement LIKE $1`, c.statement).Scan(&name)
		if err != nil {
			t.Fatalf("the batch's statement %q: %v", c.statement, err)
		}
		var plan []string
		err = s.Write(ctx, func(tx abacus.WriteTx) (err error) {
			plan, err = postgres.ExplainInWrite(ctx, tx, `EXECUTE `+pgx.Identifier{name}.Sanitize()+`(`+c.args+`)`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan on "+c.table) {
			t.Errorf("the batch's statement %q scans %s:\n%s", c.statement, c.table, text)
		}
	}
}

// TestPriceBookWaitsForRating: a price version is added only once the
// usage batches that rated with the book before it have committed, so the
// check of the latest event charged under its key sees theirs too. (Here
// the batch commits an event charged at the version's own valid_from
// while the import waits, and the import is then refused.)
func TestPriceBookWaitsForRating(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	jan := func(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }
	gpu := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(1, -2), ValidFrom: jan(1), CreatedAt: jan(1)}
	if err := s.PriceBookAdd(ctx, []abacus.Price{gpu}, nil); err != nil {
		t.Fatal(err)
	}
	book, err := s.PriceBookLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := gpu
	next.ValidFrom, next.UnitPrice = jan(10), decimal.New(2, -2)
	imported := make(chan error, 1)
	err = s.Write(ctx, func(tx abacus.WriteTx) error {
		if _, err := tx.ReadBatch(ctx, abacus.BatchReads{Book: true}); err != nil {
			return err
		}
		go func() { imported <- s.PriceBookAdd(ctx, []abacus.Price{next}, nil) }()
		select {
		case err := <-imported:
			return fmt.Errorf("the import finished (%v) while a batch that read the old book was open", err)
		case <-time.After(300 * time.Millisecond):
		}
		return tx.Commit(ctx, &abacus.Changes{PriceUses: []abacus.PriceUse{{PriceID: book.Prices[0].ID, Shard: 2, Latest: jan(10)}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var ae *abacus.Error
	if err := <-imported; !errors.As(err, &ae) || ae.Field != "prices[0].valid_from" {
		t.Fatalf("the import after the batch committed: %v, want it refused", err)
	}
}

// TestStatusListingsUseTheirIndexes: the unpriced and the voided events
// are listed through their partial indexes, not by reading every event
// stored after the page's start (they are a few among many), even in the
// generic plan a connection may settle on for a statement it runs often.
func TestStatusListingsUseTheirIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
		SELECT 'e' || i, 'a' || i % 100, 11, 0, 1, '', 'gpu', '', 's', now(), now(), '',
			CASE WHEN i % 1000 = 1 THEN 'unpriced' WHEN i % 1000 = 2 THEN 'voided' ELSE 'charged' END, 'USD', 0, 0, 0, 0, ''
		FROM generate_series(1, 20000) i;
		ANALYZE usage_events`); err != nil {
		t.Fatal(err)
	}
	for status, index := range map[abacus.EventStatus]string{abacus.EventUnpriced: "usage_events_unpriced", abacus.EventVoided: "usage_events_voided"} {
		plan, err := postgres.EventsPlan(ctx, s, abacus.EventQuery{Status: status, AfterSeq: 7, Limit: 100})
		if err != nil || !strings.Contains(strings.Join(plan, "\n"), " using "+index+" ") {
			t.Errorf("%s events: %v\n%s\nwant %s", status, err, strings.Join(plan, "\n"), index)
		}
	}
}

// TestMigrationLearnsCounterVersions: 0017 gives each counter the version
// that charged the latest event it counts: of its account, currency, month
// and key, stored last, charged (not voided), at a counted price. A key's
// unit type is counted in bytes, as the ledger spells it.
func TestMigrationLearnsCounterVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(undo0017,
		`DELETE FROM schema_migrations WHERE version >= 17`,
		`INSERT INTO prices (id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from, created_at, revision)
		VALUES (1, 1, 1, 'gpu', 'minute', 'USD', 1, 'graduated', '0', '{}', '', '2026-01-01T00:00:00Z', now(), 0),
			(2, 1, 1, 'gpu', 'minute', 'USD', 1, 'graduated', '0', '{}', '', '2026-01-01T00:00:00Z', now(), 1),
			(3, 1, 1, 'cpu', 'minute', 'USD', 1, 'per_unit', '1', '{}', '', '2026-01-01T00:00:00Z', now(), 0),
			(4, 1, 1, 'npu', 'minüte', 'USD', 1, 'volume', '0', '{}', '', '2026-01-01T00:00:00Z', now(), 0)`,
		`INSERT INTO usage_events (seq, id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES (1, 'e1', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '3,1', 0),
			(2, 'e2', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '2', 0),
			(3, 'e3', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'voided', 'USD', 0, 0, 0, 0, '1', 0),
			(4, 'e4', 'b', 11, 0, 1, '', 'gpu', '', 's', '2026-09-30T23:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '1', 0),
			(5, 'e5', 'a', 11, 0, 1, '', 'npu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '4', 0)`,
		`INSERT INTO usage_counters (account_id, price_key, currency, period, quantity)
		VALUES ('a', '1|1|6:minute|gpu', 'USD', '2026-10-01T00:00:00Z', 2), ('b', '1|1|6:minute|gpu', 'USD', '2026-09-01T00:00:00Z', 1),
			('a', '1|1|7:minüte|npu', 'USD', '2026-10-01T00:00:00Z', 1), ('a', '1|1|6:minute|tpu', 'USD', '2026-10-01T00:00:00Z', 5)`,
	) {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := s.Pool().QueryRow(ctx, `SELECT string_agg(account_id || ':' || price_key || '=' || COALESCE(price_id::text, 'null'), ' ' ORDER BY account_id, price_key COLLATE "C")
		FROM usage_counters`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "a:1|1|6:minute|gpu=2 a:1|1|6:minute|tpu=null a:1|1|7:minüte|npu=4 b:1|1|6:minute|gpu=1"; got != want {
		t.Fatalf("counters after 0017: %s\nwant %s", got, want)
	}
}

// TestMigrationMarksSharedCarryMonths: 0018 keeps a carry per account and
// month, and marks the months with usage of an account that had a carry,
// one across its months, as shared; another account's months are not.
func TestMigrationMarksSharedCarryMonths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(undo0023),
		`DROP TABLE usage_carry_periods`,
		`DELETE FROM schema_migrations WHERE version >= 18`,
		`INSERT INTO usage_events (seq, id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES (1, 'e1', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-09-30T23:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '1', 0),
			(2, 'e2', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'voided', 'USD', 0, 0, 0, 0, '1', 0),
			(3, 'e3', 'a', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '1', 0),
			(4, 'e4', 'b', 11, 0, 1, '', 'gpu', '', 's', '2026-10-15T00:00:00Z', now(), '', 'charged', 'USD', 0, 0, 0, 0, '1', 0)`,
		`INSERT INTO usage_carry (account_id, residue) VALUES ('a', '0.0000003')`,
	) {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := s.Pool().QueryRow(ctx, `SELECT string_agg(account_id || ':' || to_char(period AT TIME ZONE 'UTC', 'YYYY-MM') || ':' || residue || ':' || shared::text, ' '
		ORDER BY account_id, period) FROM usage_carry_periods`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "a:2026-09:0:true a:2026-10:0:true"; got != want {
		t.Fatalf("carries after 0018: %s\nwant %s", got, want)
	}
}

// TestPoolSizeFromTheURL: pool_max_conns in the URL bounds the
// connections a process keeps; without it, 16. Before, 16 always: QA ran
// twelve processes and the server ran out of connections, with no way
// to ask for fewer.
func TestPoolSizeFromTheURL(t *testing.T) {
	url := testdb.PostgresSchemaURL(t)
	if got := postgres.MaxConns(open(t, url)); got != 16 {
		t.Fatalf("pool of %d by default, want 16", got)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	if got := postgres.MaxConns(open(t, url+sep+"pool_max_conns=3")); got != 3 {
		t.Fatalf("pool of %d with pool_max_conns=3", got)
	}
}

// TestOpenTakesTheSchemeInAnyCase: a URL's scheme is case-insensitive;
// pgx had read POSTGRES://… as a key=value string and connected to the
// local socket as the operating system's user (QA).
func TestOpenTakesTheSchemeInAnyCase(t *testing.T) {
	ctx := context.Background()
	url := testdb.PostgresSchemaURL(t)
	schemaOf := func(s *postgres.Store) string {
		var schema string
		if err := s.Pool().QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		return schema
	}
	want := schemaOf(open(t, url))
	_, rest, ok := strings.Cut(url, "://")
	if !ok {
		t.Fatalf("%s is not a URL", url)
	}
	for _, scheme := range []string{"POSTGRES", "PostgreSQL"} {
		if got := schemaOf(open(t, scheme+"://"+rest)); got != want {
			t.Fatalf("%s://…: schema %q, want %q", scheme, got, want)
		}
	}
}

// TestEventsListingWaitsForBatchesInFlight: a batch that took lower seqs
// and commits after one with higher seqs does not go unseen by a client
// paging all accounts' events by seq: the listing waits for it. Before, a
// page read in between returned the later batch's events, and the
// client's next page started past the earlier batch's.
func TestEventsListingWaitsForBatchesInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	event := func(id string) *abacus.Changes {
		at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		return &abacus.Changes{Events: []abacus.StoredEvent{{
			UsageEvent: abacus.UsageEvent{ID: id, Account: "a", Value: 1, Scene: 11, ResourceID: "gpu", CustomerID: "s", Time: at},
			Status:     abacus.EventUnpriced, ReceivedAt: at, Currency: "USD",
		}}}
	}
	listingWaitsForWritesInFlight(t,
		func(hold func()) error {
			return s.Write(ctx, func(tx abacus.WriteTx) error {
				if _, err := tx.ReadBatch(ctx, abacus.BatchReads{Book: true}); err != nil { // the book's lock, shared
					return err
				}
				if err := tx.Apply(ctx, event("first")); err != nil {
					return err
				}
				hold()
				return nil
			})
		},
		// Not through the book's lock: see listingWaitsForWritesInFlight.
		func() error {
			return s.Write(ctx, func(tx abacus.WriteTx) error { return tx.Apply(ctx, event("second")) })
		},
		func() ([]abacus.StoredEvent, error) { return s.Events(ctx, abacus.EventQuery{Limit: 10}) },
		func(e abacus.StoredEvent) string { return e.ID })
}

// TestDeadLetterListingWaitsForInsertsInFlight: a page of dead letters
// is read once the inserts in flight have committed, so a client paging
// by id never passes a letter that commits after a higher one. Several
// processes dead-lettering at once had made a follower of the list miss
// 475 of 60,000 (QA).
func TestDeadLetterListingWaitsForInsertsInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	letter := func(key string) abacus.DeadLetter {
		return abacus.DeadLetter{Key: key, Source: "nats", Subject: "s", Reason: "bad", Payload: []byte("{}"), ReceivedAt: time.Now()}
	}
	listingWaitsForWritesInFlight(t,
		func(hold func()) error {
			_, err := postgres.DeadLetterAddHeld(ctx, s, letter("first"), hold)
			return err
		},
		func() error { _, err := s.DeadLetterAdd(ctx, letter("second")); return err },
		func() ([]abacus.DeadLetter, error) { return s.DeadLetters(ctx, 0, 10) },
		func(d abacus.DeadLetter) string { return d.Key })
}

// TestOutboxListingWaitsForBatchesInFlight: a page of the outbox is read
// once the batches writing messages have committed, so a client paging by
// id never passes a message that commits after a higher one.
func TestOutboxListingWaitsForBatchesInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	message := func(account string) *abacus.Changes {
		return &abacus.Changes{Outbox: []abacus.OutboxMessage{{Kind: "low_balance", Account: abacus.AccountID(account), Payload: "{}", CreatedAt: time.Now()}}}
	}
	listingWaitsForWritesInFlight(t,
		func(hold func()) error {
			return s.Write(ctx, func(tx abacus.WriteTx) error {
				if err := tx.Apply(ctx, message("first")); err != nil {
					return err
				}
				hold()
				return nil
			})
		},
		func() error {
			return s.Write(ctx, func(tx abacus.WriteTx) error { return tx.Apply(ctx, message("second")) })
		},
		func() ([]abacus.OutboxMessage, error) { return s.Outbox(ctx, 0, 10) },
		func(o abacus.OutboxMessage) string { return string(o.Account) })
}

// migrated opens a fresh, migrated store in a schema of its own.
func migrated(t *testing.T) *postgres.Store {
	t.Helper()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// listingWaitsForWritesInFlight checks that a listing paged by position
// waits for the writes in flight: first writes "first" and calls hold
// before it commits, second then writes "second" and commits (a higher
// position), and list, called meanwhile, must answer only once first has
// committed, with both in order; name says which an item is.
//
// The lock first holds is every test database's, so first always ends
// however the test does. second runs before list asks for the lock:
// queued behind list's exclusive request, it would wait for first, which
// waits for the test (a wait PostgreSQL cannot see).
func listingWaitsForWritesInFlight[T any](t *testing.T, first func(hold func()) error, second func() error, list func() ([]T, error), name func(T) string) {
	t.Helper()
	inserted, release, firstDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	releaseFirst := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseFirst)
	go func() { firstDone <- first(func() { close(inserted); <-release }) }()
	<-inserted
	if err := second(); err != nil {
		t.Fatal(err)
	}
	listed := make(chan []T, 1)
	go func() {
		items, err := list()
		if err != nil {
			t.Error(err)
		}
		listed <- items
	}()
	select {
	case items := <-listed:
		releaseFirst()
		<-firstDone
		t.Fatalf("the listing answered %d items while a write with lower positions was in flight", len(items))
	case <-time.After(300 * time.Millisecond):
	}
	releaseFirst()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	items := <-listed
	if len(items) != 2 || name(items[0]) != "first" || name(items[1]) != "second" {
		t.Fatalf("listed %+v, want first and second, in order", items)
	}
}

// atVersion opens a store on a fresh schema at schema version v, as an
// abacus of that version left it.
func atVersion(t *testing.T, v int) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `CREATE TABLE schema_migrations (version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:v] {
		if _, err := s.Pool().Exec(ctx, m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestMigrationSettlesPriceCopies: a price book that imports which raced
// stored twice, before versions were unique, loses the copies no event
// names and migrates; one whose copies differ is refused before any
// migration, naming them, and stays as the abacus that made it left it
// (QA: 0008's unique index failed with 0007 applied, and neither abacus
// would open the database).
func TestMigrationSettlesPriceCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const price = `INSERT INTO prices (id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from, created_at)
		VALUES ($1, 1, 1, $2, 'minute', 'USD', 1, 'per_unit', $3, '{}', '', '2026-11-01T00:00:00Z', now())`
	s := atVersion(t, 6)
	for _, p := range [][]any{{1, "gpu", "0.5"}, {2, "gpu", "0.5"}, {3, "cpu", "0.1"}, {4, "cpu", "0.1"}, {5, "cpu", "0.1"}, {6, "disk", "1"}} {
		if _, err := s.Pool().Exec(ctx, price, p...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id, event_time,
		received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, void_tx_id)
		VALUES ('e', 'a', 11, 0, 4, '', 'cpu', '', 's', '2026-11-01T00:00:09Z', now(), '', 'charged', 'USD', 400000, 400000, 0, 0, '6,4', 1, NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var ids string
	if err := s.Pool().QueryRow(ctx, `SELECT string_agg(id::text, ',' ORDER BY id) FROM prices`).Scan(&ids); err != nil || ids != "1,4,6" {
		t.Fatalf("prices %q (%v), want the first gpu copy, the cpu copy the event names, and disk", ids, err)
	}

	s = atVersion(t, 7)
	for _, p := range [][]any{{1, "gpu", "0.5"}, {2, "gpu", "0.6"}} {
		if _, err := s.Pool().Exec(ctx, price, p...); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), `resource_id "gpu", sku_unit_type "minute", USD, valid from 2026-11-01T00:00:00Z: versions 1, 2 differ`) ||
		!strings.Contains(err.Error(), "Nothing was changed") {
		t.Fatalf("Migrate: %v", err)
	}
	var have, n int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT max(version) FROM schema_migrations), (SELECT count(*) FROM prices)`).Scan(&have, &n); err != nil || have != 7 || n != 2 {
		t.Fatalf("after the refusal: version %d, %d prices (%v)", have, n, err)
	}
}

// TestMigrationCountsUnpricedRollups: 0023 gives each rollup the usage and
// count of its unpriced events, from the events stored, and 0 where all
// are priced; a voided event counts in neither.
func TestMigrationCountsUnpricedRollups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := atVersion(t, 22)
	at := func(hhmm string) time.Time {
		ts, err := time.Parse(time.RFC3339, "2026-11-01T"+hhmm+":00Z")
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	for _, e := range []struct {
		id, status string
		value      int64
		time       string
	}{{"e1", "unpriced", 3, "10:00"}, {"e2", "unpriced", 4, "10:05"}, {"e3", "charged", 5, "10:10"}, {"e4", "voided", 9, "10:20"}, {"e5", "unpriced", 2, "10:29"}, {"e6", "charged", 5, "11:00"}} {
		if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
			VALUES ($1, 'a', 11, 0, $2, '', 'gpu', '', 's', $3, now(), '', $4, 'USD', 0, 0, 0, 0, '', 0)`, e.id, e.value, at(e.time), e.status); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		bucket           string
		quantity, events int64
	}{{"10:00", 12, 3}, {"10:15", 2, 1}, {"11:00", 5, 1}} {
		if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_rollups (account_id, bucket, scene, resource_id, customer_id, currency, quantity, amount, events)
			VALUES ('a', $1, 11, 'gpu', 's', 'USD', $2, 0, $3)`, at(r.bucket), r.quantity, r.events); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows := testdb.Rollups(t, s, abacus.RollupQuery{Account: "a", From: at("00:00"), To: at("12:00")})
	if len(rows) != 3 {
		t.Fatalf("%+v", rows)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s:%d/%d", r.Bucket.UTC().Format("15:04"), r.UnpricedQuantity, r.UnpricedEvents))
	}
	if want := "10:00:7/2 10:15:2/1 11:00:0/0"; strings.Join(got, " ") != want {
		t.Fatalf("unpriced usage after 0023: %s, want %s", strings.Join(got, " "), want)
	}
}

// TestMigrationSplitsPaidByResource: 0025 keeps what the buckets paid per
// resource, from the events, each in the month its account's sums or
// counters say (the months of the billing zone), or its UTC month.
func TestMigrationSplitsPaidByResource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.PostgresSchemaURL(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m := storetest.PaidByResourceMonths
	for _, q := range append(undo0025, `DELETE FROM schema_migrations WHERE version >= 25`, `UPDATE billing_zone SET zone = 'Asia/Shanghai'`) {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher)
		VALUES ('a', 'USD', $1, 1000000, 0, 0), ('a', 'USD', $2, 6000000, 1000000, 10000000)`, m.Oct, m.Nov); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_counters (account_id, price_key, currency, period, quantity) VALUES ('a', 'k', 'USD', $1, 1)`, m.Dec); err != nil {
		t.Fatal(err)
	}
	for _, e := range storetest.PaidByResourceEvents {
		if _, err := s.Pool().Exec(ctx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
			VALUES ($1, $2, 11, 0, 1, '', $3, '', 's', $4, now(), '', 'charged', 'USD', $5, $6, $7, $8, '1', 0)`,
			e.ID, e.Account, e.Resource, e.Time, e.Cash+e.Bonus+e.Voucher, e.Cash, e.Bonus, e.Voucher); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckPaidByResource(t, s)
}
