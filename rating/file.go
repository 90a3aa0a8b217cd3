package rating

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"
	"golang.org/x/text/unicode/norm"

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
//	  - {account: 3f0c…-uuid, months: 12, from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z}
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
// the same in every field (a time as an instant), is left out. A price
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
	stored := make(map[commitmentID]bool, len(book.Commitments))
	for _, c := range book.Commitments {
		stored[commitmentOf(c)] = true
	}
	var commitments []abacus.Commitment
	for _, c := range f.Commitments {
		if !stored[commitmentOf(c)] {
			commitments = append(commitments, c)
		}
	}
	return prices, commitments, nil
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
// book does not hold is reported, as a *FileError naming its line.
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
	stored := make(map[commitmentID]bool, len(book.Commitments))
	for _, c := range book.Commitments {
		stored[commitmentOf(c)] = true
	}
	for j, c := range f.Commitments {
		if !stored[commitmentOf(c)] {
			return nil, &FileError{File: f.Name, Line: f.commitNodes[j].line, Err: abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("commitments[%d]", j),
				"is not in the book; a correction changes prices only: import commitments without --correct")}
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

// commitmentID is a commitment as a comparable value, its times as instants.
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

var utf8BOM = []byte("\xef\xbb\xbf")

func isJSON(data []byte, name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && (data[0] == '{' || data[0] == '[')
}

// fileDecoder turns nodes into prices. It keeps the first error and does
// nothing after it, so the code reads straight through.
type fileDecoder struct {
	file     string
	err      *FileError
	warnings map[int][]string
}

// warn notes what price i of the file may mean but most likely does not,
// as "file:line: field: message".
func (d *fileDecoder) warn(i, line int, field string, format string, args ...any) {
	if d.warnings == nil {
		d.warnings = map[int][]string{}
	}
	d.warnings[i] = append(d.warnings[i], (&FileError{File: d.file, Line: line, Err: abacus.Errorf(abacus.CodeInvalid, field, format, args...)}).Error())
}

func (d *fileDecoder) fail(line int, field string, code abacus.ErrorCode, format string, args ...any) {
	if d.err == nil {
		d.err = &FileError{File: d.file, Line: line, Err: abacus.Errorf(code, field, format, args...)}
	}
}

// fields checks that n is a mapping whose keys are all in known.
func (d *fileDecoder) fields(n *node, path string, known ...string) bool {
	if d.err != nil {
		return false
	}
	if n.kind != mapNode {
		d.fail(n.line, path, abacus.CodeInvalid, "must be a mapping, not %s", n.describe())
		return false
	}
	for i, k := range n.keys {
		if !contains(known, k) {
			d.fail(n.keyLines[i], join(path, k), abacus.CodeInvalid, "unknown field (known: %s)", strings.Join(known, ", "))
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// field returns m's value under key, or nil when it is absent or null;
// with required, an absent field is an error.
func (d *fileDecoder) field(m *node, path, key string, required bool) (*node, string) {
	f := join(path, key)
	if d.err != nil {
		return nil, f
	}
	v, _ := m.get(key)
	if v == nil || (v.kind == scalarNode && v.tag == tagNull) {
		if required {
			d.fail(m.line, f, abacus.CodeInvalid, "is required")
		}
		return nil, f
	}
	return v, f
}

func (d *fileDecoder) list(n *node, path string) []*node {
	if n == nil || d.err != nil {
		return nil
	}
	if n.kind != listNode {
		d.fail(n.line, path, abacus.CodeInvalid, "must be a list, not %s", n.describe())
		return nil
	}
	return n.items
}

func (d *fileDecoder) scalar(n *node, path, want string, tags ...scalarTag) (string, bool) {
	if n == nil || d.err != nil {
		return "", false
	}
	if n.kind == scalarNode {
		for _, t := range tags {
			if n.tag == t {
				return n.text, true
			}
		}
	}
	d.fail(n.line, path, abacus.CodeInvalid, "must be %s, not %s", want, n.describe())
	return "", false
}

func (d *fileDecoder) str(n *node, path string) string {
	s, _ := d.scalar(n, path, "a string", tagString, tagNumber, tagOther)
	return s
}

var decimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// decimal reads an exact decimal from the text as written.
func (d *fileDecoder) decimal(n *node, path string) decimal.Decimal {
	s, ok := d.scalar(n, path, "a decimal number such as \"0.05\"", tagString, tagNumber)
	if !ok {
		return decimal.Zero
	}
	if leadingZero(s) {
		d.fail(n.line, path, abacus.CodeInvalid, "%s", leadingZeroWhy(s))
		return decimal.Zero
	}
	if !decimalText.MatchString(s) {
		why := "is not a decimal number such as \"0.05\""
		if strings.ContainsAny(s, "eE") && !strings.ContainsAny(s, "xX") {
			why = "is not a plain decimal number: write it without an exponent"
		}
		d.fail(n.line, path, abacus.CodeInvalid, "%s %s", clip(s), why)
		return decimal.Zero
	}
	v, err := decimal.NewFromString(s)
	if err != nil {
		d.fail(n.line, path, abacus.CodeInvalid, "%s is not a decimal number", clip(s))
	}
	return v
}

// leadingZero reports a number written with a zero before its first
// digit (010, 00.5), which YAML 1.1 tools read as octal or refuse.
func leadingZero(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9'
}

func leadingZeroWhy(s string) string {
	return clip(s) + " has a leading zero, which some tools read as octal (YAML 1.1 reads 010 as 8): write it without"
}

func (d *fileDecoder) int64(n *node, path string) int64 {
	return d.integer(n, path, math.MinInt64, math.MaxInt64)
}

func (d *fileDecoder) int(n *node, path string) int {
	return int(d.integer(n, path, math.MinInt32, math.MaxInt32))
}

func (d *fileDecoder) integer(n *node, path string, min, max int64) int64 {
	s, ok := d.scalar(n, path, "an integer", tagString, tagNumber)
	if !ok {
		return 0
	}
	if !isInteger(s) {
		d.fail(n.line, path, abacus.CodeInvalid, "%s is not an integer", clip(s))
		return 0
	}
	if leadingZero(s) {
		d.fail(n.line, path, abacus.CodeInvalid, "%s", leadingZeroWhy(s))
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < min || v > max {
		d.fail(n.line, path, abacus.CodeInvalid, "%s is out of range (%d to %d)", clip(s), min, max)
		return 0
	}
	return v
}

func (d *fileDecoder) time(n *node, path string) time.Time {
	s, ok := d.scalar(n, path, "an RFC 3339 time such as 2026-01-01T00:00:00Z", tagString, tagOther)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	switch {
	case err != nil:
		d.fail(n.line, path, abacus.CodeInvalid, "%s is not an RFC 3339 time such as 2026-01-01T00:00:00Z", clip(s))
	case t.Nanosecond()%1000 != 0:
		// Stored times keep microseconds: stored, it would be another time.
		d.fail(n.line, path, abacus.CodeInvalid, "%s is finer than a microsecond, which is as fine as abacus keeps times", clip(s))
	case t.IsZero():
		// Go's zero time, which everything after reads as no time at all.
		d.fail(n.line, path, abacus.CodeInvalid, "%s is the zero time, which abacus reads as no time: give a real one, such as 2000-01-01T00:00:00Z (no event is earlier)", clip(s))
	}
	return t
}

func (d *fileDecoder) bool(n *node, path string) bool {
	s, _ := d.scalar(n, path, "true or false", tagBool)
	return s == "true" || s == "True" || s == "TRUE"
}

// decodeFile returns the prices and the commitments, each with its node,
// for the lines of its fields.
func (d *fileDecoder) decodeFile(root *node) ([]abacus.Price, []*node, []abacus.Commitment, []*node) {
	if !d.fields(root, "", "prices", "commitments") {
		return nil, nil, nil, nil
	}
	var prices []abacus.Price
	var nodes []*node
	pl, _ := d.field(root, "", "prices", false)
	for i, pn := range d.list(pl, "prices") {
		path := fmt.Sprintf("prices[%d]", i)
		p := d.price(pn, path)
		if d.err != nil {
			return nil, nil, nil, nil
		}
		if err := Validate(&p); err != nil {
			e := asError(err)
			d.fail(pn.lineOf(e.Field), join(path, e.Field), e.Code, "%s", e.Message)
			return nil, nil, nil, nil
		}
		// Only here, not in Validate: a book stored before this check must
		// still load. A line break in a key split `prices list`'s row, and
		// "w4\n" or "w4" with a zero-width space looked like "w4" (QA).
		for _, f := range []struct{ name, v string }{{"resource_id", p.ResourceID}, {"sku_unit_type", p.UnitType}} {
			if i := strings.IndexFunc(f.v, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
				d.fail(pn.lineOf(f.name), path+"."+f.name, abacus.CodeInvalid, "holds a character that is not printable (%U) at byte %d; a key is printable text", []rune(f.v[i:])[0], i)
				return nil, nil, nil, nil
			}
		}
		// A warning: a book that holds one already must still import.
		for _, f := range []struct{ name, v string }{{"resource_id", p.ResourceID}, {"sku_unit_type", p.UnitType}} {
			if !norm.NFC.IsNormalString(f.v) {
				d.warn(i, pn.lineOf(f.name), path+"."+f.name, "%s is not in Unicode normalization form C (NFC), as the keys of events coming in must be: no new event will match it; write it composed", quoteKey(f.v))
			}
		}
		// A warning, not an error: an event may name such a unit type in
		// its extra, and a book that holds one already must still import.
		// But an event's unit type from its scene is lower case, and a price
		// for "Minute" matched none of those, leaving their usage unpriced
		// without a word (QA).
		// Nor did a unit type no scene gives, such as "day" (QA).
		plain := strings.ToLower(strings.TrimSpace(p.UnitType))
		switch {
		case !norm.NFC.IsNormalString(p.UnitType): // warned of above: no event coming in names it
		case !slices.Contains(SceneUnitTypes, plain):
			d.warn(i, pn.lineOf("sku_unit_type"), path+".sku_unit_type", "%s is a unit type no scene gives (they give %s): only events that name it in extra.sku_unit_type will match it", clip(p.UnitType), strings.Join(SceneUnitTypes, ", "))
		case plain != p.UnitType:
			d.warn(i, pn.lineOf("sku_unit_type"), path+".sku_unit_type", "%s is not %s, which events' unit types from their scenes are: only events that name it in extra.sku_unit_type will match it", clip(p.UnitType), clip(plain))
		}
		if strings.TrimSpace(p.ResourceID) != p.ResourceID {
			d.warn(i, pn.lineOf("resource_id"), path+".resource_id", "%s has spaces at an end: only events whose resource_id has them too will match it", clip(p.ResourceID))
		}
		// Warnings, not errors: a file holding such a price stored before
		// must import again (regression QA). QA: "Seats " was taken
		// without a word, and so were "  " and a zero-width space.
		if l := p.License; l != nil && l.Type == LicenseStub {
			const only = "only events whose extra names the count so will be charged; the others are refused"
			switch m := l.UserMetric; {
			case strings.IndexFunc(m, func(r rune) bool { return !unicode.IsSpace(r) && !unicode.IsPrint(r) }) >= 0:
				d.warn(i, pn.lineOf("license.user_metric"), path+".license.user_metric", "%s holds a character that does not show: %s", quoteKey(m), only)
			case strings.TrimSpace(m) == "":
				d.warn(i, pn.lineOf("license.user_metric"), path+".license.user_metric", "%s is only spaces: %s", clip(m), only)
			case strings.TrimSpace(m) != m:
				d.warn(i, pn.lineOf("license.user_metric"), path+".license.user_metric", "%s has spaces at an end: %s", clip(m), only)
			}
		}
		// A warning: such a price is valid, but an event's cost is exact
		// to CostScale places, so the digits past them are rounded away in
		// each event (QA: a price of 10⁻²² charged nothing, unsaid).
		type amount struct {
			field string
			v     decimal.Decimal
		}
		fine := []amount{{"sku_price", p.UnitPrice}, {"sku_cached_price", p.CachedPrice.Decimal}}
		for j, t := range p.Tiers {
			fine = append(fine, amount{fmt.Sprintf("tiers[%d].price", j), t.UnitPrice}, amount{fmt.Sprintf("tiers[%d].flat_fee", j), t.FlatFee})
		}
		for j, l := range p.Levels {
			fine = append(fine, amount{fmt.Sprintf("levels[%d].price", j), l.UnitPrice})
		}
		for _, f := range fine {
			if !f.v.Round(CostScale).Equal(f.v) {
				name, _, _ := strings.Cut(f.field, "[")
				d.warn(i, pn.lineOf(name), path+"."+f.field, "%s has more than %d decimal places; an event's cost is exact to %d, so each event's cost is rounded there",
					f.v, CostScale, CostScale)
			}
		}
		if p.Model == abacus.ModelBurst && !slices.ContainsFunc(p.Levels, func(l abacus.BurstPrice) bool { return l.Level == 1 }) {
			// Not an error: a level the rule never reaches needs no price.
			d.warn(i, pn.lineOf("levels"), path+".levels", "lists no level 1, the level of a resource before its first burst cycle: its events will be unpriced until a cycle sets a level it lists")
		}
		for j := range prices {
			q := &prices[j]
			if KeyOf(q) == KeyOf(&p) && q.Currency == p.Currency && q.ValidFrom.Equal(p.ValidFrom) {
				d.fail(pn.line, path, abacus.CodeConflict, "has the same key, currency and valid_from as prices[%d] (line %d)", j, nodes[j].line)
				return nil, nil, nil, nil
			}
		}
		prices = append(prices, p)
		nodes = append(nodes, pn)
	}
	var commitments []abacus.Commitment
	var commitNodes []*node
	cl, _ := d.field(root, "", "commitments", false)
	for i, cn := range d.list(cl, "commitments") {
		path := fmt.Sprintf("commitments[%d]", i)
		if !d.fields(cn, path, "account", "months", "from", "until") {
			return nil, nil, nil, nil
		}
		var c abacus.Commitment
		c.Account = abacus.AccountID(d.str(d.field(cn, path, "account", true)))
		c.Months = d.int(d.field(cn, path, "months", true))
		c.From = d.time(d.field(cn, path, "from", true))
		c.Until = d.time(d.field(cn, path, "until", true))
		if d.err != nil {
			return nil, nil, nil, nil
		}
		if err := validateCommitment(&c); err != nil {
			e := asError(err)
			d.fail(cn.lineOf(e.Field), join(path, e.Field), e.Code, "%s", e.Message)
			return nil, nil, nil, nil
		}
		for j := range commitments {
			if commitmentOf(commitments[j]) == commitmentOf(c) {
				d.fail(cn.line, path, abacus.CodeConflict, "is the same commitment as commitments[%d] (line %d)", j, commitNodes[j].line)
				return nil, nil, nil, nil
			}
		}
		commitments = append(commitments, c)
		commitNodes = append(commitNodes, cn)
	}
	return prices, nodes, commitments, commitNodes
}

var priceFields = []string{
	"sku_type", "sku_kind", "resource_id", "sku_unit", "sku_unit_type", "sku_price", "sku_cached_price", "currency",
	"valid_from", "model", "tiers", "package", "levels", "discounts", "license", "desc",
}

func (d *fileDecoder) price(n *node, path string) abacus.Price {
	var p abacus.Price
	if !d.fields(n, path, priceFields...) {
		return p
	}
	p.SKUType = d.int(d.field(n, path, "sku_type", true))
	p.SKUKind = d.int(d.field(n, path, "sku_kind", true))
	p.ResourceID = d.str(d.field(n, path, "resource_id", true))
	p.Unit = d.int64(d.field(n, path, "sku_unit", true))
	p.UnitType = d.str(d.field(n, path, "sku_unit_type", true))
	p.Currency = abacus.Currency(d.str(d.field(n, path, "currency", true)))
	p.ValidFrom = d.time(d.field(n, path, "valid_from", true))
	p.Model = abacus.ModelPerUnit
	if m, f := d.field(n, path, "model", false); m != nil {
		p.Model = abacus.PriceModel(d.str(m, f))
	}
	p.Desc = d.str(d.field(n, path, "desc", false))
	if d.err != nil {
		return p
	}
	// Which of the model-specific fields the model uses. Validate checks
	// values; here a field the model does not use is refused even when it
	// is zero or empty, since writing it shows a misunderstanding.
	uses := map[string][]abacus.PriceModel{
		"sku_price": {abacus.ModelPerUnit, abacus.ModelPackage},
		"tiers":     {abacus.ModelGraduated, abacus.ModelVolume},
		"package":   {abacus.ModelPackage},
		"levels":    {abacus.ModelBurst},
	}
	for _, f := range []string{"sku_price", "tiers", "package", "levels"} {
		models := uses[f]
		v, line := n.get(f)
		used := false
		for _, m := range models {
			used = used || m == p.Model
		}
		switch {
		case v != nil && !used && isKnownModel(p.Model):
			d.fail(line, join(path, f), abacus.CodeInvalid, "is not used by the %s model (only by %s)", p.Model, modelList(models))
			return p
		case (v == nil || v.tag == tagNull && v.kind == scalarNode) && used:
			d.fail(n.line, join(path, f), abacus.CodeInvalid, "is required for the %s model", p.Model)
			return p
		}
	}
	if v, f := d.field(n, path, "sku_price", false); v != nil {
		p.UnitPrice = d.decimal(v, f)
	}
	if v, f := d.field(n, path, "sku_cached_price", false); v != nil && !(v.tag == tagNull && v.kind == scalarNode) {
		p.CachedPrice = decimal.NewNullDecimal(d.decimal(v, f))
	}
	if v, f := d.field(n, path, "package", false); v != nil {
		p.Package = d.int64(v, f)
	}
	tl, tf := d.field(n, path, "tiers", false)
	for i, tn := range d.list(tl, tf) {
		f := fmt.Sprintf("%s[%d]", tf, i)
		if !d.fields(tn, f, "up_to", "price", "flat_fee") {
			return p
		}
		var t abacus.PriceTier
		if v, vf := d.field(tn, f, "up_to", false); v != nil {
			t.UpTo = d.int64(v, vf)
		}
		t.UnitPrice = d.decimal(d.field(tn, f, "price", true))
		if v, vf := d.field(tn, f, "flat_fee", false); v != nil {
			t.FlatFee = d.decimal(v, vf)
		}
		p.Tiers = append(p.Tiers, t)
	}
	ll, lf := d.field(n, path, "levels", false)
	for i, ln := range d.list(ll, lf) {
		f := fmt.Sprintf("%s[%d]", lf, i)
		if !d.fields(ln, f, "level", "price") {
			return p
		}
		p.Levels = append(p.Levels, abacus.BurstPrice{
			Level:     d.int(d.field(ln, f, "level", true)),
			UnitPrice: d.decimal(d.field(ln, f, "price", true)),
		})
	}
	dl, df := d.field(n, path, "discounts", false)
	for i, dn := range d.list(dl, df) {
		f := fmt.Sprintf("%s[%d]", df, i)
		if !d.fields(dn, f, "months", "fraction") {
			return p
		}
		p.Discounts = append(p.Discounts, abacus.CommitmentDiscount{
			Months:   d.int(d.field(dn, f, "months", true)),
			Fraction: d.decimal(d.field(dn, f, "fraction", true)),
		})
	}
	if ln, f := d.field(n, path, "license", false); ln != nil {
		if !d.fields(ln, f, "name", "long_name", "type", "user_metric", "burstable") {
			return p
		}
		l := &abacus.License{Type: LicenseInstance}
		l.Name = d.str(d.field(ln, f, "name", true))
		l.LongName = d.str(d.field(ln, f, "long_name", false))
		if v, vf := d.field(ln, f, "type", false); v != nil {
			l.Type = d.str(v, vf)
		}
		if mn, mf := d.field(ln, f, "user_metric", false); mn != nil {
			l.UserMetric = d.str(mn, mf)
			// Its count is read from extra: under a key rating reads for
			// something else, the event's token count had been multiplied
			// by itself, and a count under sku_type had moved the event to
			// another price key (QA).
			if l.Type == LicenseStub && d.err == nil && slices.ContainsFunc(readKeys, func(k string) bool { return strings.EqualFold(k, l.UserMetric) }) {
				d.fail(mn.line, mf, abacus.CodeInvalid, "%s is a key of extra abacus reads for the event itself (%s): give the licence's count a key of its own, such as seats",
					clip(l.UserMetric), strings.Join(readKeys, ", "))
			}
		}
		l.Burstable = d.bool(d.field(ln, f, "burstable", true))
		p.License = l
	}
	return p
}

// asError returns err as an *abacus.Error.
func asError(err error) *abacus.Error {
	var e *abacus.Error
	if errors.As(err, &e) {
		return e
	}
	return &abacus.Error{Code: abacus.CodeInvalid, Message: err.Error()}
}

func isKnownModel(m abacus.PriceModel) bool {
	switch m {
	case abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage, abacus.ModelBurst:
		return true
	}
	return false
}

func modelList(ms []abacus.PriceModel) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, " and ")
}
