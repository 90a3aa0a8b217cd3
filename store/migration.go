// Package store holds what the SQLite and PostgreSQL stores share: the
// migration file format. The stores themselves live in sqlite/ and
// postgres/, and storetest/ is the conformance suite both must pass.
package store

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change. Both dialects number their
// migrations identically, so a version means the same schema everywhere.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ReadMigrations reads files named NNNN_slug.sql from dir, in version order.
func ReadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, slug, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") || v <= 0 {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_slug.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: slug, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migrations must be numbered 1, 2, 3, …; found %d at position %d", m.Version, i+1)
		}
	}
	return ms, nil
}

// ErrSchemaTooNew is returned when a database was migrated by a newer
// abacus than this one: running on it could misread what it holds.
type ErrSchemaTooNew struct{ Have, Know int }

func (e ErrSchemaTooNew) Error() string {
	return fmt.Sprintf("store: the database is at schema version %d but this abacus knows only up to %d; upgrade abacus", e.Have, e.Know)
}
