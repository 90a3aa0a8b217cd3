package rating

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
)

// MaxFileSize bounds a price file.
const MaxFileSize = 32 << 20

// FileError is an error in a price file. It prints as
// "prices.yaml:14: prices[2].tiers[1].up_to: must be greater than 1000"
// and unwraps to the *abacus.Error (code and field path) inside.
type FileError struct {
	File string
	Line int // 1-based; 0 when the line is not known
	Err  *abacus.Error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Err.Error())
	}
	return e.File + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// ParseFile reads a price file: YAML (a name ending in .yaml or .yml) or
// JSON (.json); with another name the format is sniffed (a file starting
// with '{' is JSON). name is only used to choose the format and in errors.
//
// The file is a mapping with two lists, both optional:
//
//	prices:       # price versions
//	  - sku_type: 1            # required, CSGHub sku_type
//	    sku_kind: 1            # required, CSGHub sku_kind
//	    resource_id: "12"      # required
//	    sku_unit: 1            # required, the price is per this many base units
//	    sku_unit_type: minute  # required
//	    currency: USD          # required
//	    valid_from: 2026-01-01T00:00:00Z  # required, RFC 3339
//	    model: per_unit        # per_unit (the default), graduated, volume, package, burst
//	    sku_price: "0.05"      # per_unit and package only
//	    sku_cached_price: "0.02"  # per_unit prompt tokens (sku_kind 4) only: cached prompt tokens
//	    tiers:                 # graduated and volume only
//	      - {up_to: 1000, price: "0.01", flat_fee: "0"}  # up_to omitted: the last, unbounded tier
//	    package: 100           # package only
//	    levels:                # burst only
//	      - {level: 1, price: "0.02"}
//	    discounts:             # any model
//	      - {months: 12, fraction: "0.2"}
//	    license: {name: msft_p73_04837_core, long_name: Windows Server, type: instance, user_metric: smp, burstable: true}
//	    desc: CPU basic
//	commitments:
//	  - {account: 3f0c…-uuid, months: 12, from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z,
//	     ended: 2026-07-01T00:00:00Z}  # ended: optional, an early end (the discount stops there)
//
// Amounts are decimal strings or numbers, read exactly from their text,
// never through a float; an exponent (1e3), a leading dot and the like are
// refused. Integers are numbers or strings of digits. Unknown fields are
// refused, so a misspelt field never silently falls back to a default.
// Every price passes [Validate], and no two prices may share a key,
// currency and valid_from. Errors are *FileError naming the file, the line
// and the field; ParseFile stops at the first. IDs of the returned prices
// are zero: the store assigns them. To check the prices against a stored
// book as well, use [ReadFile] and [File.Unstored].
func ParseFile(r io.Reader, name string) (prices []abacus.Price, commitments []abacus.Commitment, err error) {
	f, err := ReadFile(r, name)
	if err != nil {
		return nil, nil, err
	}
	return f.Prices, f.Commitments, nil
}

// File is a price file as [ReadFile] read it. It keeps the line of each
// price, so that a conflict with the stored book found later can still
// name it.
type File struct {
	Name        string
	Prices      []abacus.Price
	Commitments []abacus.Commitment
	priceNodes  []*node          // each price as the file holds it, for the lines of its fields
	warnings    map[int][]string // of prices, by index
	commitNodes []*node          // each commitment as the file holds it
}

// ReadFile is [ParseFile], returning the file.
func ReadFile(r io.Reader, name string) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &FileError{File: name, Err: abacus.Errorf(abacus.CodeInvalid, "", "cannot read: %v", err)}
	}
	if len(data) > MaxFileSize {
		return nil, &FileError{File: name, Err: abacus.Errorf(abacus.CodeTooLarge, "", "is larger than %d bytes", MaxFileSize)}
	}
	var root *node
	var line int
	if isJSON(data, name) {
		// Editors on Windows write a BOM, which JSON does not allow.
		root, line, err = parseJSON(bytes.TrimPrefix(data, utf8BOM))
	} else {
		root, line, err = parseYAML(data)
	}
	if err != nil {
		return nil, &FileError{File: name, Line: line, Err: &abacus.Error{Code: abacus.CodeInvalid, Message: err.Error()}}
	}
	if root == nil {
		return nil, &FileError{File: name, Err: abacus.Errorf(abacus.CodeInvalid, "", "is empty: a price file is a mapping with prices and commitments")}
	}
	d := &fileDecoder{file: name}
	f := &File{Name: name}
	f.Prices, f.priceNodes, f.Commitments, f.commitNodes = d.decodeFile(root)
	if d.err != nil {
		return nil, d.err
	}
	f.warnings = d.warnings
	return f, nil
}

