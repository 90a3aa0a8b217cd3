package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/jsontext"
)

// The fields of a CSGHub metering event, in the order they are checked.
const (
	fUUID = iota
	fUserUUID
	fValue
	fValueType
	fScene
	fOpUID
	fResourceID
	fResourceName
	fCustomerID
	fCreatedAt
	fExtra
	nFields
)

// csghubNames are the CSGHub wire names of the fields; Validate's errors
// use them too.
var csghubNames = [nFields]string{
	"uuid", "user_uuid", "value", "value_type", "scene", "op_uid",
	"resource_id", "resource_name", "customer_id", "created_at", "extra",
}

// required fields must be present (not null, not an empty CSV cell).
// uuid, user_uuid and created_at are left to Validate, which says so.
var required = [nFields]bool{fValue: true, fValueType: true, fScene: true}

// JSON kinds, by the first byte of a value.
const (
	kindInvalid = '?'
	kindString  = '"'
	kindNumber  = '0'
	kindObject  = '{'
	kindArray   = '['
	kindBool    = 't'
	kindNull    = 'n'
)

func kindOf(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return kindInvalid
	}
	switch c := raw[0]; {
	case c == '"':
		return kindString
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber
	}
	return kindInvalid
}

func kindName(k byte) string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindBool:
		return "a boolean"
	case kindNull:
		return "null"
	}
	return "not valid JSON"
}

// object is a JSON object's members in the order sent, so that a key
// given twice is seen (encoding/json would silently keep the last one).
// Events have a dozen keys: a scan is cheaper than building a map.
type object []member

type member struct {
	key string
	raw []byte
}

// lookup returns the value of key, and whether it is present more than once.
func (o object) lookup(key string) (raw []byte, ok, twice bool) {
	for _, m := range o {
		if m.key == key {
			twice = ok
			raw, ok = m.raw, true
		}
	}
	return raw, ok, twice
}

// readObject reads raw, a valid JSON value. It returns nil and the kind of
// value if raw is not an object.
func readObject(raw []byte) (object, byte) {
	if k := kindOf(raw); k != kindObject {
		return nil, k
	}
	o := make(object, 0, nFields)
	eachMember(raw, 0, func(key string, v []byte) { o = append(o, member{key, v}) })
	return o, kindObject
}

// caseVariant refuses a member of o whose key is one of names in another
// case ("VALUE"): encoding/json, which CSGHub's services decode with,
// would read it as that field, so an event holding both would be billed
// one way here and another there. A key that is no field in any case is
// left alone, as producers may add fields. prefix goes before the key in
// the error ("data.").
func (o object) caseVariant(names []string, prefix string) *abacus.Error {
	for _, m := range o {
		if slices.Contains(names, m.key) {
			continue
		}
		for _, n := range names {
			if strings.EqualFold(m.key, n) {
				return abacus.ErrKeyInAnotherCase(prefix+m.key, n)
			}
		}
	}
	return nil
}

// value is one field as read from the wire, before it is parsed.
type value struct {
	present bool   // false if missing, null or an empty CSV cell
	kind    byte   // the JSON kind; kindString for CSV cells
	s       string // a string's content, or a number's text
	raw     []byte // an object's JSON text
	text    bool   // from a text format (CSV), where numbers come as strings
}

// field reads key from o; wire names it in errors.
func (o object) field(key, wire string) (value, *abacus.Error) {
	raw, ok, twice := o.lookup(key)
	if !ok {
		return value{}, nil
	}
	if twice {
		return value{}, abacus.Errorf(abacus.CodeInvalid, wire, "appears more than once in the object")
	}
	v := value{present: true, kind: kindOf(raw)}
	switch v.kind {
	case kindNull:
		return value{}, nil
	case kindString:
		v.s = unquote(bytes.TrimSpace(raw))
	case kindNumber:
		v.s = string(bytes.TrimSpace(raw))
	case kindObject:
		v.raw = raw
	}
	return v, nil
}

