package decode

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
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

// unquote returns the content of a valid JSON string as encoding/json
// would: escapes resolved, invalid UTF-8 replaced.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	json.Unmarshal(raw, &s) // valid JSON: it cannot fail
	return s
}
