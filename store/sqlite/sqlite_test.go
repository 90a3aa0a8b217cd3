package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store"
	"github.com/abacus-billing/abacus/store/sqlite"
	"github.com/abacus-billing/abacus/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) abacus.Store { return testdb.SQLite(t) })
}

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// applied returns the rows of schema_migrations.
func applied(t *testing.T, path string) []store.Migration {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []store.Migration
	for rows.Next() {
		var m store.Migration
		if err := rows.Scan(&m.Version, &m.Name); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkApplied(t *testing.T, path string) {
	t.Helper()
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	got := applied(t, path)
	if len(got) != len(ms) {
		t.Fatalf("schema_migrations has %+v, want every one of %d migrations once", got, len(ms))
	}
	for i, m := range ms {
		if got[i].Version != m.Version || got[i].Name != m.Name {
			t.Fatalf("schema_migrations row %d is %d %s, want %d %s", i, got[i].Version, got[i].Name, m.Version, m.Name)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := testdb.SQLitePath(t)
	s := open(t, path)
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	have, know, err := s.SchemaVersion(ctx)
	if err != nil || have != 0 || know != len(ms) {
		t.Fatalf("SchemaVersion of a new database: %d, %d, %v; want 0, %d", have, know, err, len(ms))
	}
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		checkApplied(t, path)
	}
	have, know, err = s.SchemaVersion(ctx)
	if err != nil || have != len(ms) || know != len(ms) {
		t.Fatalf("SchemaVersion: %d, %d, %v; want %d, %d", have, know, err, len(ms), len(ms))
	}
	// Another process starting on the migrated file.
	s2 := open(t, path)
	if err := s2.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from a second store: %v", err)
	}
	checkApplied(t, path)
}

func TestMigrateTooNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := testdb.SQLitePath(t)
	s := open(t, path)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ms, _ := sqlite.Migrations()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)`, len(ms)+1)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = s.Migrate(ctx)
	var tooNew store.ErrSchemaTooNew
	if !errors.As(err, &tooNew) || tooNew.Have != len(ms)+1 || tooNew.Know != len(ms) {
		t.Fatalf("Migrate on a newer schema: %v, want ErrSchemaTooNew{%d, %d}", err, len(ms)+1, len(ms))
	}
	have, know, err := s.SchemaVersion(ctx)
	if err != nil || have != len(ms)+1 || know != len(ms) {
		t.Fatalf("SchemaVersion: %d, %d, %v", have, know, err)
	}
}

// TestMigrateConcurrent starts several stores on one new file at once, as
// several processes would: each Migrate succeeds and each migration runs once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	path := testdb.SQLitePath(t)
	const n = 6
	stores := make([]*sqlite.Store, n)
	for i := range stores {
		stores[i] = open(t, path)
	}
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = stores[i%n].Migrate(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	checkApplied(t, path)
	if _, _, err := stores[0].AccountCreate(context.Background(), abacus.Account{
		ID: "11111111-1111-1111-1111-111111111111", Kind: abacus.KindUser, Currency: "USD",
	}); err != nil {
		t.Fatalf("the migrated database does not work: %v", err)
	}
}

// migratedWithSQL returns a migrated store, a plain connection to its
// file and its path, for tests that set up what an older schema held.
func migratedWithSQL(t *testing.T) (*sqlite.Store, *sql.DB, string) {
	t.Helper()
	path := testdb.SQLitePath(t)
	s := open(t, path)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, db, path
}

// TestMigrationKeepsOldVoids: a void made before events recorded their
// refund gave back what the event was charged, and the migration that
// adds the record says so. The migration that records the latest event
// each price version charged fills it from the events stored before it,
// and the one that gives versions a revision keeps those stored at 0.
func TestMigrationKeepsOldVoids(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, _ := migratedWithSQL(t)
	// The schema as it was before 0005, holding a voided and a charged
	// event and the price that charged them.
	_, err := db.ExecContext(ctx, undo0011+`ALTER TABLE usage_events DROP COLUMN refunded;
		DROP TABLE price_uses;
		DELETE FROM schema_migrations WHERE version >= 5;
		INSERT INTO prices (id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from, created_at)
		VALUES (1, 1, 1, 'gpu', 'minute', 'USD', 1, 'per_unit', '0.5', '{}', '', 0, 0);
		INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id, event_time,
			received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, void_tx_id)
		VALUES ('old', 'a', 11, 0, 4, '', 'gpu', '', 's', 9, 0, '', 'voided', 'USD', 2000000, 2000000, 0, 0, '1', 1, 2),
			('kept', 'a', 11, 0, 4, '', 'gpu', '', 's', 5, 0, '', 'charged', 'USD', 2000000, 2000000, 0, 0, '1,2', 1, NULL),
			('none', 'a', 11, 0, 4, '', 'gpu', '', 's', 20, 0, '', 'unpriced', 'USD', 0, 0, 0, 0, '', NULL, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, abacus.EventQuery{IDs: []string{"old", "kept"}, Limit: 3})
	if err != nil || len(evs) != 2 || evs[0].Refunded.String() != "2" || !evs[1].Refunded.IsZero() {
		t.Fatalf("%+v %v", evs, err)
	}
	var uses string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(price_id || '@' || shard || ':' || latest, ' ') FROM
		(SELECT * FROM price_uses ORDER BY price_id)`).Scan(&uses); err != nil || uses != "1@0:9 2@0:5" {
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

// undo0011 takes a migrated database back to before 0011 (and those
// after it), for tests that rewind further: a column an index uses cannot
// be dropped.
const undo0011 = undo0013 + `ALTER TABLE usage_events DROP COLUMN cost;
	DROP TABLE usage_reprices;
	DROP INDEX prices_key;
	ALTER TABLE prices DROP COLUMN revision;
	CREATE UNIQUE INDEX prices_key ON prices (sku_type, sku_kind, resource_id, unit_type, currency, valid_from);
	`

// undo0013 takes a migrated database back to before 0013 (and 0014).
const undo0013 = undo0014 + `ALTER TABLE usage_events DROP COLUMN drawn_estimated;
	DROP TABLE usage_paid;
	DELETE FROM schema_migrations WHERE version >= 13;
	`

// undo0014 takes a migrated database back to before 0014 (and 0015).
const undo0014 = undo0015 + `ALTER TABLE dead_letters DROP COLUMN published_at;
	DELETE FROM schema_migrations WHERE version >= 14;
	`

// undo0015 takes a migrated database back to before 0015 (and 0017).
const undo0015 = undo0017 + `DROP INDEX usage_events_uncommitted;
	ALTER TABLE usage_events DROP COLUMN uncommitted;
	DELETE FROM schema_migrations WHERE version >= 15;
	`

// undo0017 takes a migrated database back to before 0017 (and 0023).
const undo0017 = undo0023 + `ALTER TABLE usage_counters DROP COLUMN price_id;
	DELETE FROM schema_migrations WHERE version >= 17;
	`

// undo0023 takes a migrated database back to before 0023 (and 0024).
const undo0023 = undo0024 + `ALTER TABLE usage_rollups DROP COLUMN unpriced_quantity;
	ALTER TABLE usage_rollups DROP COLUMN unpriced_events;
	DELETE FROM schema_migrations WHERE version >= 23;
	`

// TestMigrationMarksOldDeadLettersPublished: a dead letter stored before
// 0014 was published right after it was recorded; the migration marks it
// published then, so that a replay of its message does not publish it
// again.
func TestMigrationMarksOldDeadLettersPublished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, path := migratedWithSQL(t)
	received := time.Date(2026, 11, 1, 12, 30, 0, 123456000, time.UTC)
	_, err := db.ExecContext(ctx, undo0014+`INSERT INTO dead_letters (key, source, subject, reason, payload, received_at)
		VALUES ('nats:s:d:1:1', 'nats', 'accounting.metering.duration', 'body: is not valid JSON', X'7B', ?)`, received.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checkApplied(t, path)
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
	s, db, path := migratedWithSQL(t)
	for _, k := range storetest.DeadLetterKeys0027 {
		if _, err := db.ExecContext(ctx, `INSERT INTO dead_letters (key, source, subject, reason, payload, received_at, published_at) VALUES (?, 'nats', 's', 'bad', X'7B', 0, ?)`,
			sql.NullString{String: k.Before, Valid: k.Before != ""}, sql.NullInt64{Int64: 1, Valid: k.Published}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version >= 27`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checkApplied(t, path)
	storetest.CheckDeadLetterKeys0027(t, s)
}

