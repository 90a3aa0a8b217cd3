package decode

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseInt reads a whole number written as an optional minus sign and
// decimal digits: the JSON integer syntax, and what CSV cells and
// string-encoded numbers hold. It never goes through float64. On failure
// it returns a message saying what is wrong.
func parseInt(s string, bits int) (int64, string) {
	if s == "" {
		return 0, "is empty; it must be a whole number"
	}
	digits := strings.TrimPrefix(s, "-")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return 0, fmt.Sprintf("%s does not fit in a %d-bit integer", show(s), bits)
		}
		return n, ""
	}
	if strings.Trim(s, "+-.0123456789eE") == "" && strings.ContainsAny(s, "0123456789") {
		if strings.ContainsAny(s, "eE") {
			return 0, fmt.Sprintf("%s has an exponent; write the whole number out in digits", show(s))
		}
		if i := strings.IndexByte(s, '.'); i >= 0 {
			if strings.Trim(s[i+1:], "0") == "" {
				return 0, fmt.Sprintf("%s has a decimal point; write whole numbers without one", show(s))
			}
			return 0, fmt.Sprintf("%s has a fraction; only whole numbers are accepted", show(s))
		}
	}
	return 0, fmt.Sprintf("%s is not a whole number", show(s))
}

// timeValue is a parsed time; ok tells it was given.
type timeValue struct {
	t  time.Time
	ok bool
}

const rfc3339Example = "2026-08-18T10:00:00+08:00"

// parseTime reads an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, an optional
// fraction of any length (kept to the nanosecond), and Z or an offset
// ±HH:MM. The T and Z may be lower case and the T a space, as RFC 3339
// allows. A time without an offset is refused: its instant is unknown.
func parseTime(s string) (time.Time, string) {
	bad := func() (time.Time, string) {
		return time.Time{}, fmt.Sprintf("%s is not an RFC 3339 time such as %s", show(s), rfc3339Example)
	}
	if len(s) < 19 || len(s) > 100 {
		return bad()
	}
	for i := 0; i < 19; i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return bad()
			}
		case 10:
			if c != 'T' && c != 't' && c != ' ' {
				return bad()
			}
		case 13, 16:
			if c != ':' {
				return bad()
			}
		default:
			if c < '0' || c > '9' {
				return bad()
			}
		}
	}
	var b strings.Builder
	b.WriteString(s[:10])
	b.WriteByte('T')
	b.WriteString(s[11:19])
	rest := s[19:]
	if rest != "" && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return bad()
		}
		frac := rest[:n]
		if len(frac) > 10 {
			frac = frac[:10] // nanoseconds; Validate keeps microseconds anyway
		}
		b.WriteString(frac)
		rest = rest[n:]
	}
	switch {
	case rest == "":
		return time.Time{}, fmt.Sprintf("%s has no UTC offset; write it in RFC 3339 with Z or an offset, such as %s", show(s), rfc3339Example)
	case rest == "Z" || rest == "z":
		b.WriteByte('Z')
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigits(rest[1:3]) && isDigits(rest[4:6]):
		if rest[1:3] > "23" || rest[4:6] > "59" {
			return time.Time{}, fmt.Sprintf("%s has an offset out of range", show(s))
		}
		b.WriteString(rest)
	default:
		return bad()
	}
	t, err := time.Parse(time.RFC3339Nano, b.String())
	if err != nil {
		msg := ""
		if pe, ok := err.(*time.ParseError); ok && strings.HasPrefix(pe.Message, ": ") {
			msg = " (" + strings.TrimPrefix(pe.Message, ": ") + ")"
		}
		return time.Time{}, fmt.Sprintf("%s is not a valid date and time%s", show(s), msg)
	}
	return t, ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func quote(s string) string { return strconv.Quote(s) }
