package decode

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// pastLineEnd is the problem of a line whose quoted field runs past its
// end.
const pastLineEnd = "opens a quoted field that runs past the end of the line: no field may hold a line break"

// readRecord reads the text of one CSV record, which is one physical line:
// no field may hold a line break, though RFC 4180 allows one in a quoted
// field. It returns the 1-based line, and problem, an error's message,
// for a line it cannot take: one longer than MaxLine (its text is then
// not kept), or one that ends inside a quoted field (pastLineEnd; rec is
// then the text before that field, the fields it holds whole).
//
// A quoted field over several lines is most likely a stray quote: read
// as RFC 4180 does, it would take the lines after it, up to another
// quote, into its record, and their events would be lost in one field.
// Its line alone is refused instead, and the next line starts a record
// of its own, so that every line of a file is an event or an error.
func (r *Reader) readRecord() (rec []byte, line int, problem string, err error) {
	st := csvState{fieldStart: true}
	var over bool
	r.buf, over, err = r.lr.readLine(r.buf[:0], MaxLine+2, st.scan)
	if err != nil {
		return nil, r.lr.line + 1, "", err
	}
	line = r.lr.line
	if over || len(bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte("\n")), []byte("\r"))) > MaxLine {
		return nil, line, fmt.Sprintf("is longer than %d bytes", MaxLine), nil
	}
	if !st.ended && bytes.HasSuffix(r.buf, []byte("\n")) {
		// The line end is inside quotes. (A quote left open on the
		// last line, with no line end, is left to encoding/csv.)
		return r.buf[:st.quoteAt], line, pastLineEnd, nil
	}
	return r.buf, line, "", nil
}

// parseCSVRecord parses one record's text with encoding/csv. It returns
// nil cells for a blank record and a message for a malformed one, whose
// cells are then those before the field at fault, to name its event by.
func parseCSVRecord(rec []byte) ([]string, string) {
	if len(bytes.Trim(rec, " \t\r\n")) == 0 {
		return nil, ""
	}
	cr := csv.NewReader(bytes.NewReader(rec))
	cr.FieldsPerRecord = -1
	cells, err := cr.Read()
	if err == io.EOF {
		return nil, ""
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fieldsBefore(rec, pe.Column-1), fmt.Sprintf("%v, at byte %d", pe.Err, pe.Column)
		}
		return nil, err.Error()
	}
	if _, err := cr.Read(); err != io.EOF {
		return nil, "the record cannot be split from the next"
	}
	return cells, ""
}

// fieldsBefore returns the whole fields of rec before the one that holds
// its byte at, or nil if they cannot be read either.
func fieldsBefore(rec []byte, at int) []string {
	st := csvState{fieldStart: true}
	st.scan(rec[:min(max(at, 0), len(rec))])
	if st.fieldAt == 0 {
		return nil
	}
	cells, perr := parseCSVRecord(rec[:st.fieldAt-1]) // without the comma that ends them
	if perr != "" {
		return nil
	}
	return cells
}

// csvState follows quoting the way encoding/csv does, to find whether a
// line ends inside a quoted field.
type csvState struct {
	inQuotes   bool
	quoteSeen  bool // inside quotes, a quote that may close them or be doubled
	fieldStart bool
	ended      bool // a line end outside quotes
	n          int  // bytes scanned
	quoteAt    int  // where the last quoted field opened
	fieldAt    int  // where the last field opened, after the first
}

func (s *csvState) scan(chunk []byte) {
	for _, c := range chunk {
		s.n++
		if s.inQuotes {
			if s.quoteSeen {
				s.quoteSeen = false
				if c == '"' {
					continue // "" is a quote
				}
				s.inQuotes = false
			} else {
				if c == '"' {
					s.quoteSeen = true
				}
				continue
			}
		}
		switch c {
		case ',':
			s.fieldStart = true
			s.fieldAt = s.n
		case '\n':
			s.ended = true
		case '"':
			if s.fieldStart {
				s.inQuotes = true
				s.quoteAt = s.n - 1
			}
			s.fieldStart = false
		default:
			s.fieldStart = false
		}
	}
}
