package store_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/abacus-billing/abacus/store"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// TestMigrationsMatch checks that both dialects have the same migrations:
// a schema version must mean the same schema on SQLite and PostgreSQL.
func TestMigrationsMatch(t *testing.T) {
	t.Parallel()
	lite, err := sqlite.Migrations()
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	pg, err := postgres.Migrations()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if len(lite) == 0 {
		t.Fatal("no migrations")
	}
	if len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		l, p := lite[i], pg[i]
		if l.Version != i+1 || p.Version != i+1 || l.Name != p.Name {
			t.Errorf("migration %d: sqlite %04d_%s, postgres %04d_%s", i+1, l.Version, l.Name, p.Version, p.Name)
		}
		if strings.TrimSpace(l.SQL) == "" || strings.TrimSpace(p.SQL) == "" {
			t.Errorf("migration %04d_%s is empty in one dialect", l.Version, l.Name)
		}
	}
}

func TestReadMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := store.ReadMigrations(fstest.MapFS{
		"m/0002_more.sql":  file("B"),
		"m/0001_first.sql": file("A"),
		"m/0003_x_y.sql":   file("C"),
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Migration{{1, "first", "A"}, {2, "more", "B"}, {3, "x_y", "C"}}
	if len(ms) != len(want) {
		t.Fatalf("got %+v, want %+v", ms, want)
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Fatalf("got %+v, want %+v", ms, want)
		}
	}
	bad := map[string]fstest.MapFS{
		"a gap":           {"m/0001_a.sql": file(""), "m/0003_c.sql": file("")},
		"a repeat":        {"m/0001_a.sql": file(""), "m/0001_b.sql": file("")},
		"not from 1":      {"m/0002_b.sql": file("")},
		"no slug":         {"m/0001.sql": file("")},
		"not a number":    {"m/one_a.sql": file("")},
		"version zero":    {"m/0000_a.sql": file("")},
		"not a .sql file": {"m/0001_a.txt": file("")},
	}
	for name, fsys := range bad {
		if ms, err := store.ReadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: got %+v, want an error", name, ms)
		}
	}
	if _, err := store.ReadMigrations(fstest.MapFS{}, "missing"); err == nil {
		t.Error("a missing directory: no error")
	}
}

func TestErrSchemaTooNew(t *testing.T) {
	t.Parallel()
	var err error = store.ErrSchemaTooNew{Have: 3, Know: 2}
	var e store.ErrSchemaTooNew
	if !errors.As(err, &e) || e.Have != 3 || e.Know != 2 || !strings.Contains(err.Error(), "upgrade abacus") {
		t.Fatalf("%v", err)
	}
}
