// Package testdb gives tests fresh databases: a temporary SQLite file, or a
// PostgreSQL schema of its own. Under CI (CI=true) a test that needs
// PostgreSQL fails when it cannot reach it; elsewhere it skips and says how
// to turn it on.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// DefaultPostgresURL is where the project's machines run PostgreSQL.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns ABACUS_TEST_POSTGRES or the default.
func PostgresURL() string {
	if u := os.Getenv("ABACUS_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SQLitePath returns a fresh database path in a temporary directory.
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "abacus.db")
}

// SQLite opens a fresh, migrated SQLite store.
func SQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// PostgresSchemaURL creates a fresh schema and returns a URL whose
// connections use it. The schema is dropped when the test ends.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	return PostgresSchemaURLAt(t, PostgresURL())
}

// PostgresSchemaURLAt is PostgresSchemaURL in the database at base.
func PostgresSchemaURLAt(t testing.TB, base string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "abacus_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if err := postgres.CreateSchema(ctx, base, schema); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI but %s is unreachable: %v", base, err)
		}
		t.Skipf("PostgreSQL at %s is unreachable (%v); start it or set ABACUS_TEST_POSTGRES to run this test", base, err)
	}
	t.Cleanup(func() { postgres.DropSchema(context.Background(), base, schema) })
	return postgres.WithSchema(base, schema)
}

// Postgres opens a migrated PostgreSQL store in a fresh schema.
func Postgres(t testing.TB) *postgres.Store {
	t.Helper()
	return PostgresAt(t, PostgresURL())
}

// PostgresAt opens a migrated PostgreSQL store in a fresh schema of the
// database at base.
func PostgresAt(t testing.TB, base string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), PostgresSchemaURLAt(t, base), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Each runs fn as a subtest against each store: "sqlite" and "postgres".
func Each(t *testing.T, fn func(t *testing.T, open func(t testing.TB) abacus.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t testing.TB) abacus.Store { return SQLite(t) })
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t testing.TB) abacus.Store { return Postgres(t) })
	})
}

// Rollups collects the rollups q selects.
func Rollups(t testing.TB, st interface {
	EachRollup(context.Context, abacus.RollupQuery, func(abacus.Rollup) error) error
}, q abacus.RollupQuery) []abacus.Rollup {
	t.Helper()
	var out []abacus.Rollup
	if err := st.EachRollup(t.Context(), q, func(r abacus.Rollup) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
