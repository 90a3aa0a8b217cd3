package rating_test

import (
	"bytes"
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

// TestCommitmentEndsInFiles: a file's ended on a commitment of a stored
// term moves that commitment's end; leaving it out leaves the end as
// stored; a correction refuses to move one; ended is checked against the
// term and read back as written.
func TestCommitmentEndsInFiles(t *testing.T) {
	read := func(fields string) *rating.File {
		t.Helper()
		f, err := rating.ReadFile(strings.NewReader(`commitments:
  - {account: 5f0c6b6e-1b9e-4a43-9c1e-7d2b0b8f4c11, months: 12, from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"`+fields+`}
`), "book.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	jul1 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	unstored := func(what string, f *rating.File, book abacus.PriceBook, want time.Time) {
		t.Helper()
		_, commitments, err := f.Unstored(book)
		switch {
		case err != nil:
			t.Fatalf("%s: %v", what, err)
		case want.IsZero() && len(commitments) != 0:
			t.Fatalf("%s: %+v to store, want none", what, commitments)
		case !want.IsZero() && (len(commitments) != 1 || !commitments[0].End().Equal(want)):
			t.Fatalf("%s: %+v to store, want one ending at %s", what, commitments, want)
		}
	}
	running := abacus.PriceBook{Commitments: read("").Commitments}
	unstored("an end given", read(", ended: 2026-07-01T00:00:00Z"), running, jul1)
	unstored("no end given", read(""), running, time.Time{})
	ended := abacus.PriceBook{Commitments: read(", ended: 2026-07-01T00:00:00Z").Commitments}
	unstored("the file without the end stored", read(""), ended, time.Time{})
	unstored("the same end", read(", ended: 2026-07-01T00:00:00Z"), ended, time.Time{})
	unstored("another end", read(", ended: 2026-08-01T00:00:00Z"), ended, jul1.AddDate(0, 1, 0))
	unstored("the end undone", read(", ended: 2027-01-01T00:00:00Z"), ended, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))

	if _, err := read(", ended: 2026-08-01T00:00:00Z").Corrections(ended); err == nil ||
		!strings.HasPrefix(err.Error(), "book.yaml:2: commitments[0].ended: 2026-08-01T00:00:00Z is not the stored commitment's end (2026-07-01T00:00:00Z)") {
		t.Fatalf("a correction moving an end: %v", err)
	}
	for _, fields := range []string{"", ", ended: 2026-07-01T00:00:00Z"} {
		if _, err := read(fields).Corrections(ended); err != nil {
			t.Fatalf("a correction holding the commitment as stored (%q): %v", fields, err)
		}
	}

	// The term rule is for terms coming in, not for the end of one stored.
	long := read(", ended: 2026-07-01T00:00:00Z").Commitments
	long[0].Months = 36
	if err := rating.CheckCommitmentTerms(long, rating.TermsOf(long)); err != nil {
		t.Fatalf("the end of a stored commitment of a term from before the rule: %v", err)
	}
	if err := rating.CheckCommitmentTerms(long, nil); err == nil {
		t.Fatal("a new commitment of 36 months spanning 12 was taken")
	}

	for _, tc := range []struct{ fields, want string }{
		{", ended: 2026-01-01T00:00:00Z", "book.yaml:2: commitments[0].ended: must be after from"},
		{", ended: 2027-01-01T00:00:01Z", "book.yaml:2: commitments[0].ended: is after until"},
		{", ended: soon", `book.yaml:2: commitments[0].ended: "soon" is not an RFC 3339 time`},
		{", ended: 2025-12-01T00:00:00Z", "book.yaml:2: commitments[0].ended: is before from"},
		{", ended: null", "book.yaml:2: commitments[0].ended: is null: leave ended out to keep a stored end as it is, or give until (2027-01-01T00:00:00Z)"},
	} {
		_, err := rating.ReadFile(strings.NewReader("commitments:\n  - {account: 5f0c6b6e-1b9e-4a43-9c1e-7d2b0b8f4c11, months: 12, from: \"2026-01-01T00:00:00Z\", until: \"2027-01-01T00:00:00Z\""+tc.fields+"}\n"), "book.yaml")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %s…", tc.fields, err, tc.want)
		}
	}

	for _, name := range []string{"book.yaml", "book.json"} {
		var buf bytes.Buffer
		if err := rating.WriteFile(&buf, name, nil, ended.Commitments); err != nil {
			t.Fatal(err)
		}
		_, back, err := rating.ParseFile(&buf, name)
		if err != nil || len(back) != 1 || !back[0].Ended.Equal(jul1) {
			t.Fatalf("%s written and read back: %+v %v\n%s", name, back, err, buf.String())
		}
	}
}
