// Package jsontext finds what encoding/json would change in a JSON text
// without a word: bytes of a string that are not UTF-8, and an escaped
// half of a surrogate pair ("\ud800" alone), each of which it decodes as
// U+FFFD. A name or memo so changed is stored as something nobody sent,
// and a key of a price (a resource id) so changed matches no event.
package jsontext

import "unicode/utf8"

// BadString returns the offset of the first byte, or escape, of a string
// in the JSON text b that encoding/json would replace with U+FFFD. It
// reads b as JSON only as far as it needs to find strings: a text that is
// not valid JSON is for the decoder to refuse.
func BadString(b []byte) (int, bool) {
	inString := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case !inString:
			inString = c == '"'
			i++
		case c == '"':
			inString = false
			i++
		case c == '\\':
			if i+6 > len(b) || b[i+1] != 'u' {
				i += 2
				continue
			}
			r, ok := Hex4(b[i+2 : i+6])
			switch {
			case !ok:
				i += 2
			case r >= 0xDC00 && r < 0xE000: // a low half with no high one before it
				return i, true
			case r >= 0xD800 && r < 0xDC00:
				if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
					return i, true
				}
				if lo, ok := Hex4(b[i+8 : i+12]); !ok || lo < 0xDC00 || lo >= 0xE000 {
					return i, true
				}
				i += 12
			default:
				i += 6
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return i, true
			}
			i += n
		}
	}
	return 0, false
}

// Hex4 reads the four hex digits of a \u escape; ok is false if they are
// not four hex digits.
func Hex4(h []byte) (r rune, ok bool) {
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
