package decode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/jsontext"
)

// MaxLine bounds one line, in bytes (not counting its line end). A longer
// one is an item with an error; the reader goes on after it without
// holding it in memory.
const MaxLine = 1 << 20

// Reader streams the events of a file, one item per line (a CSV record
// is one line). Memory is bounded by MaxLine per item. A Reader is not
// safe for concurrent use.
type Reader struct {
	lr  lineReader
	csv bool
	col []int // CSV: the field of each column
	buf []byte
	err error // sticky: io.EOF or an I/O error
}

// NewNDJSONReader reads newline-delimited JSON: each line a CSGHub event
// object, or a CloudEvent if it has "specversion". Blank lines are skipped.
func NewNDJSONReader(r io.Reader) *Reader {
	return &Reader{lr: newLineReader(r)}
}

// NewCSVReader reads RFC 4180 CSV, one record a line (no field may hold
// a line break), whose header row names CSGHub fields
// (uuid, user_uuid, value, value_type, scene, op_uid, resource_id,
// resource_name, customer_id, created_at, extra) in any order. It reads
// the header at once: an unknown or repeated column, or a missing
// required one (uuid, user_uuid, value, value_type, scene, created_at),
// is an *abacus.Error naming the column.
func NewCSVReader(r io.Reader) (*Reader, error) {
	rd := &Reader{lr: newLineReader(r), csv: true}
	for {
		rec, line, problem, err := rd.readRecord()
		if err == io.EOF {
			return nil, abacus.Errorf(abacus.CodeInvalid, "header", "is missing: the file is empty; its first row must name the columns (%s)", strings.Join(csghubNames[:], ","))
		}
		if err != nil {
			return nil, err
		}
		if problem != "" {
			return nil, abacus.Errorf(abacus.CodeInvalid, "header", "%s (line %d)", problem, line)
		}
		cells, perr := parseCSVRecord(rec)
		if perr != "" {
			return nil, abacus.Errorf(abacus.CodeInvalid, "header", "is not valid CSV: %s (line %d)", perr, line)
		}
		if cells == nil {
			continue // blank
		}
		if err := rd.setHeader(cells); err != nil {
			return nil, err
		}
		return rd, nil
	}
}

func (r *Reader) setHeader(cells []string) error {
	seen := [nFields]bool{}
	col := make([]int, len(cells))
	for i, c := range cells {
		name := strings.ToLower(strings.TrimSpace(c))
		if name == "" {
			return abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("column %d", i+1), "has no name in the header")
		}
		f := -1
		for j, n := range csghubNames {
			if n == name {
				f = j
			}
		}
		if f < 0 {
			return abacus.Errorf(abacus.CodeInvalid, headerField(c), "is not a known column; the first line of a CSV file names its columns, from %s", strings.Join(csghubNames[:], ", "))
		}
		if seen[f] {
			return abacus.Errorf(abacus.CodeInvalid, name, "appears twice in the header")
		}
		seen[f] = true
		col[i] = f
	}
	for _, f := range []int{fUUID, fUserUUID, fValue, fValueType, fScene, fCreatedAt} {
		if !seen[f] {
			return abacus.Errorf(abacus.CodeInvalid, csghubNames[f], "column is missing from the header; it is required")
		}
	}
	r.col = col
	return nil
}

// NamesAColumn says a line reads as a CSV header: a record with a cell
// that names a column. A file's first line that does not may still be
// NDJSON whose first line is broken (a file split mid-line), which had
// been refused whole as CSV misnamed (QA).
func NamesAColumn(line []byte) bool {
	cells, problem := parseCSVRecord(line)
	if problem != "" {
		return false
	}
	return slices.ContainsFunc(cells, isColumn)
}

// isColumn says a header cell names a column.
func isColumn(cell string) bool {
	return slices.Contains(csghubNames[:], strings.ToLower(strings.TrimSpace(cell)))
}

// namesColumns says a record is a header row: every cell a column's name.
// Files joined end to end (cat, or gzip members, which are read as zcat
// reads them) carry the next file's header in the middle, in an order of
// its own; no event is spelled so, as its value would be a name.
func namesColumns(cells []string) bool {
	return !slices.ContainsFunc(cells, func(c string) bool { return !isColumn(c) })
}

// joinedHeader is the header row that a record of n fields runs into, if
// its fields from the nth on name columns and its nth ends with one: the
// last line of a file without its final line break, joined to the next
// file's header. It takes the longest name the nth field ends with.
func joinedHeader(cells []string, n int) []string {
	if len(cells) <= n || !namesColumns(cells[n:]) {
		return nil
	}
	first := ""
	for _, c := range csghubNames {
		if strings.HasSuffix(strings.ToLower(cells[n-1]), c) && len(c) > len(first) {
			first = c
		}
	}
	if first == "" {
		return nil
	}
	return append([]string{first}, cells[n:]...)
}

