package rating

import (
	"bytes"
	"errors"
	"fmt"
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
		if !d.fields(cn, path, "account", "months", "from", "until", "ended") {
			return nil, nil, nil, nil
		}
		var c abacus.Commitment
		c.Account = abacus.AccountID(d.str(d.field(cn, path, "account", true)))
		c.Months = d.int(d.field(cn, path, "months", true))
		c.From = d.time(d.field(cn, path, "from", true))
		c.Until = d.time(d.field(cn, path, "until", true))
		if v, _ := cn.get("ended"); v != nil && v.kind == scalarNode && v.tag == tagNull {
			// Read as left out, it would keep a stored end without a word
			// to one who meant to clear it (QA).
			d.fail(v.line, join(path, "ended"), abacus.CodeInvalid, "is null: leave ended out to keep a stored end as it is, or give until (%s) to undo an early end",
				c.Until.Format(time.RFC3339Nano))
			return nil, nil, nil, nil
		}
		c.Ended = d.time(d.field(cn, path, "ended", false))
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
