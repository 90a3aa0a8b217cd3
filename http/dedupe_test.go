package http_test

import (
	"testing"
	"time"

	abacushttp "github.com/abacus-billing/abacus/http"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestMinuteDedupeNamesTheEventItKept: an event the minute dedupe drops
// answers duplicate naming the event that holds its instance's minute, so
// that a producer can tell it from an id sent twice.
func TestMinuteDedupeNamesTheEventItKept(t *testing.T) {
	f := newFixtureEngine(t, testdb.SQLite(t), abacushttp.Config{}, ledger.Config{Usage: ledger.UsageConfig{MinuteDedupe: map[int]bool{11: true}}})
	acct := "dddddddd-0000-4000-8000-000000000005"
	minute := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	first := csghubEvent("11111111-0000-4000-8000-0000000000b1", acct, 1, minute.Add(10*time.Second).Format(time.RFC3339))
	second := csghubEvent("11111111-0000-4000-8000-0000000000b2", acct, 1, minute.Add(40*time.Second).Format(time.RFC3339))
	r := f.mustDo("service", "POST", "/api/v1/accounting/metering/events", "", "["+first+","+second+","+first+"]", 200)
	results := r.body["results"].([]any)
	for i, want := range []struct{ status, of string }{{"accepted", ""}, {"duplicate", "11111111-0000-4000-8000-0000000000b1"}, {"duplicate", ""}} {
		res := results[i].(map[string]any)
		if of, _ := res["duplicate_of"].(string); res["status"] != want.status || of != want.of {
			t.Fatalf("item %d: %v, want %s with duplicate_of %q", i, res, want.status, want.of)
		}
	}
}