// headerAfterQuote is the header row that a record runs into after a
// quote that closes its last field: the next file's header, joined to a
// line whose last field is quoted. It tries the first few quotes that a
// column's name and a comma or the line's end follow.
func headerAfterQuote(rec []byte) []string {
	rec = bytes.TrimRight(rec, "\r\n")
	for i, tries := 0, 0; tries < 8; {
		j := bytes.IndexByte(rec[i:], '"')
		if j < 0 {
			return nil
		}
		i += j + 1
		rest := bytes.TrimPrefix(rec[i:], utf8BOM) // the next file's mark
		if !slices.ContainsFunc(csghubNames[:], func(n string) bool {
			return len(rest) >= len(n) && strings.EqualFold(string(rest[:len(n)]), n) && (len(rest) == len(n) || rest[len(n)] == ',')
		}) {
			continue
		}
		tries++
		if cells, problem := parseCSVRecord(rest); problem == "" && namesColumns(cells) {
			return cells
		}
	}
	return nil
}

// joinedError is the error of a line that runs into the next file's
// header: what is wrong with it as a record, and that the header takes
// over.
func joinedError(line int, problem string, header []string) *abacus.Error {
	return lineError(line, "%s: its last field runs into a header row (%s), as where files are joined end to end and the first lacks its final "+
		"line break; this line is rejected (send its event again), and the lines after it are read by that header", problem, strings.Join(header, ","))
}

// headerField names an unknown column for an error's Field: as written,
// but cut and made printable.
func headerField(c string) string {
	c = strings.TrimSpace(c)
	if q := show(c); q != `"`+c+`"` || len(c) > 64 {
		return q
	}
	return c
}

// Next returns the next item. It returns io.EOF after the last one, and
// an I/O error as an error; a bad line or record is an Item with Err.
func (r *Reader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	for {
		var (
			it  Item
			ok  bool
			err error
		)
		if r.csv {
			it, ok, err = r.nextCSV()
		} else {
			it, ok, err = r.nextNDJSON()
		}
		if err != nil {
			r.err = err
			return Item{}, err
		}
		if ok {
			return it, nil
		}
	}
}

func lineError(line int, format string, args ...any) *abacus.Error {
	return abacus.Errorf(abacus.CodeInvalid, fmt.Sprintf("line %d", line), format, args...)
}

// nextNDJSON reads one line; ok is false for a blank line.
func (r *Reader) nextNDJSON() (Item, bool, error) {
	var over bool
	var err error
	r.buf, over, err = r.lr.readLine(r.buf[:0], MaxLine+2, nil)
	if err != nil {
		return Item{}, false, err
	}
	line := r.lr.line
	// A byte-order mark starts the next file of files joined end to end.
	content := bytes.Trim(bytes.TrimPrefix(r.buf, utf8BOM), " \t\r\n")
	if over || len(content) > MaxLine {
		return Item{Line: line, Err: lineError(line, "is longer than %d bytes", MaxLine)}, true, nil
	}
	if len(content) == 0 {
		return Item{}, false, nil
	}
	if jerr := checkJSON(content); jerr != nil {
		if err := joinedEvents(line, content); err != nil {
			return Item{Line: line, Err: err}, true, nil
		}
		return Item{Line: line, Err: lineError(line, "is not valid JSON: %s", jerr)}, true, nil
	}
	it := decodeOne(content, formatAuto, func() string { return fmt.Sprintf("line %d", line) })
	it.Line = line
	return it, true, nil
}

// joinedEvents is the error of a line, not one JSON value, that holds an
// event and then another object: NDJSON files joined end to end (cat a b,
// or gzip members) where the first lacks its final line break, the next
// file's byte-order mark maybe between. It is nil for any other line.
func joinedEvents(line int, content []byte) *abacus.Error {
	if kindOf(content) != kindObject {
		return nil
	}
	whole, rest := 0, content // rest starts with an object
	for {
		at := jsontext.ErrorAt(rest)
		if at < 0 {
			whole, rest = whole+1, nil
			break
		}
		if at == len(rest) || jsontext.ErrorAt(rest[:at]) >= 0 { // at is within it: it is not whole
			break
		}
		next := bytes.TrimPrefix(rest[at:], utf8BOM)
		if len(next) == 0 || next[0] != '{' { // no object after it
			return nil
		}
		whole, rest = whole+1, next
	}
	const why = "as where files are joined end to end and the first lacks its final line break; this line is rejected: " +
		"put each event on a line of its own and send them again"
	switch {
	case whole == 0:
		return nil
	case rest == nil:
		return lineError(line, "holds %d events joined on one line, %s", whole, why)
	}
	return lineError(line, "holds events joined on one line (%d whole, then from byte %d one that is not), %s", whole, len(content)-len(rest)+1, why)
}