// textValue is a CSV cell; an empty cell is missing.
func textValue(s string) value {
	return value{present: s != "", kind: kindString, s: s, text: true}
}

func typeError(wire, want string, v value) *abacus.Error {
	return abacus.Errorf(abacus.CodeInvalid, wire, "must be %s, not %s", want, kindName(v.kind))
}

func (v value) str(wire string) (string, *abacus.Error) {
	if !v.present {
		return "", nil
	}
	if v.kind != kindString {
		return "", typeError(wire, "a JSON string", v)
	}
	return v.s, nil
}

// ownStr is str for a string decode reads itself rather than hand on in the
// event, where Validate would refuse invalid UTF-8.
func (v value) ownStr(wire string) (string, *abacus.Error) {
	s, err := v.str(wire)
	if err == nil && !utf8.ValidString(s) {
		return "", notUTF8(wire)
	}
	return s, err
}

func notUTF8(wire string) *abacus.Error {
	return abacus.Errorf(abacus.CodeInvalid, wire, "is not valid UTF-8")
}

// int reads a whole number of the given bit size. JSON strings holding
// one are accepted where allowString (and always in text formats).
func (v value) int(wire string, bits int, allowString bool) (int64, *abacus.Error) {
	switch {
	case v.kind == kindNumber:
	case v.kind == kindString && (allowString || v.text):
	case allowString:
		return 0, typeError(wire, "a JSON integer or a string holding one", v)
	default:
		return 0, typeError(wire, "a JSON integer", v)
	}
	n, msg := parseInt(v.s, bits)
	if msg != "" {
		return 0, abacus.Errorf(abacus.CodeInvalid, wire, "%s", msg)
	}
	return n, nil
}

// extra reads the extra field: a string holding a JSON object (as CSGHub
// sends it) is kept verbatim; an object is kept as its compact text.
func (v value) extra(wire string) (string, *abacus.Error) {
	if !v.present {
		return "", nil
	}
	switch v.kind {
	case kindString:
		// "null" is what a Go producer's json.Marshal of a nil map gives;
		// it is no extra, as a JSON null is.
		if s := strings.TrimSpace(v.s); s == "" || s == "null" {
			return "", nil
		}
		if len(v.s) > abacus.MaxEventExtra {
			return "", abacus.Errorf(abacus.CodeInvalid, wire, "is longer than %d bytes", abacus.MaxEventExtra)
		}
		if !isJSONObject([]byte(v.s)) {
			return "", abacus.Errorf(abacus.CodeInvalid, wire, "must hold a JSON object such as {\"from_source\":\"…\"}, or be empty")
		}
		if err := textOfExtra([]byte(v.s), wire); err != nil {
			return "", err
		}
		return v.s, repeatedKey([]byte(v.s), wire)
	case kindObject:
		if len(v.raw) > 4*abacus.MaxEventExtra {
			return "", abacus.Errorf(abacus.CodeInvalid, wire, "is longer than %d bytes", abacus.MaxEventExtra)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v.raw); err != nil {
			return "", abacus.Errorf(abacus.CodeInvalid, wire, "is not a valid JSON object")
		}
		if err := textOfExtra(v.raw, wire); err != nil {
			return "", err
		}
		return b.String(), repeatedKey(v.raw, wire)
	}
	return "", typeError(wire, "a string holding a JSON object, or an object", v)
}

// repeatedKey refuses an extra object that holds a key twice, as an event
// that does: its token counts and licence counts are money, and which of
// two values its producer meant is not ours to guess (encoding/json would
// take the last).
func repeatedKey(raw []byte, wire string) *abacus.Error {
	o, _ := readObject(raw)
	seen := make(map[string]bool, len(o))
	for _, m := range o {
		if seen[m.key] {
			return abacus.Errorf(abacus.CodeInvalid, wire+"."+m.key, "appears more than once in the object")
		}
		seen[m.key] = true
	}
	return nil
}

