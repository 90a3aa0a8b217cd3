package decode

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
)

// readRecord reads the text of one CSV record: physical lines up to a
// newline outside quotes (RFC 4180 allows newlines in quoted fields). It
// returns the 1-based line the record starts on, and problem, an error's
// message, for a record it cannot read: one longer than MaxLine (its text
// is then not kept), or a quote left open over several lines.
//
// A quoted field that is not closed by the end of the file, or within
// MaxLine, would take every line after it into one record: that line
// alone is refused and the lines after it are read again, so that a
// stray quote costs one line, not the rest of the file.
func (r *Reader) readRecord() (rec []byte, line int, problem string, err error) {
	var st csvState
	st.fieldStart = true
	r.buf, r.ends, r.overs = r.buf[:0], r.ends[:0], r.overs[:0]
	line = r.lr.line + 1
	for {
		start := len(r.buf)
		var over bool
		r.buf, over, err = r.lr.readLine(r.buf, start+MaxLine+2, st.scan)
		if err == io.EOF {
			if len(r.ends) == 0 {
				return nil, line, "", io.EOF
			}
			return r.closing(line, "by the end of the file")
		}
		if err != nil {
			return nil, line, "", err
		}
		if over {
			r.buf = r.buf[:start] // a line too long is not kept
		}
		r.ends, r.overs = append(r.ends, len(r.buf)), append(r.overs, over)
		if st.ended || r.lr.atEnd() {
			if st.open() {
				return r.closing(line, "by the end of the file")
			}
			if slices.Contains(r.overs, true) || len(bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte("\n")), []byte("\r"))) > MaxLine {
				return nil, line, fmt.Sprintf("starts a record longer than %d bytes", MaxLine), nil
			}
			return r.buf, line, "", nil
		}
		if len(r.buf) > MaxLine {
			return r.closing(line, fmt.Sprintf("within %d bytes", MaxLine))
		}
	}
}

// closing ends a record whose quoted field is still open: on one line,
// the record is what it is (encoding/csv then says what is wrong); over
// several, its first line is refused and the others are read again.
func (r *Reader) closing(line int, where string) ([]byte, int, string, error) {
	if len(r.ends) == 1 {
		if r.overs[0] {
			return nil, line, fmt.Sprintf("starts a record longer than %d bytes", MaxLine), nil
		}
		return r.buf, line, "", nil
	}
	return nil, line, fmt.Sprintf("opens a quoted field that is not closed %s%s", where, r.readAgain()), nil
}

// readAgain gives back every line of the last record after its first,
// to be read again as records of their own, and says so for the first
// line's error. A record over several lines that is not one valid record
// is most likely a stray quote on its first line.
func (r *Reader) readAgain() string {
	if len(r.ends) < 2 {
		return ""
	}
	lines := make([]givenBack, 0, len(r.ends)-1)
	for i := 1; i < len(r.ends); i++ {
		lines = append(lines, givenBack{text: bytes.Clone(r.buf[r.ends[i-1]:r.ends[i]]), over: r.overs[i]})
	}
	r.lr.giveBack(lines)
	r.ends, r.overs = r.ends[:1], r.overs[:1]
	if len(lines) == 1 {
		return "; the line after it, which the record ran into, is read again"
	}
	return fmt.Sprintf("; the %d lines after it, which the record ran into, are read again", len(lines))
}

// parseCSVRecord parses one record's text, which starts on line, with
// encoding/csv. It returns nil cells for a blank record and a message for
// a malformed one.
func parseCSVRecord(rec []byte, line int) ([]string, string) {
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
			where := fmt.Sprintf("at byte %d", pe.Column)
			if pe.Line > 1 {
				where += fmt.Sprintf(" of line %d", line+pe.Line-1)
			}
			return nil, fmt.Sprintf("%v, %s", pe.Err, where)
		}
		return nil, err.Error()
	}
	if _, err := cr.Read(); err != io.EOF {
		return nil, "the record cannot be split from the next"
	}
	return cells, ""
}

// csvState follows quoting the way encoding/csv does, to find where a
// record ends.
type csvState struct {
	inQuotes   bool
	quoteSeen  bool // inside quotes, a quote that may close them or be doubled
	fieldStart bool
	ended      bool
}

// open says a quoted field is open: a quote seen last may close it.
func (s *csvState) open() bool { return s.inQuotes && !s.quoteSeen }

func (s *csvState) scan(chunk []byte) {
	for _, c := range chunk {
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
		case '\n':
			s.ended = true
		case '"':
			if s.fieldStart {
				s.inQuotes = true
			}
			s.fieldStart = false
		default:
			s.fieldStart = false
		}
	}
}
