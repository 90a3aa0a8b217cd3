package rating_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// TestUnstoredNamesTheLine: a price that has the key, currency and
// valid_from of a stored version but another price is named by its file
// and line, whatever zone either time was written in; another time or
// currency is another version.
func TestUnstoredNamesTheLine(t *testing.T) {
	stored, _, err := rating.ParseFile(strings.NewReader(tiersFile[:strings.Index(tiersFile, "  - sku_type")]), "old.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stored[1].ID = 42
	stored[1].ValidFrom = stored[1].ValidFrom.In(time.FixedZone("", 8*3600))
	book := abacus.PriceBook{Prices: stored}
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
	_, _, err = f.Unstored(book)
	const want = "new.yaml:4: prices[2]: has the same key, currency and valid_from as stored price 42 but differs from it in sku_price; prices are never edited: add a version with a later valid_from, or import with --correct to replace it and reprice its events"
	var fe *rating.FileError
	if err == nil || err.Error() != want || !errors.As(err, &fe) || fe.Line != 4 || abacus.ErrorCodeOf(err) != abacus.CodeConflict {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if prices, _, err := f.Unstored(abacus.PriceBook{}); err != nil || len(prices) != 3 {
		t.Fatalf("against an empty book: %d prices, %v", len(prices), err)
	}
	f, err = rating.ReadFile(strings.NewReader(strings.Replace(file, "2025-12-31T19:00:00-05:00", "2026-01-01T00:00:01Z", 1)), "new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if prices, _, err := f.Unstored(book); err != nil || len(prices) != 3 {
		t.Fatalf("a later version: %d prices, %v", len(prices), err)
	}
}

// TestUnstoredLeavesOutWhatIsStored: importing a file again adds only
// what is new in it. A stored version read back (its time in UTC, its
// decimals as stored, an id) is the file's, and so is a commitment with
// the same account, months and instants.
func TestUnstoredLeavesOutWhatIsStored(t *testing.T) {
	const file = `prices:
  - {sku_type: 1, sku_kind: 1, resource_id: a, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: "2026-01-01T05:45:00+05:45", sku_price: "1.50"}
  - sku_type: 1
    sku_kind: 4
    resource_id: c
    sku_unit: 1
    sku_unit_type: token
    currency: USD
    valid_from: 2026-01-01T00:00:00Z
    model: graduated
    tiers:
      - {up_to: 1000, price: "0.010"}
      - price: "0.005"
commitments:
  - {account: 5f0c6b6e-1b9e-4a43-9c1e-7d2b0b8f4c11, months: 12, from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
`
	f, err := rating.ReadFile(strings.NewReader(file), "book.yaml")
	if err != nil {
		t.Fatal(err)
	}
	book := abacus.PriceBook{Prices: append([]abacus.Price(nil), f.Prices...), Commitments: append([]abacus.Commitment(nil), f.Commitments...)}
	for i := range book.Prices {
		book.Prices[i].ID, book.Prices[i].CreatedAt = int64(i+1), time.Now()
		book.Prices[i].ValidFrom = book.Prices[i].ValidFrom.UTC()
	}
	book.Prices[0].UnitPrice = book.Prices[0].UnitPrice.Truncate(1) // 1.5: the same value, written shorter
	book.Commitments[0].From = book.Commitments[0].From.In(time.FixedZone("", -3600))
	prices, commitments, err := f.Unstored(book)
	if err != nil || len(prices) != 0 || len(commitments) != 0 {
		t.Fatalf("the same file again: %d prices and %d commitments to add, %v", len(prices), len(commitments), err)
	}
	book.Prices, book.Commitments = book.Prices[:1], nil
	prices, commitments, err = f.Unstored(book)
	if err != nil || len(prices) != 1 || prices[0].ResourceID != "c" || len(commitments) != 1 {
		t.Fatalf("with one price stored: %+v and %d commitments to add, %v", prices, len(commitments), err)
	}
}

// TestCorrectionsRevise: a correction file's price at a stored version's
// key, currency and valid_from with other terms becomes that version's
// next revision; one the book holds as it is, in its latest revision, is
// left out; a new one is revision 0. A commitment the book lacks is
// refused with its line.
func TestCorrectionsRevise(t *testing.T) {
	const file = `prices:
  - {sku_type: 1, sku_kind: 1, resource_id: a, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z, sku_price: "2"}
  - {sku_type: 1, sku_kind: 1, resource_id: b, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z, sku_price: "3"}
  - {sku_type: 1, sku_kind: 1, resource_id: c, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z, sku_price: "4"}
`
	f, err := rating.ReadFile(strings.NewReader(file), "fix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stored := append([]abacus.Price(nil), f.Prices[:2]...)
	stored[0].ID, stored[1].ID = 1, 2
	stored[0].UnitPrice = stored[0].UnitPrice.Add(stored[0].UnitPrice) // a: 4 stored, 2 in the file
	b1 := stored[1]
	b1.ID, b1.Revision = 3, 1
	stored[1].UnitPrice = stored[0].UnitPrice // b: revision 0 said 4, revision 1 says 3, as the file does
	prices, err := f.Corrections(abacus.PriceBook{Prices: append(stored, b1)})
	if err != nil || len(prices) != 2 || prices[0].ResourceID != "a" || prices[0].Revision != 1 || prices[1].ResourceID != "c" || prices[1].Revision != 0 {
		t.Fatalf("%+v %v", prices, err)
	}
	withCommitment, err := rating.ReadFile(strings.NewReader(file+"commitments:\n  - {account: 5f6c0a66-4a38-4b38-9d4b-0a4c1f3e2a10, months: 12, from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z}\n"), "fix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withCommitment.Corrections(abacus.PriceBook{}); err == nil || !strings.HasPrefix(err.Error(), "fix.yaml:6: commitments[0]: ") {
		t.Fatalf("a new commitment: %v", err)
	}
}

// TestUnstoredNamesWhatDiffers: the refusal of a changed version names
// every field that changed, a description too, in the file's order.
func TestUnstoredNamesWhatDiffers(t *testing.T) {
	const stored = `prices:
  - {sku_type: 1, sku_kind: 1, resource_id: b, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z, sku_price: "2", desc: old}
`
	prices, _, err := rating.ParseFile(strings.NewReader(stored), "old.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prices[0].ID = 7
	for edit, want := range map[[2]string]string{
		{"desc: old", "desc: new"}:                      "differs from it in desc;",
		{`sku_price: "2", desc: old`, `sku_price: "3"`}: "differs from it in sku_price, desc;",
	} {
		f, err := rating.ReadFile(strings.NewReader(strings.Replace(stored, edit[0], edit[1], 1)), "new.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.Unstored(abacus.PriceBook{Prices: prices}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s → %s: %v, want %q", edit[0], edit[1], err, want)
		}
	}
}