// TestMigrationNetsOldVoids: events voided before 0013 kept what their
// charge drew; the migration takes their refunds off it as the void split
// them, and marks the split an estimate. It sums what the events paid,
// net, per account, currency and month into usage_paid.
func TestMigrationNetsOldVoids(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, _ := migratedWithSQL(t)
	oct := time.Date(2026, 10, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	_, err := db.ExecContext(ctx, undo0013+`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES ('whole', 'a', 11, 0, 1, '', 'gpu', '', 's', $oct, 0, '', 'voided', 'USD', 16000000, 6000000, 0, 10000000, '1', 16000000),
			('part', 'a', 11, 0, 1, '', 'gpu', '', 's', $oct, 0, '', 'voided', 'USD', 16000000, 6000000, 0, 10000000, '1', 12000000),
			('beyond', 'a', 11, 0, 1, '', 'gpu', '', 's', $oct, 0, '', 'voided', 'USD', 8000000, 0, 0, 8000000, '1', 12000000),
			('cost', 'a', 11, 0, 1, '', 'gpu', '', 's', $oct, 0, '', 'voided', 'USD', -2000000, -2000000, 0, 0, '1', -2000000),
			('kept', 'a', 11, 0, 1, '', 'gpu', '', 's', $oct, 0, '', 'charged', 'USD', 16000000, 6000000, 0, 10000000, '1', 0),
			('next', 'a', 11, 0, 1, '', 'gpu', '', 's', $nov, 0, '', 'charged', 'USD', 6000000, 1000000, 2000000, 3000000, '1', 0),
			('big', 'a', 11, 0, 1, '', 'gpu', '', 's', $oct, 0, '', 'voided', 'USD', 4000000000, 1000000000, 0, 3000000000, '1', 2000000000)`,
		sql.Named("oct", oct), sql.Named("nov", nov))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckNettedVoids(t, s)
	// October's row, "big" included, as the migration stored it: integers.
	var cash, bonus, voucher, period int64
	var kinds string
	if err := db.QueryRowContext(ctx, `SELECT period, cash, bonus, voucher, typeof(period) || typeof(cash) || typeof(bonus) || typeof(voucher)
		FROM usage_paid WHERE account_id = 'a' AND currency = 'USD' AND period < ?`, nov).Scan(&period, &cash, &bonus, &voucher, &kinds); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixMicro(); period != want || cash != 1_003_500_000 || bonus != 0 ||
		voucher != 1_012_500_000 || kinds != "integerintegerintegerinteger" {
		t.Fatalf("October's usage_paid: period %d, cash %d, bonus %d, voucher %d (%s); want %d, 1003500000, 0, 1012500000, all integers",
			period, cash, bonus, voucher, kinds, want)
	}
	// Past 3,037 units the products would not fit SQLite's integers: the
	// refund comes off one bucket after another (PostgreSQL's numeric
	// splits it in proportion).
	big, err := s.Events(ctx, abacus.EventQuery{IDs: []string{"big"}, Limit: 2})
	if err != nil || len(big) != 1 || big[0].Drawn != (abacus.Drawn{Cash: abacus.AmountFromMicros(1e9), Voucher: abacus.AmountFromMicros(1e9)}) || !big[0].DrawnEstimated {
		t.Fatalf("a large void after the migration: %+v %v", big, err)
	}
}

// TestMigrationBinaryEventIDs: events stored before 0007 kept every id as
// text. After it, a UUID id is found again by its spelling (so a replay is
// still a duplicate) and is stored as its 16 bytes; other ids stay text.
func TestMigrationBinaryEventIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, path := migratedWithSQL(t)
	const uuid, capitals = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B"
	_, err := db.ExecContext(ctx, undo0011+`DROP TABLE price_uses; DELETE FROM schema_migrations WHERE version >= 7;
		INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id, event_time,
			received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids)
		VALUES (?, 'a', 11, 0, 1, '', 'gpu', '', 's', 0, 0, '', 'unpriced', 'USD', 0, 0, 0, 0, ''),
			(?, 'a', 11, 0, 2, '', 'gpu', '', 's', 0, 0, '', 'unpriced', 'USD', 0, 0, 0, 0, ''),
			('order-7', 'a', 11, 0, 3, '', 'gpu', '', 's', 0, 0, '', 'unpriced', 'USD', 0, 0, 0, 0, '')`, uuid, capitals)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checkApplied(t, path)
	rows, err := db.QueryContext(ctx, `SELECT typeof(id), length(id) FROM usage_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, fmt.Sprintf("%s %d", kind, n))
	}
	rows.Close()
	if want := []string{"blob 16", "text 36", "text 7"}; !slices.Equal(kinds, want) {
		t.Fatalf("stored ids are %v, want %v", kinds, want)
	}
	var seen []string
	err = s.Write(ctx, func(tx abacus.WriteTx) error {
		st, err := tx.ReadBatch(ctx, abacus.BatchReads{EventIDs: []string{uuid, capitals, "order-7", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4c"}})
		for _, e := range st.Seen {
			seen = append(seen, e.ID)
		}
		return err
	})
	slices.Sort(seen)
	if want := []string{capitals, uuid, "order-7"}; err != nil || !slices.Equal(seen, want) {
		t.Fatalf("seen after the migration: %v %v, want %v", seen, err, want)
	}
}

// TestWriterSettings: the writer keeps statement journals in memory (see
// writerDriver) and has the page cache it was opened with, 256 MiB unless
// told otherwise.
func TestWriterSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ mib, wantKiB int }{{0, -262144}, {32, -32768}} {
		s, err := sqlite.OpenWith(testdb.SQLitePath(t), sqlite.Options{WriterCacheMiB: c.mib})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var temp, cache int
		var synchronous int
		if err := sqlite.WriterDB(s).QueryRow(`PRAGMA synchronous`).Scan(&synchronous); err != nil || synchronous != 2 {
			t.Fatalf("the writer's synchronous is %d (%v), want 2 (FULL): its WAL buffer needs every commit synced", synchronous, err)
		}
		if err := sqlite.WriterDB(s).QueryRow(`PRAGMA temp_store`).Scan(&temp); err != nil || temp != 2 {
			t.Fatalf("the writer's temp_store is %d (%v), want 2 (memory)", temp, err)
		}
		if err := sqlite.WriterDB(s).QueryRow(`PRAGMA cache_size`).Scan(&cache); err != nil || cache != c.wantKiB {
			t.Fatalf("WriterCacheMiB %d: the writer's cache_size is %d (%v), want %d", c.mib, cache, err, c.wantKiB)
		}
	}
	if _, err := sqlite.OpenWith(testdb.SQLitePath(t), sqlite.Options{WriterCacheMiB: -1}); err == nil {
		t.Fatal("a negative page cache was accepted")
	}
}

// TestStatusListingsUseTheirIndexes: the unpriced and the voided events
// are listed through their partial indexes, not by reading every event
// stored after the page's start: they are a few among millions. With an
// account named, the account's index serves.
func TestStatusListingsUseTheirIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, testdb.SQLitePath(t))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for status, index := range map[abacus.EventStatus]string{abacus.EventUnpriced: "usage_events_unpriced", abacus.EventVoided: "usage_events_voided"} {
		plan, err := sqlite.EventsPlan(ctx, s, abacus.EventQuery{Status: status, AfterSeq: 7, Limit: 100})
		if err != nil || !strings.Contains(strings.Join(plan, "\n"), "USING INDEX "+index+" ") {
			t.Errorf("%s events: %q %v, want %s", status, plan, err, index)
		}
		plan, err = sqlite.EventsPlan(ctx, s, abacus.EventQuery{Account: "a", Status: status, Limit: 100})
		if err != nil || !strings.Contains(strings.Join(plan, "\n"), "USING INDEX usage_events_account ") {
			t.Errorf("an account's %s events: %q %v, want its index", status, plan, err)
		}
	}
}

// TestMigrationRepairsUsagePaid: a database that ran 0013 before usage_paid
// was added to it has no such table; 0016 makes it and fills it from the
// events, and leaves a table 0013 made as it is.
func TestMigrationRepairsUsagePaid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, _ := migratedWithSQL(t)
	oct := time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC).UnixMicro()
	_, err := db.ExecContext(ctx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES ('e1', 'a', 11, 0, 1, '', 'gpu', '', 's', ?, 0, '', 'charged', 'USD', 16000000, 6000000, 0, 10000000, '1', 0),
			('e2', 'a', 11, 0, 1, '', 'gpu', '', 's', ?, 0, '', 'charged', 'USD', 3000000, 1000000, 2000000, 0, '1', 0);
		`+undo0017+`DROP TABLE usage_paid;
		DELETE FROM schema_migrations WHERE version >= 16;`, oct, oct)
	if err != nil {
		t.Fatal(err)
	}
	paid := func() string {
		t.Helper()
		var cash, bonus, voucher int64
		if err := db.QueryRowContext(ctx, `SELECT cash, bonus, voucher FROM usage_paid WHERE account_id = 'a'`).Scan(&cash, &bonus, &voucher); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(cash, bonus, voucher)
	}
	for range 2 { // the second time the table is there: left as it is, not added to again
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := paid(); got != "7000000 2000000 10000000" {
			t.Fatalf("usage_paid after the repair: %s, want 7000000 2000000 10000000", got)
		}
		if _, err := db.ExecContext(ctx, undo0017+`DELETE FROM schema_migrations WHERE version >= 16`); err != nil {
			t.Fatal(err)
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
	s, db, _ := migratedWithSQL(t)
	oct, sep := time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC).UnixMicro()
	octStart, sepStart := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	_, err := db.ExecContext(ctx, undo0017+fmt.Sprintf(`
		INSERT INTO prices (id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from, created_at, revision)
		VALUES (1, 1, 1, 'gpu', 'minute', 'USD', 1, 'graduated', '0', '{}', '', 0, 0, 0),
			(2, 1, 1, 'gpu', 'minute', 'USD', 1, 'graduated', '0', '{}', '', 0, 0, 1),
			(3, 1, 1, 'cpu', 'minute', 'USD', 1, 'per_unit', '1', '{}', '', 0, 0, 0),
			(4, 1, 1, 'npu', 'minüte', 'USD', 1, 'volume', '0', '{}', '', 0, 0, 0);
		INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES ('e1', 'a', 11, 0, 1, '', 'gpu', '', 's', %[1]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '3,1', 0),
			('e2', 'a', 11, 0, 1, '', 'gpu', '', 's', %[1]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '2', 0),
			('e3', 'a', 11, 0, 1, '', 'gpu', '', 's', %[1]d, 0, '', 'voided', 'USD', 0, 0, 0, 0, '1', 0),
			('e4', 'b', 11, 0, 1, '', 'gpu', '', 's', %[2]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '1', 0),
			('e5', 'a', 11, 0, 1, '', 'npu', '', 's', %[1]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '4', 0);
		INSERT INTO usage_counters (account_id, price_key, currency, period, quantity)
		VALUES ('a', '1|1|6:minute|gpu', 'USD', %[3]d, 2), ('b', '1|1|6:minute|gpu', 'USD', %[4]d, 1),
			('a', '1|1|7:minüte|npu', 'USD', %[3]d, 1), ('a', '1|1|6:minute|tpu', 'USD', %[3]d, 5)`, oct, sep, octStart, sepStart))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(account_id || ':' || price_key || '=' || COALESCE(price_id, 'null'), ' ') FROM
		(SELECT * FROM usage_counters ORDER BY account_id, price_key)`).Scan(&got); err != nil {
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
	s, db, _ := migratedWithSQL(t)
	sep, oct := time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC).UnixMicro()
	_, err := db.ExecContext(ctx, fmt.Sprintf(undo0023+`DROP TABLE usage_carry_periods; DELETE FROM schema_migrations WHERE version >= 18;
		INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
		VALUES ('e1', 'a', 11, 0, 1, '', 'gpu', '', 's', %[1]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '1', 0),
			('e2', 'a', 11, 0, 1, '', 'gpu', '', 's', %[2]d, 0, '', 'voided', 'USD', 0, 0, 0, 0, '1', 0),
			('e3', 'a', 11, 0, 1, '', 'gpu', '', 's', %[2]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '1', 0),
			('e4', 'b', 11, 0, 1, '', 'gpu', '', 's', %[2]d, 0, '', 'charged', 'USD', 0, 0, 0, 0, '1', 0);
		INSERT INTO usage_carry (account_id, residue) VALUES ('a', '0.0000003')`, sep, oct))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(account_id || ':' || strftime('%Y-%m', period / 1000000, 'unixepoch') || ':' || residue || ':' || shared, ' ')
		FROM (SELECT * FROM usage_carry_periods ORDER BY account_id, period)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "a:2026-09:0:1 a:2026-10:0:1"; got != want {
		t.Fatalf("carries after 0018: %s\nwant %s", got, want)
	}
}

// atVersion makes a database at schema version v, as an abacus of that
// version left it, and returns a connection to it.
func atVersion(t *testing.T, v int) (*sql.DB, string) {
	t.Helper()
	path := testdb.SQLitePath(t)
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:v] {
		if _, err := db.Exec(m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return db, path
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
		VALUES (?, 1, 1, ?, 'minute', 'USD', 1, 'per_unit', ?, '{}', '', 0, ?)`
	db, path := atVersion(t, 6)
	for _, p := range [][]any{{1, "gpu", "0.5", 1}, {2, "gpu", "0.5", 2}, {3, "cpu", "0.1", 3}, {4, "cpu", "0.1", 4}, {5, "cpu", "0.1", 5}, {6, "disk", "1", 6}} {
		if _, err := db.Exec(price, p...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id, event_time,
		received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, void_tx_id)
		VALUES ('e', 'a', 11, 0, 4, '', 'cpu', '', 's', 9, 0, '', 'charged', 'USD', 400000, 400000, 0, 0, '6,4', 1, NULL)`); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var ids string
	if err := db.QueryRow(`SELECT group_concat(id) FROM (SELECT id FROM prices ORDER BY id)`).Scan(&ids); err != nil || ids != "1,4,6" {
		t.Fatalf("prices %q (%v), want the first gpu copy, the cpu copy the event names, and disk", ids, err)
	}

	db, path = atVersion(t, 7)
	for _, p := range [][]any{{1, "gpu", "0.5", 1}, {2, "gpu", "0.6", 2}} {
		if _, err := db.Exec(price, p...); err != nil {
			t.Fatal(err)
		}
	}
	err := open(t, path).Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), `resource_id "gpu", sku_unit_type "minute", USD, valid from 1970-01-01T00:00:00Z: versions 1, 2 differ`) ||
		!strings.Contains(err.Error(), "Nothing was changed") {
		t.Fatalf("Migrate: %v", err)
	}
	var n int
	if got := applied(t, path); len(got) != 7 || db.QueryRow(`SELECT count(*) FROM prices`).Scan(&n) != nil || n != 2 {
		t.Fatalf("after the refusal: %d migrations, %d prices", len(got), n)
	}
}

// TestMigrationCountsUnpricedRollups: 0023 gives each rollup the usage and
// count of its unpriced events, from the events stored, and 0 where all
// are priced; a voided event counts in neither.
func TestMigrationCountsUnpricedRollups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path := atVersion(t, 22)
	at := func(hhmm string) int64 {
		ts, err := time.Parse(time.RFC3339, "2026-11-01T"+hhmm+":00Z")
		if err != nil {
			t.Fatal(err)
		}
		return ts.UnixMicro()
	}
	for _, e := range []struct {
		id, status string
		value      int64
		time       string
	}{{"e1", "unpriced", 3, "10:00"}, {"e2", "unpriced", 4, "10:05"}, {"e3", "charged", 5, "10:10"}, {"e4", "voided", 9, "10:20"}, {"e5", "unpriced", 2, "10:29"}, {"e6", "charged", 5, "11:00"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
			VALUES (?, 'a', 11, 0, ?, '', 'gpu', '', 's', ?, 0, '', ?, 'USD', 0, 0, 0, 0, '', 0)`, e.id, e.value, at(e.time), e.status); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		bucket           string
		quantity, events int64
	}{{"10:00", 12, 3}, {"10:15", 2, 1}, {"11:00", 5, 1}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO usage_rollups (account_id, bucket, scene, resource_id, customer_id, currency, quantity, amount, events)
			VALUES ('a', ?, 11, 'gpu', 's', 'USD', ?, 0, ?)`, at(r.bucket), r.quantity, r.events); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, path)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows := testdb.Rollups(t, s, abacus.RollupQuery{Account: "a", From: time.UnixMicro(at("00:00")), To: time.UnixMicro(at("12:00"))})
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

// undo0024 takes a migrated database back to before 0024 (and 0025).
const undo0024 = undo0025 + `DROP TABLE billing_zone;
	DELETE FROM schema_migrations WHERE version >= 24;
	`

// undo0026 takes a migrated database back to before 0026: no commitment
// ends, and commitments open to edits.
const undo0026 = `DROP TRIGGER commitments_append_only_update; DROP TRIGGER commitments_append_only_delete;
	DROP TRIGGER commitments_append_only_replace; DROP TABLE commitment_ends;
	DELETE FROM schema_migrations WHERE version >= 26;
	`

// undo0025 takes a migrated database back to before 0025 (and 0026): what
// the buckets paid, per month rather than per resource.
const undo0025 = undo0026 + `CREATE TABLE usage_paid_by_month (
		account_id TEXT NOT NULL,
		currency   TEXT NOT NULL,
		period     INTEGER NOT NULL,
		cash       INTEGER NOT NULL CHECK (typeof(cash) = 'integer'),
		bonus      INTEGER NOT NULL CHECK (typeof(bonus) = 'integer'),
		voucher    INTEGER NOT NULL CHECK (typeof(voucher) = 'integer'),
		PRIMARY KEY (account_id, currency, period)
	) WITHOUT ROWID;
	INSERT INTO usage_paid_by_month SELECT account_id, currency, period, SUM(cash), SUM(bonus), SUM(voucher) FROM usage_paid GROUP BY 1, 2, 3;
	DROP TABLE usage_paid;
	ALTER TABLE usage_paid_by_month RENAME TO usage_paid;
	DELETE FROM schema_migrations WHERE version >= 25;
	`

// TestMigrationSplitsPaidByResource: 0025 keeps what the buckets paid per
// resource, from the events, each in the month its account's sums or
// counters say (the months of the billing zone), or its UTC month.
func TestMigrationSplitsPaidByResource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, _ := migratedWithSQL(t)
	m := storetest.PaidByResourceMonths
	q := undo0025 + `UPDATE billing_zone SET zone = 'Asia/Shanghai';
		INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher)
		VALUES ('a', 'USD', ?, 1000000, 0, 0), ('a', 'USD', ?, 6000000, 1000000, 10000000);
		INSERT INTO usage_counters (account_id, price_key, currency, period, quantity) VALUES ('a', 'k', 'USD', ?, 1);`
	args := []any{m.Oct.UnixMicro(), m.Nov.UnixMicro(), m.Dec.UnixMicro()}
	for _, e := range storetest.PaidByResourceEvents {
		q += `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
			customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, refunded)
			VALUES (?, ?, 11, 0, 1, '', ?, '', 's', ?, 0, '', 'charged', 'USD', ?, ?, ?, ?, '1', 0);`
		args = append(args, e.ID, e.Account, e.Resource, e.Time.UnixMicro(), e.Cash+e.Bonus+e.Voucher, e.Cash, e.Bonus, e.Voucher)
	}
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckPaidByResource(t, s)
}

// TestSystemWalletsFoundBesideAWriter: once a currency's system wallets
// exist, finding them takes no write lock, so a command that starts while
// another process writes waits for its own batch's turn, as serve does,
// rather than fail at the busy timeout (QA: `abacus void` beside a long
// correction said the ledger was unreachable).
func TestSystemWalletsFoundBesideAWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, path := migratedWithSQL(t)
	want, err := s.SystemWalletsEnsure(ctx, "USD")
	if err != nil || len(want) != len(abacus.SystemAccounts)+abacus.RevenueShards-1 {
		t.Fatalf("%d wallets, %v", len(want), err)
	}
	holdWriteLock(t, db)
	other := open(t, path) // a second process's view, with nothing cached
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got, err := other.SystemWalletsEnsure(short, "USD")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("beside a writer: %v, %v; want %v", got, err, want)
	}
}

// TestIsBusy: the error a connection gets past its busy timeout, which
// the CLI explains (QA: a bare "database is locked").
func TestIsBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db, path := migratedWithSQL(t)
	holdWriteLock(t, db)
	impatient, err := sql.Open("sqlite3", path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	_, err = impatient.ExecContext(ctx, "UPDATE accounts SET name = name")
	if !sqlite.IsBusy(err) || !sqlite.IsBusy(fmt.Errorf("wrapped: %w", err)) {
		t.Fatalf("beside a writer: %v, not busy", err)
	}
	if _, err := impatient.ExecContext(ctx, "SELECT nonsense FROM nowhere"); err == nil || sqlite.IsBusy(err) {
		t.Fatalf("another error taken for busy: %v", err)
	}
	// Once the store stops waiting, the error is an outage (503 over
	// HTTP, not a 500: QA) and still busy to the CLI.
	if gaveUp := sqlite.GaveUpBusy(err); !store.Unavailable(gaveUp) || !sqlite.IsBusy(gaveUp) {
		t.Fatalf("%v: not unavailable and busy", gaveUp)
	}
}

// TestWriteWaitsForAnotherProcess: a write outside the engine (an account
// made over HTTP, a new currency's system wallets) waits past the busy
// timeout for another process's write lock, as the engine's batches do
// (QA: an account created beside a 15 s correction was a 500).
func TestWriteWaitsForAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db, path := migratedWithSQL(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	held := sqlite.BusyTimeout + time.Second
	time.AfterFunc(held, func() { conn.ExecContext(ctx, "ROLLBACK") })
	other := open(t, path)
	start := time.Now()
	_, _, err = other.AccountCreate(ctx, abacus.Account{ID: "11111111-1111-4111-8111-111111111111", Kind: abacus.KindUser, Currency: "USD"})
	if err != nil || time.Since(start) < held {
		t.Fatalf("after %s: %v; want it made once the lock was let go, after %s", time.Since(start), err, held)
	}
}

// TestWriteWaitEndsWithItsContext: a write waiting for another process's
// write lock stops waiting soon after its context ends, not when SQLite's
// own wait for the lock would (QA: SIGTERM beside another process's long
// write took up to 10 s more than serve allows).
func TestWriteWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	_, db, path := migratedWithSQL(t)
	holdWriteLock(t, db)
	other := open(t, path)
	for name, write := range map[string]func(ctx context.Context) error{
		"engine batch": func(ctx context.Context) error {
			return other.Write(ctx, func(abacus.WriteTx) error { return nil })
		},
		"account": func(ctx context.Context) error {
			_, _, err := other.AccountCreate(ctx, abacus.Account{ID: "11111111-1111-4111-8111-111111111111", Kind: abacus.KindUser, Currency: "USD"})
			return err
		},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		err := write(ctx)
		if took := time.Since(start); !errors.Is(err, context.Canceled) || sqlite.IsBusy(err) || took > sqlite.BusyTimeout/2 {
			t.Errorf("%s: %v after %s; want it called off soon after 300 ms, not locked out", name, err, took)
		}
	}
	var accounts int
	if err := db.QueryRow(`SELECT count(*) FROM accounts WHERE id = '11111111-1111-4111-8111-111111111111'`).Scan(&accounts); err != nil || accounts != 0 {
		t.Fatalf("%d accounts made (%v), want none", accounts, err)
	}
}

// holdWriteLock holds db's write lock, as another process writing would,
// until the test ends.
func holdWriteLock(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
	})
}
