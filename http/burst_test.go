package http_test

import (
	"testing"

	"github.com/abacus-billing/abacus/internal/testdb"
)

// TestBurstUtilisationPercent: a utilisation is a plain decimal from 0 to
// 100; anything else, an exponent too, is refused naming percent.
func TestBurstUtilisationPercent(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/burst/utilisation"
	f.mustDo("service", "POST", path, "", `{"resource":"cpu","percent":"42.5"}`, 200)
	for _, bad := range []string{"1e1", "101", "-1", "abc", "1.2.3", "", "0x10", " 5"} {
		r := f.do("service", "POST", path, "", `{"resource":"cpu","percent":"`+bad+`"}`)
		if r.status != 400 || r.body["field"] != "percent" {
			t.Fatalf("percent %q: %d %s", bad, r.status, r.raw)
		}
	}
}
