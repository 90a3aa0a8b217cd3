package http_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
)

// TestBurstUtilisationPercent: a utilisation is a plain decimal from 0 to
// 100; anything else, an exponent too, is refused naming percent.
func TestBurstUtilisationPercent(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/burst/utilisation"
	f.mustDo("service", "POST", path, "", `{"resource":"cpu","percent":"42.5"}`, 200)
	for _, bad := range []string{"1e1", "101", "-1", "abc", "1.2.3", "", "0x10", " 5", ".5", "5.", "."} {
		r := f.do("service", "POST", path, "", `{"resource":"cpu","percent":"`+bad+`"}`)
		if r.status != 400 || r.body["field"] != "percent" {
			t.Fatalf("percent %q: %d %s", bad, r.status, r.raw)
		}
	}
}

// TestBurstUtilisationResource: a resource named by blanks, or given twice,
// is refused naming resource.
func TestBurstUtilisationResource(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/burst/utilisation"
	for _, body := range []string{`{"resource":" ","percent":"5"}`, `{"resource":" cpu ","percent":"5"}`, `{"resource":"cpu","percent":"5","resource":"mem"}`} {
		if r := f.do("service", "POST", path, "", body); r.status != 400 || r.body["field"] != "resource" {
			t.Fatalf("%s: %d %s", body, r.status, r.raw)
		}
	}
}

// TestBurstLevelsShowLevelOne: current names every resource next does,
// those at level 1 too, which is never recorded as a change.
func TestBurstLevelsShowLevelOne(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	cycle := time.Now().UTC().Truncate(abacus.BurstCycle)
	_, err := st.BurstCycle(t.Context(), cycle, func(map[string]abacus.Utilisation, map[string]int, map[string]int) ([]abacus.BurstLevel, map[string]int) {
		return []abacus.BurstLevel{{Resource: "cpu", Level: 4, EffectiveFrom: cycle}}, map[string]int{"cpu": 4, "ip": 1}
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.mustDo("service", "GET", "/api/v1/burst/levels", "", "", 200)
	if cur := fmt.Sprint(r.body["current"]); cur != "map[cpu:4 ip:1]" {
		t.Fatalf("current %s, want cpu at 4 and ip at 1: %s", cur, r.raw)
	}
}
