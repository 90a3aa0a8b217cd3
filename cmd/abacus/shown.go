package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// shown is an id or key as printed: quoted, with escapes, when it holds a
// space, a quote, a backslash, a character that is not printable or bytes
// that are not UTF-8, or is not in NFC, so that it reads as itself and as
// no other. Printed as sent, an id with a terminal escape cleared and
// recoloured the operator's terminal, one ending in CR split its line of
// the rejects file, and one ending in a space looked like another (QA).
func shown(id string) string {
	switch {
	case utf8.ValidString(id) && !norm.NFC.IsNormalString(id):
		return strconv.QuoteToASCII(id) // its combining marks as escapes: quoted as they are, é looks composed
	case id == "" || !utf8.ValidString(id) ||
		strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' || r == '\\' }) >= 0:
		return strconv.Quote(id)
	}
	return id
}

// unseen is a character that acts on a terminal or a line rather than
// showing: a control character, a format character such as a
// bidirectional override, or a space other than the ASCII one.
func unseen(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ')
}

// escapeUnseen writes the unseen characters of s as escapes.
func escapeUnseen(s string) string {
	if strings.IndexFunc(s, unseen) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unseen(r) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
