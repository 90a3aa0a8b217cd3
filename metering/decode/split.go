package decode

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/abacus-billing/abacus/internal/jsontext"
)

// The functions here walk JSON that json.Valid has accepted, so they only
// find where each value ends. encoding/json's Decoder did the same walk
// token by token, validating again and building an error value at the end
// of every element; on the ingestion path that was a third of the CPU.
// Values come back as the exact bytes sent, as json.RawMessage did.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i // a number, true, false or null
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
		j++
	}
	return j
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// eachElement calls fn with each element of the array that starts at
// b[i] (after any space).
func eachElement(b []byte, i int, fn func(raw []byte)) {
	i = skipSpace(b, i) + 1 // past '['
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == ']' {
			return
		}
		end := valueEnd(b, i)
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// eachMember calls fn with each key and value of the object that starts
// at b[i] (after any space).
func eachMember(b []byte, i int, fn func(key string, raw []byte)) {
	i = skipSpace(b, i) + 1 // past '{'
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return
		}
		keyEnd := stringEnd(b, i)
		key := unquote(b[i:keyEnd])
		i = skipSpace(b, keyEnd) + 1 // past ':'
		i = skipSpace(b, i)
		end := valueEnd(b, i)
		fn(key, b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// unquote returns the content of a valid JSON string with its escapes
// resolved. Unlike encoding/json it keeps invalid UTF-8 as sent, and a
// lone surrogate escape as the (invalid) bytes of its code point, instead
// of replacing either with U+FFFD: otherwise distinct ids would become one
// and the second event be dropped as a duplicate. Validate refuses them,
// naming the field.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	out := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); {
		switch {
		case inner[i] != '\\':
			out = append(out, inner[i])
			i++
		case inner[i+1] == 'u':
			var n int
			out, n = appendEscapedRune(out, inner[i:])
			i += n
		default:
			out = append(out, unescapeByte(inner[i+1]))
			i += 2
		}
	}
	return string(out)
}

// unescapeByte is the byte a one-letter escape such as \n stands for.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // " \ /
}

// appendEscapedRune decodes the \uXXXX escape at the start of esc, and the
// low surrogate escape after it if it starts a pair, returning how many
// bytes it read.
func appendEscapedRune(out, esc []byte) ([]byte, int) {
	r := hex4(esc[2:6])
	if utf16.IsSurrogate(r) && len(esc) >= 12 && esc[6] == '\\' && esc[7] == 'u' {
		if pair := utf16.DecodeRune(r, hex4(esc[8:12])); pair != utf8.RuneError {
			return utf8.AppendRune(out, pair), 12
		}
	}
	if utf16.IsSurrogate(r) {
		// The three-byte form of a surrogate, which is not UTF-8.
		return append(out, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F), 6
	}
	return utf8.AppendRune(out, r), 6
}

// hex4 reads four hex digits, which json.Valid has checked.
func hex4(h []byte) rune {
	r, _ := jsontext.Hex4(h)
	return r
}