// versionID is what makes a price version unique in a book.
type versionID struct {
	key      Key
	currency abacus.Currency
	sec      int64 // valid_from, as an instant in any zone
	nsec     int
}

func versionOf(p *abacus.Price) versionID {
	return versionID{KeyOf(p), p.Currency, p.ValidFrom.Unix(), p.ValidFrom.Nanosecond()}
}

// Unstored returns what of f the stored book does not hold yet, so that a
// price file kept as the book's source can be imported again after a
// version is added to it. A price or commitment the book holds already,
// the same in every field (a time as an instant), is left out; so is a
// commitment whose term (account, months, from and until) the book holds,
// unless the file gives it an ended the stored one does not have: that
// one is returned, for the store to record the end. A file that leaves a
// stored commitment's ended out leaves its end as it is. A price
// with the key, currency and valid_from of a stored version that differs
// in any other field is reported, as a *FileError naming the file and the
// line: a stored price is never edited in place.
func (f *File) Unstored(book abacus.PriceBook) ([]abacus.Price, []abacus.Commitment, error) {
	byVersion := make(map[versionID]*abacus.Price, len(book.Prices))
	for i := range book.Prices {
		byVersion[versionOf(&book.Prices[i])] = &book.Prices[i]
	}
	var prices []abacus.Price
	for i := range f.Prices {
		old, ok := byVersion[versionOf(&f.Prices[i])]
		switch {
		case !ok:
			prices = append(prices, f.Prices[i])
		case !samePrice(old, &f.Prices[i]):
			return nil, nil, &FileError{File: f.Name, Line: f.priceNodes[i].line, Err: abacus.Errorf(abacus.CodeConflict, fmt.Sprintf("prices[%d]", i),
				"has the same key, currency and valid_from as stored price %d but differs from it in %s; prices are never edited: add a version with a later valid_from, or import with --correct to replace it and reprice its events",
				old.ID, strings.Join(priceDiff(old, &f.Prices[i]), ", "))}
		}
	}
	terms := TermsOf(book.Commitments)
	var commitments []abacus.Commitment
	for _, c := range f.Commitments {
		if !terms.Hold(&c) || (!c.Ended.IsZero() && !terms.endAs(&c)) {
			commitments = append(commitments, c)
		}
	}
	return prices, commitments, nil
}

// Terms are the ends of commitments by their term (account, months, from
// and until): one coming in with a stored term only moves its end.
type Terms map[commitmentID][]time.Time

// TermsOf indexes commitments by term.
func TermsOf(commitments []abacus.Commitment) Terms {
	t := make(Terms, len(commitments))
	for i := range commitments {
		id := commitmentOf(commitments[i])
		t[id] = append(t[id], commitments[i].End())
	}
	return t
}

// Hold reports whether a commitment of c's term is among t, ended or not.
func (t Terms) Hold(c *abacus.Commitment) bool {
	_, ok := t[commitmentOf(*c)]
	return ok
}

// storedEnd is the end of a commitment of c's term that does not end when
// c does (the first such), or c's end.
func (t Terms) storedEnd(c *abacus.Commitment) time.Time {
	for _, end := range t[commitmentOf(*c)] {
		if !end.Equal(c.End()) {
			return end.UTC()
		}
	}
	return c.End()
}

// endAs reports whether every commitment of c's term ends when c does.
func (t Terms) endAs(c *abacus.Commitment) bool {
	for _, end := range t[commitmentOf(*c)] {
		if !end.Equal(c.End()) {
			return false
		}
	}
	return true
}

// WarningsFor returns the warnings of the file's prices among prices (those
// an import adds, say: one stored already was warned of then), each as
// "file:line: field: message": what the file may mean but most likely does
// not.
func (f *File) WarningsFor(prices []abacus.Price) []string {
	adding := make(map[versionID]bool, len(prices))
	for i := range prices {
		adding[versionOf(&prices[i])] = true
	}
	var out []string
	for i := range f.Prices {
		if adding[versionOf(&f.Prices[i])] {
			out = append(out, f.warnings[i]...)
		}
	}
	return out
}