// textOfExtra refuses an extra whose strings encoding/json, rating's and
// the producer's, would read with U+FFFD: half of an escaped surrogate
// pair ("\ud800"), say in a sku_unit_type no price could then match (QA).
func textOfExtra(b []byte, wire string) *abacus.Error {
	if at, bad := jsontext.BadString(b); bad {
		return abacus.Errorf(abacus.CodeInvalid, wire, "holds text that is not UTF-8, or half of an escaped surrogate pair (at byte %d)", at)
	}
	return nil
}

func isJSONObject(b []byte) bool {
	return json.Valid(b) && kindOf(b) == kindObject
}

func (v value) time(wire string) (t timeValue, err *abacus.Error) {
	if !v.present {
		return timeValue{}, nil
	}
	if v.kind != kindString {
		return timeValue{}, typeError(wire, "a string holding an RFC 3339 time such as \"2026-08-18T10:00:00+08:00\"", v)
	}
	if !utf8.ValidString(v.s) {
		return timeValue{}, notUTF8(wire)
	}
	if v.s == "" {
		return timeValue{}, abacus.Errorf(abacus.CodeInvalid, wire, "is empty; it must be an RFC 3339 time such as 2026-08-18T10:00:00+08:00")
	}
	tm, msg := parseTime(v.s)
	if msg != "" {
		return timeValue{}, abacus.Errorf(abacus.CodeInvalid, wire, "%s", msg)
	}
	return timeValue{t: tm, ok: true}, nil
}

// buildEvent parses the fields into an event. names gives each field's
// wire name for errors.
func buildEvent(f *[nFields]value, names *[nFields]string) (abacus.UsageEvent, *abacus.Error) {
	var ev abacus.UsageEvent
	for i := range f {
		if required[i] && !f[i].present {
			return ev, abacus.Errorf(abacus.CodeInvalid, names[i], "is required")
		}
	}
	var err *abacus.Error
	str := func(i int, dst *string) {
		if err == nil {
			*dst, err = f[i].str(names[i])
		}
	}
	var account string
	str(fUUID, &ev.ID)
	str(fUserUUID, &account)
	ev.Account = abacus.AccountID(account)
	if err != nil {
		return ev, err
	}
	if ev.Value, err = f[fValue].int(names[fValue], 64, true); err != nil {
		return ev, err
	}
	n, err := f[fValueType].int(names[fValueType], 32, false)
	if err != nil {
		return ev, err
	}
	ev.ValueType = int(n)
	if n, err = f[fScene].int(names[fScene], 32, false); err != nil {
		return ev, err
	}
	ev.Scene = int(n)
	str(fOpUID, &ev.OpUID)
	str(fResourceID, &ev.ResourceID)
	str(fResourceName, &ev.ResourceName)
	str(fCustomerID, &ev.CustomerID)
	if err != nil {
		return ev, err
	}
	t, err := f[fCreatedAt].time(names[fCreatedAt])
	if err != nil {
		return ev, err
	}
	if t.ok && t.t.IsZero() {
		// Validate would take it for a time left out; it was sent.
		return ev, wireError(abacus.ValidateEventTime(t.t), names)
	}
	ev.Time = t.t
	if ev.Extra, err = f[fExtra].extra(names[fExtra]); err != nil {
		return ev, err
	}
	return ev, nil
}

// validate runs Event.Validate and renames the field it names to the
// wire name of this format.
func validate(ev *abacus.UsageEvent, names *[nFields]string) *abacus.Error {
	return wireError(ev.Validate(), names)
}

