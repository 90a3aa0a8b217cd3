package abacus

import "unicode/utf8"

// JSONBytes is how many bytes text takes as a JSON string, as Go's
// encoding/json writes it without HTML escapes (as the API does): a
// control character, U+2028 or U+2029 as six (\u0001), a quote, a
// backslash, \n, \r or \t as two, and bytes that are not UTF-8 as base64
// (an API gives such a payload so).
// What a page of stored text takes to answer is bounded by this, not by
// its raw length: a dead letter of control characters took six times its
// length (QA).
func JSONBytes[T string | []byte](text T) int {
	if b, ok := any(text).([]byte); ok && !utf8.Valid(b) {
		return (len(b)+2)/3*4 + 2
	}
	s, n := string(text), 2
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20 || r == '\u2028' || r == '\u2029' || r == utf8.RuneError && size == 1:
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}
