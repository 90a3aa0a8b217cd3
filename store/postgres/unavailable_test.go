package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store"
)

// TestOutagesAreUnavailable: what pgx gives when the server ends the
// session, when the connection is gone, and when the database is not
// there (renamed, dropped) is told as the database's reach, which HTTP
// answers 503; a mistake in a statement is not.
func TestOutagesAreUnavailable(t *testing.T) {
	testdb.Postgres(t) // skips or fails as every PostgreSQL test does when there is none
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT * FROM no_such_table`); err == nil || store.Unavailable(err) {
		t.Fatalf("a statement's mistake: %v, want it not told as unavailable", err)
	}
	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
	if !store.Unavailable(err) {
		t.Fatalf("the session ended by the server: %v, want it told as unavailable", err)
	}
	if _, err := conn.Exec(ctx, `SELECT 1`); !store.Unavailable(err) {
		t.Fatalf("a query on the closed connection: %v, want it told as unavailable", err)
	}
	u, err := url.Parse(testdb.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/abacus_no_such_database"
	if _, err := pgx.Connect(ctx, u.String()); !store.Unavailable(err) {
		t.Fatalf("a database that is not there: %v, want it told as unavailable", err)
	}
	u.Host = "127.0.0.1:1"
	if _, err := pgx.Connect(ctx, u.String()); !store.Unavailable(err) {
		t.Fatalf("a server that is not there: %v, want it told as unavailable", err)
	}
}