// nextCSV reads one record; ok is false for a blank one.
func (r *Reader) nextCSV() (Item, bool, error) {
	rec, line, problem, err := r.readRecord()
	if err != nil {
		return Item{}, false, err
	}
	if problem == pastLineEnd {
		// The fields before the open one may name the event.
		it := Item{Line: line, Err: lineError(line, "%s; the next line is read as a record of its own", problem)}
		if cells, _ := parseCSVRecord(rec); len(cells) > 1 {
			it.ID = r.id(cells[:len(cells)-1]) // the last is the open field's start
		}
		return it, true, nil
	}
	if problem != "" {
		return Item{Line: line, Err: lineError(line, "%s", problem)}, true, nil
	}
	cells, perr := parseCSVRecord(bytes.TrimPrefix(rec, utf8BOM))
	if perr != "" {
		it := Item{Line: line, ID: r.id(cells), Err: lineError(line, "is not valid CSV: %s", perr)}
		// A quoted last field (extra's JSON) joined to the next file's
		// header is no valid CSV: that header must still take over (QA).
		if header := headerAfterQuote(rec); header != nil && r.setHeader(header) == nil {
			it.Err = joinedError(line, fmt.Sprintf("is not valid CSV (%s)", perr), header)
		}
		return it, true, nil
	}
	if cells == nil {
		return Item{}, false, nil
	}
	if namesColumns(cells) {
		if err := r.setHeader(cells); err != nil {
			var ae *abacus.Error
			errors.As(err, &ae)
			return Item{Line: line, Err: abacus.Errorf(ae.Code, ae.Field, "%s (in the header row at line %d, of files joined end to end; the columns stay as the header before named them)", ae.Message, line)}, true, nil
		}
		return Item{}, false, nil
	}
	if len(cells) != len(r.col) {
		it := Item{Line: line, Err: lineError(line, "has %d fields; the header has %d", len(cells), len(r.col))}
		it.ID = r.id(cells)
		if header := joinedHeader(cells, len(r.col)); header != nil && r.setHeader(header) == nil {
			// Read by the header before, the next file's rows would take
			// each other's columns (QA: a value of 2 became value_type 2).
			it.Err = joinedError(line, fmt.Sprintf("has %d fields; the header has %d", len(cells), len(r.col)), header)
		}
		return it, true, nil
	}
	var f [nFields]value
	for i, c := range cells {
		f[r.col[i]] = textValue(c)
	}
	ev, berr := buildEvent(&f, &csghubNames)
	it := finish(ev, f[fUUID].s, berr, &csghubNames)
	it.Line = line
	return it, true, nil
}

// id is the event id among the leading cells of a record that cannot be
// read, to name it by, or "".
func (r *Reader) id(cells []string) string {
	for i, f := range r.col {
		if f == fUUID && i < len(cells) {
			return displayID(cells[i])
		}
	}
	return ""
}

// lineReader reads physical lines with bounded memory.
type lineReader struct {
	br   *bufio.Reader
	line int  // lines read so far
	eof  bool // the source has no more lines
}

func newLineReader(r io.Reader) lineReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(3)
	}
	return lineReader{br: br}
}

// readLine appends the next line, with its newline, to buf as long as buf
// stays within max bytes; over reports that it did not. scan, if set,
// sees every byte of the line. It returns io.EOF if there is no line.
func (l *lineReader) readLine(buf []byte, max int, scan func([]byte)) (_ []byte, over bool, err error) {
	if l.eof {
		return buf, false, io.EOF
	}
	got := false
	for {
		chunk, err := l.br.ReadSlice('\n')
		if len(chunk) > 0 {
			got = true
			if scan != nil {
				scan(chunk)
			}
			if !over && len(buf)+len(chunk) <= max {
				buf = append(buf, chunk...)
			} else {
				over = true
			}
		}
		switch err {
		case nil:
			l.line++
			return buf, over, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			l.eof = true
			if !got {
				return buf, over, io.EOF
			}
			l.line++
			return buf, over, nil
		default:
			return buf, over, err
		}
	}
}
