package bench

import (
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
)

// The older events are there, in the month before the benchmark's, over
// the accounts asked for, and their rollups count every one of them.
func TestStoreOlderEvents(t *testing.T) {
	testdb.PostgresSchemaURL(t) // fails under CI, skips elsewhere, when PostgreSQL is down
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			st, cleanup, err := freshStore(t.Context(), kind, t.TempDir(), testdb.PostgresURL(), 2, 3000, 7)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			var events, rolled int64
			accounts := map[abacus.AccountID]bool{}
			err = st.(abacus.Auditor).Audit(t.Context(), func(ar abacus.AuditReader) error {
				err := ar.Events(func(e abacus.StoredEvent) error {
					events++
					accounts[e.Account] = true
					if e.Time.Year() != 2026 || e.Time.Month() != 10 || e.Charged.Micros() != 0 {
						t.Errorf("event %s: at %s, charged %s", e.ID, e.Time, e.Charged)
					}
					return nil
				})
				if err != nil {
					return err
				}
				return ar.Rollups(func(r abacus.Rollup) error { rolled += r.Events; return nil })
			})
			if err != nil {
				t.Fatal(err)
			}
			if events != 3000 || rolled != 3000 || len(accounts) != 7 {
				t.Fatalf("%d events over %d accounts, %d in rollups; want 3000 over 7, 3000", events, len(accounts), rolled)
			}
		})
	}
}
