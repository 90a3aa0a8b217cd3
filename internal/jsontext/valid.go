package jsontext

// Valid reports whether b is one JSON value, as json.Valid does, at any
// depth: json.Valid refuses a text nested more than 10,000 deep, so one
// such event in a batch made the whole batch "not valid JSON" where only
// that event is wrong (QA). Its containers are kept one bit a level, so a
// text of n bytes takes at most n/8 bytes of stack.
func Valid(b []byte) bool { return ErrorAt(b) < 0 }

// ErrorAt returns where b stops being one JSON value, at any depth: the
// offset of the token, or the byte, that cannot come there (len(b) if b
// ends too soon), or -1 if b is one JSON value. encoding/json reports a
// text that is both deep and broken as too deep, where the fault is
// elsewhere (QA).
func ErrorAt(b []byte) int {
	var open []uint64 // bit d set: level d is an object
	depth := 0
	push := func(object bool) {
		if depth/64 == len(open) {
			open = append(open, 0)
		}
		if object {
			open[depth/64] |= 1 << (depth % 64)
		} else {
			open[depth/64] &^= 1 << (depth % 64)
		}
		depth++
	}
	inObject := func() bool { d := depth - 1; return open[d/64]&(1<<(d%64)) != 0 }

	i := space(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return len(b)
		}
		start := i
		switch c := b[i]; c {
		case '{':
			if i = space(b, i+1); i < len(b) && b[i] == '}' {
				i++
				break
			}
			push(true)
			at := i
			if i = member(b, i); i < 0 {
				return at
			}
			continue
		case '[':
			if i = space(b, i+1); i < len(b) && b[i] == ']' {
				i++
				break
			}
			push(false)
			continue
		case '"':
			i = stringEnd(b, i)
		case 't':
			i = literal(b, i, "true")
		case 'f':
			i = literal(b, i, "false")
		case 'n':
			i = literal(b, i, "null")
		default:
			i = numberEnd(b, i)
		}
		if i < 0 {
			return start
		}
		// A value ended at i: close what it ends, then expect the next.
		for {
			i = space(b, i)
			if depth == 0 {
				if i == len(b) {
					return -1
				}
				return i
			}
			if i >= len(b) {
				return len(b)
			}
			object := inObject()
			if b[i] == ',' {
				i = space(b, i+1)
				if object {
					at := i
					if i = member(b, i); i < 0 {
						return at
					}
				}
				break
			}
			if object && b[i] != '}' || !object && b[i] != ']' {
				return i
			}
			depth--
			i++
		}
	}
}

// member reads a key and its colon at i and returns where its value
// starts, or -1.
func member(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = stringEnd(b, i); i < 0 {
		return -1
	}
	if i = space(b, i); i >= len(b) || b[i] != ':' {
		return -1
	}
	return space(b, i+1)
}

func space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i],
// or -1. As for encoding/json, bytes that are not UTF-8 do not make it
// invalid; control characters and unknown escapes do.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(b) {
					return -1
				}
				if _, ok := Hex4(b[i+2 : i+6]); !ok {
					return -1
				}
				i += 5
			default:
				return -1
			}
		}
	}
	return -1
}

func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// numberEnd returns the index just past the number that starts at b[i],
// or -1: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