// Corrections returns what of f corrects the stored book: each price the
// book does not hold, and, where the book holds the price's key, currency
// and valid_from with other terms, the price as that version's next
// revision, which replaces it. A price the book holds as it is, in its
// latest revision, is left out. Commitments are not corrected: one the
// book does not hold, or whose ended moves a stored one's end, is
// reported, as a *FileError naming its line.
func (f *File) Corrections(book abacus.PriceBook) ([]abacus.Price, error) {
	latest := make(map[versionID]*abacus.Price, len(book.Prices))
	for i := range book.Prices {
		p := &book.Prices[i]
		if old, ok := latest[versionOf(p)]; !ok || p.Revision > old.Revision {
			latest[versionOf(p)] = p
		}
	}
	var prices []abacus.Price
	for i := range f.Prices {
		p := f.Prices[i]
		old, ok := latest[versionOf(&p)]
		switch {
		case !ok:
			prices = append(prices, p)
		case !samePrice(old, &p):
			p.Revision = old.Revision + 1
			prices = append(prices, p)
		}
	}
	terms := TermsOf(book.Commitments)
	for j, c := range f.Commitments {
		switch {
		case !terms.Hold(&c):
			return nil, &FileError{File: f.Name, Line: f.commitNodes[j].line, Err: abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("commitments[%d]", j),
				"is not in the book; a correction changes prices only: import commitments without --correct")}
		case !c.Ended.IsZero() && !terms.endAs(&c):
			return nil, &FileError{File: f.Name, Line: f.commitNodes[j].lineOf("ended"), Err: abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("commitments[%d].ended", j),
				"%s is not the stored commitment's end (%s); a correction changes prices only: move a commitment's end without --correct",
				c.Ended.Format(time.RFC3339Nano), terms.storedEnd(&c).Format(time.RFC3339Nano))}
		}
	}
	return prices, nil
}

// Line returns the line of the file's version of p's key, currency and
// valid_from, or 0.
func (f *File) Line(p *abacus.Price) int {
	if j := f.indexOf(p); j >= 0 {
		return f.priceNodes[j].line
	}
	return 0
}

// indexOf returns the index of the file's version of p's key, currency
// and valid_from, or -1.
func (f *File) indexOf(p *abacus.Price) int {
	return slices.IndexFunc(f.Prices, func(q abacus.Price) bool { return versionOf(&q) == versionOf(p) })
}

// Locate names the file and line of an error a store returned for adding
// prices and commitments, the part of f that Unstored returned: its field
// "prices[i]…" or "commitments[i]…" counts in those, and becomes the
// element's place in the file. Other errors are returned as they are.
func (f *File) Locate(err error, prices []abacus.Price, commitments []abacus.Commitment) error {
	var ae *abacus.Error
	if !errors.As(err, &ae) {
		return err
	}
	m := storedField.FindStringSubmatch(ae.Field)
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[2])
	// The line of the field named, where the element has it: a refused
	// valid_from is on its own line (QA: named the price's first).
	at := func(j int, n *node) error {
		e := *ae
		e.Field = fmt.Sprintf("%s[%d]%s", m[1], j, m[3])
		return &FileError{File: f.Name, Line: n.lineOf(strings.TrimPrefix(m[3], ".")), Err: &e}
	}
	switch {
	case m[1] == "prices" && i < len(prices):
		if j := f.indexOf(&prices[i]); j >= 0 {
			return at(j, f.priceNodes[j])
		}
	case m[1] == "commitments" && i < len(commitments):
		for j := range f.Commitments {
			if commitmentOf(f.Commitments[j]) == commitmentOf(commitments[i]) {
				return at(j, f.commitNodes[j])
			}
		}
	}
	return err
}

// commitmentID is a commitment's term as a comparable value, its times as
// instants: an early end does not make it another commitment.
type commitmentID struct {
	account     abacus.AccountID
	months      int
	from, until int64 // Unix nanoseconds
}

func commitmentOf(c abacus.Commitment) commitmentID {
	return commitmentID{c.Account, c.Months, c.From.UnixNano(), c.Until.UnixNano()}
}

var storedField = regexp.MustCompile(`^(prices|commitments)\[(\d+)\](.*)$`)

// samePrice reports whether a and b are one version: every field as a
// price file writes it, apart from the id and when it was stored.
func samePrice(a, b *abacus.Price) bool { return len(priceDiff(a, b)) == 0 }

// priceDiff names the fields of a price file in which a and b differ, in
// the order a file has them.
func priceDiff(a, b *abacus.Price) []string {
	canonical := func(p abacus.Price) map[string]string {
		p.ID, p.Revision, p.CreatedAt, p.ValidFrom = 0, 0, time.Time{}, p.ValidFrom.UTC()
		n := priceNode(&p)
		fields := make(map[string]string, len(n.keys))
		for i, k := range n.keys {
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			writeJSON(w, n.vals[i], "")
			w.Flush()
			fields[k] = buf.String()
		}
		return fields
	}
	ca, cb := canonical(*a), canonical(*b)
	var diff []string
	for _, k := range priceFields {
		if ca[k] != cb[k] {
			diff = append(diff, k)
		}
	}
	return diff
}
