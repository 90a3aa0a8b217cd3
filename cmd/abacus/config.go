package main

import (
	"context"
	"flag"
	"net/url"
	"os"
	"strings"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// defaultDB is where abacus keeps its data when nothing else is said.
const defaultDB = "./abacus-data/abacus.db"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dbFlag adds --db, defaulting to $ABACUS_DB or the SQLite file.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", envOr("ABACUS_DB", defaultDB),
		"a SQLite file path, or a postgres:// URL (env ABACUS_DB)")
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// migrator is what both stores offer beyond abacus.Store.
type migrator interface {
	abacus.Store
	Migrate(ctx context.Context) error
	SchemaVersion(ctx context.Context) (have, know int, err error)
}

// openStore opens the database db names; it does not migrate.
func openStore(ctx context.Context, db string) (migrator, error) {
	if isPostgres(db) {
		return postgres.Open(ctx, db, postgres.Options{})
	}
	return sqlite.Open(db)
}

// openMigrated opens and migrates.
func openMigrated(ctx context.Context, db string) (migrator, error) {
	st, err := openStore(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// describeDB names the database for people, without its password.
func describeDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
