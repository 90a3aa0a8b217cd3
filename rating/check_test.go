package rating_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// TestCheckAgainstNamesTheLine: a price that has the key, currency and
// valid_from of a stored version is named by its file and line, whatever
// zone either time was written in; another time or currency is another
// version.
func TestCheckAgainstNamesTheLine(t *testing.T) {
	stored, _, err := rating.ParseFile(strings.NewReader(tiersFile[:strings.Index(tiersFile, "  - sku_type")]), "old.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stored[1].ID = 42
	stored[1].ValidFrom = stored[1].ValidFrom.In(time.FixedZone("", 8*3600))
	const file = `prices:
  - {sku_type: 1, sku_kind: 1, resource_id: b, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-02-01T00:00:00Z, sku_price: "2"}
  - {sku_type: 1, sku_kind: 1, resource_id: b, sku_unit: 1, sku_unit_type: minute, currency: EUR, valid_from: 2026-01-01T00:00:00Z, sku_price: "2"}
  - sku_type: 1
    sku_kind: 1
    resource_id: b
    sku_unit: 1
    sku_unit_type: minute
    currency: USD
    valid_from: 2025-12-31T19:00:00-05:00
    sku_price: "2"
`
	f, err := rating.ReadFile(strings.NewReader(file), "new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = f.CheckAgainst(stored)
	const want = "new.yaml:4: prices[2]: has the same key, currency and valid_from as stored price 42; prices are never edited: add a version with a later valid_from"
	var fe *rating.FileError
	if err == nil || err.Error() != want || !errors.As(err, &fe) || fe.Line != 4 || abacus.ErrorCodeOf(err) != abacus.CodeConflict {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if err := f.CheckAgainst(nil); err != nil {
		t.Fatalf("against an empty book: %v", err)
	}
	f, err = rating.ReadFile(strings.NewReader(strings.Replace(file, "2025-12-31T19:00:00-05:00", "2026-01-01T00:00:01Z", 1)), "new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckAgainst(stored); err != nil {
		t.Fatalf("a later version: %v", err)
	}
}