// wireError is an error of the core's, naming a field by its CSGHub name,
// as an item's error, naming it by its name in this format.
func wireError(err error, names *[nFields]string) *abacus.Error {
	if err == nil {
		return nil
	}
	var ae *abacus.Error
	if !errors.As(err, &ae) {
		return abacus.Errorf(abacus.CodeInvalid, "event", "%v", err)
	}
	c := *ae
	for i, n := range csghubNames {
		if c.Field == n {
			c.Field = names[i]
			break
		}
	}
	if c.Field == "" {
		c.Field = "event"
	}
	if c.Code == "" {
		c.Code = abacus.CodeInvalid
	}
	return &c
}

// finish validates a built event and makes the item.
func finish(ev abacus.UsageEvent, id string, err *abacus.Error, names *[nFields]string) Item {
	if err == nil {
		// Validate checks the year before it converts to UTC, so
		// 2000-01-01T00:30:00+01:00 (1999 in UTC) would pass once and
		// fail when validated again; judge the instant, in UTC.
		ev.Time = ev.Time.UTC()
		err = validate(&ev, names)
	}
	if err != nil {
		return Item{Err: err, ID: displayID(id)}
	}
	it := Item{Event: ev, ID: ev.ID}
	if names != &csghubNames {
		it.names = names
	}
	return it
}

// displayID returns id as results should name it, so that its producer
// can tell which item an answer is about: canonical if it is a UUID; text
// that is not UTF-8 as JSON carries it, each bad run of bytes a U+FFFD;
// and an id longer than an event id may be as its first bytes, cut on a
// character, followed by "…", at most MaxEventIDLength bytes in all, so
// that an answer stays bounded (its error names the id's field and says
// how long it is).
func displayID(id string) string {
	if len(id) <= abacus.MaxEventIDLength && utf8.ValidString(id) {
		return abacus.CanonicalEventID(id)
	}
	cut := len(id) > abacus.MaxEventIDLength
	id = strings.ToValidUTF8(id[:min(len(id), 2*abacus.MaxEventIDLength)], "\uFFFD")
	if !cut && len(id) <= abacus.MaxEventIDLength {
		return id
	}
	const mark = "…"
	n := min(len(id), abacus.MaxEventIDLength-len(mark))
	for n > 0 && n < len(id) && !utf8.RuneStart(id[n]) {
		n--
	}
	return id[:n] + mark
}

// idText is the text of an id as sent, to name its item by, or "": a
// string's content, or a number's text (a number is no id, but it is
// what the producer sent for one).
func idText(raw []byte, ok bool) string {
	if !ok {
		return ""
	}
	switch kindOf(raw) {
	case kindString:
		return unquote(bytes.TrimSpace(raw))
	case kindNumber:
		return string(bytes.TrimSpace(raw))
	}
	return ""
}

// first returns the value of the first member named key: an id given
// twice names its item by the first.
func (o object) first(key string) ([]byte, bool) {
	for _, m := range o {
		if m.key == key {
			return m.raw, true
		}
	}
	return nil, false
}

// canonEqual compares two accounts the way Validate would store them:
// UUIDs in any case are equal.
func canonEqual(a, b string) bool {
	if a == b {
		return true
	}
	ca, err1 := abacus.ParseAccountID(a)
	cb, err2 := abacus.ParseAccountID(b)
	return err1 == nil && err2 == nil && ca == cb
}

// csghubItem decodes a CSGHub metering event object.
func csghubItem(o object) Item {
	var f [nFields]value
	var id string
	var err *abacus.Error
	for i, name := range csghubNames {
		var ferr *abacus.Error
		f[i], ferr = o.field(name, name)
		if err == nil {
			err = ferr
		}
	}
	id = idText(o.first("uuid"))
	if err == nil {
		err = o.caseVariant(csghubNames[:], "")
	}
	if err != nil {
		return Item{Err: err, ID: displayID(id)}
	}
	ev, err := buildEvent(&f, &csghubNames)
	return finish(ev, id, err, &csghubNames)
}

// show quotes s for a message, cut to a readable length.
func show(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strings.TrimSuffix(quote(s[:cut]), `"`) + `…"`
	}
	return quote(s)
}
