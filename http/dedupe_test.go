package http_test

import (
	"net/url"
	"strings"
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

// TestEventIDSpellingsAreOneEvent: a UUID braced, after urn:uuid:, or in
// capitals is the UUID CSGHub's uuid type reads, so one event; the first
// two had been charged once each (QA). The void finds it by any of them. The nil
// UUID, which a producer that never set the id sends, is refused.
func TestEventIDSpellingsAreOneEvent(t *testing.T) {
	f := newFixtureEngine(t, testdb.SQLite(t), abacushttp.Config{}, ledger.Config{})
	acct := "dddddddd-0000-4000-8000-000000000006"
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	const id = "91000000-0000-4000-8000-0000000000c1"
	var items []string
	for _, spelled := range []string{id, "{" + id + "}", "urn:uuid:" + id, "91000000-0000-4000-8000-0000000000C1", "00000000-0000-0000-0000-000000000000"} {
		items = append(items, csghubEvent(spelled, acct, 1, at))
	}
	r := f.mustDo("service", "POST", "/api/v1/accounting/metering/events", "", "["+strings.Join(items, ",")+"]", 200)
	results := r.body["results"].([]any)
	for i, want := range []string{"accepted", "duplicate", "duplicate", "duplicate", "rejected"} {
		res := results[i].(map[string]any)
		if res["status"] != want || (want != "rejected" && res["uuid"] != id) {
			t.Fatalf("item %d: %v, want %s as %s", i, res, want, id)
		}
	}
	if e := results[4].(map[string]any)["error"].(map[string]any); e["field"] != "uuid" {
		t.Fatalf("the nil UUID: %v, want refused naming uuid", e)
	}
	r = f.mustDo("service", "POST", "/api/v1/accounting/metering/events/"+url.PathEscape("{"+id+"}")+"/void", "", "", 200)
	if r.body["uuid"] != id {
		t.Fatalf("void: %v, want it to name %s", r.body, id)
	}
}
