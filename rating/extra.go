package rating

import (
	"encoding/json"
	"strings"

	"github.com/abacus-billing/abacus"
)

// extraFields is an event's extra as rating reads it: the members of the
// JSON object, each value the raw JSON text. A key given twice has its
// last value, as when encoding/json decodes the object into a map.
type extraFields []extraField

type extraField struct {
	key string // decoded
	raw string // the value's JSON text
}

// get returns the raw value of key.
func (x extraFields) get(key string) (string, bool) {
	for i := len(x) - 1; i >= 0; i-- {
		if x[i].key == key {
			return x[i].raw, true
		}
	}
	return "", false
}

// caseVariant refuses a member whose key is one of keys in another case
// ("PROMPT_TOKEN_NUM"): encoding/json, decoding extra into a struct as a
// producer may, would read it as that key, so abacus would bill the event
// one way and the producer's own books another. The event's top-level
// fields are refused alike. A key that is none of them in any case is
// left alone, as producers add their own.
func (x extraFields) caseVariant(keys ...string) error {
	for _, f := range x {
		for _, key := range keys {
			if f.key != key && strings.EqualFold(f.key, key) {
				return abacus.ErrKeyInAnotherCase("extra."+f.key, key)
			}
		}
	}
	return nil
}

// readKeys are the keys of extra rating reads whatever the price.
var readKeys = []string{ExtraSKUType, ExtraSKUKind, ExtraSKUUnitType, ExtraPromptTokens, ExtraCompletionTokens, ExtraCachedTokens, ExtraRunning}

// parseExtra reads an event's extra: empty, null or a JSON object. The
// fields are appended to buf (the caller's, to spare an allocation).
//
// The usual extra, a flat object of plain ASCII strings, numbers, booleans
// and nulls, is scanned directly; anything else (escapes, nesting,
// non-ASCII text, any doubt about validity) goes to encoding/json, so
// what is accepted, its meaning and the errors are encoding/json's.
func parseExtra(s string, buf extraFields) (extraFields, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if fs, ok := scanFlatObject(s, buf); ok {
		return fs, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "extra", "is not a JSON object: %v", err)
	}
	if m == nil {
		return nil, nil // null
	}
	fs := buf[:0]
	if fs == nil {
		fs = make(extraFields, 0, len(m))
	}
	for k, v := range m {
		fs = append(fs, extraField{k, string(v)})
	}
	return fs, nil
}

// scanFlatObject parses s when it is, in JSON's grammar,
//
//	ws { ws } ws   or   ws { member (ws , member)* ws } ws
//	member: ws string ws : ws value
//	value:  string | number | true | false | null
//
// with every string made of printable ASCII without backslashes (so its
// text is exactly what lies between the quotes). It reports false for
// anything else, valid or not.
func scanFlatObject(s string, buf extraFields) (extraFields, bool) {
	fs := buf[:0]
	i := skipWS(s, 0)
	if i == len(s) || s[i] != '{' {
		return nil, false
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		if skipWS(s, i+1) != len(s) {
			return nil, false
		}
		if fs == nil {
			fs = extraFields{}
		}
		return fs, true
	}
	for {
		start := i
		end, ok := scanPlainString(s, i)
		if !ok {
			return nil, false
		}
		key := s[start+1 : end-1]
		i = skipWS(s, end)
		if i == len(s) || s[i] != ':' {
			return nil, false
		}
		i = skipWS(s, i+1)
		start = i
		if i, ok = scanFlatValue(s, i); !ok {
			return nil, false
		}
		fs = append(fs, extraField{key, s[start:i]})
		i = skipWS(s, i)
		if i == len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			if skipWS(s, i+1) != len(s) {
				return nil, false
			}
			return fs, true
		default:
			return nil, false
		}
	}
}

// skipWS skips JSON whitespace from i.
func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanPlainString returns the end of the string that starts at i, if it
// is one of printable ASCII without backslashes.
func scanPlainString(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return 0, false
	}
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return 0, false
		}
	}
	return 0, false
}

// scanFlatValue returns the end of the value that starts at i: a plain
// string, a number or a literal, followed by whitespace, ',' or '}'.
func scanFlatValue(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	var end int
	switch c := s[i]; {
	case c == '"':
		var ok bool
		if end, ok = scanPlainString(s, i); !ok {
			return 0, false
		}
	case c == '-' || ('0' <= c && c <= '9'):
		var ok bool
		if end, ok = scanNumber(s, i); !ok {
			return 0, false
		}
	case strings.HasPrefix(s[i:], "true"):
		end = i + 4
	case strings.HasPrefix(s[i:], "false"):
		end = i + 5
	case strings.HasPrefix(s[i:], "null"):
		end = i + 4
	default:
		return 0, false
	}
	if end < len(s) {
		switch s[end] {
		case ' ', '\t', '\n', '\r', ',', '}':
		default:
			return 0, false
		}
	}
	return end, true
}

// scanNumber returns the end of the JSON number that starts at i:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// plainStringText returns the text of the JSON string raw when it is one
// of printable ASCII without backslashes: what encoding/json would decode.
func plainStringText(raw string) (string, bool) {
	if end, ok := scanPlainString(raw, 0); ok && end == len(raw) {
		return raw[1 : len(raw)-1], true
	}
	return "", false
}
