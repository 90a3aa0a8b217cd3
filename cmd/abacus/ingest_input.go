package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/abacus-billing/abacus/internal/gzipmembers"
	"github.com/abacus-billing/abacus/metering/decode"
)

// source reads one input on a goroutine of its own and hands over its
// items in order. Its fields are the reader's until the channel that
// says they are set is closed: failed and prog's size until ready, err
// until items.
type source struct {
	ready  chan struct{}    // closed once the input is open and its format known, or failed
	failed error            // why the input could not be read at all
	items  chan decode.Item // closed after the last item
	err    error            // why reading stopped before the end, if it did
	stop   chan struct{}    // closed when no more items are taken
}

func (s *source) read(name, format string, prog *progress) {
	defer close(s.items)
	rd, closeInput, err := openInput(name, format, prog)
	s.failed = err
	close(s.ready)
	if err != nil {
		return
	}
	defer closeInput()
	for {
		it, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			s.err = err
			return
		}
		select {
		case s.items <- it:
		case <-s.stop:
			return
		}
	}
}

// openInput opens a file (or standard input, for -), tells its format and
// starts its decoder, reading no more of it than it must: input from a
// pipe may come a line at a time.
func openInput(name, format string, prog *progress) (_ *decode.Reader, _ func(), err error) {
	var closers []func() error
	closeInput := func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	defer func() {
		if err != nil {
			closeInput()
		}
	}()
	var r io.Reader = os.Stdin
	var size int64 = -1
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, f.Close)
		if fi, err := f.Stat(); err == nil {
			if fi.IsDir() {
				return nil, nil, errors.New("is a directory; name the files in it")
			}
			size = fi.Size()
		}
		r = f
	}
	explicit := format != ""
	if format == "" {
		switch filepath.Ext(strings.TrimSuffix(strings.ToLower(name), ".gz")) {
		case ".csv":
			format = "csv"
		case ".ndjson", ".jsonl", ".json":
			format = "ndjson"
		}
	}
	prog.open(size)
	// The progress counts the file's own bytes, compressed or not.
	buffered := bufio.NewReader(&countingReader{r: r, progress: prog})
	var src io.Reader = buffered
	if magic, _ := buffered.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(buffered)
		if err != nil {
			return nil, nil, fmt.Errorf("reading it as gzip: %w", err)
		}
		closers = append(closers, zr.Close)
		src = gzipmembers.New(zr, buffered)
	}
	peek := bufio.NewReader(src)
	src = peek
	if bom, _ := peek.Peek(2); bytes.Equal(bom, []byte{0xff, 0xfe}) || bytes.Equal(bom, []byte{0xfe, 0xff}) {
		return nil, nil, errors.New("is UTF-16 text; abacus ingest reads UTF-8: save it as UTF-8 (iconv -f UTF-16 -t UTF-8)")
	}
	head := lead(peek)
	if bytes.HasPrefix(head, []byte("[")) {
		return nil, nil, errors.New("is a JSON array; abacus ingest reads NDJSON (one event per line) or CSV: send an array to the HTTP endpoint")
	}
	guessed := false // read as CSV on the look of its first line alone
	switch sniffed := sniffFormat(head); {
	case format == "": // standard input, or a name that does not say
		if format = sniffed; format == "" && startsAsHeader(head) {
			// Likely CSV with a header of other names: its reader names
			// them, where "cannot tell" said less (regression QA).
			format, guessed = "csv", true
		}
		if format == "" {
			return nil, nil, fmt.Errorf("cannot tell the format from the name or the content; use --format ndjson or --format csv")
		}
	case format != sniffed && sniffed != "" && !explicit && len(head) > 0: // an empty file reads as any format
		// Every line would be rejected for the name's format.
		return nil, nil, fmt.Errorf("is named as %s but reads as %s; rename it, or use --format %s", strings.ToUpper(format), strings.ToUpper(sniffed), sniffed)
	}
	switch format {
	case "ndjson":
		if first, _, ended := bytes.Cut(head, []byte("\n")); ended && string(bytes.TrimSpace(first)) == "{" {
			// Every line would be rejected, each for a part of an event.
			return nil, nil, errors.New("is JSON spread over lines (its first line is a lone {); abacus ingest reads NDJSON, one event per line: write one per line (jq -c . FILE)")
		}
		return decode.NewNDJSONReader(src), closeInput, nil
	default: // csv
		rd, err := decode.NewCSVReader(src)
		if err != nil && guessed {
			// It may be NDJSON cut mid-line, as split makes its pieces
			// (regression QA).
			return nil, nil, fmt.Errorf("%w; it was read as CSV, its name not saying the format: if it is NDJSON, give --format ndjson", err)
		}
		if err != nil {
			return nil, nil, err
		}
		return rd, closeInput, nil
	}
}

// lead is the start of r past a byte-order mark and white space, which
// tells a file's format: up to the end of its first line that holds
// anything else, or of its buffer, or of the input. It waits for no more:
// a pipe may pause after its first lines, and they are to be charged
// meanwhile.
func lead(r *bufio.Reader) []byte {
	for {
		head, _ := r.Peek(r.Buffered()) // what has come
		trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
		if len(head) == r.Size() || bytes.IndexByte(trimmed, '\n') >= 0 {
			return trimmed
		}
		if _, err := r.Peek(len(head) + 1); err != nil { // waits for more
			head, _ = r.Peek(r.Buffered())
			return bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
		}
	}
}

// sniffFormat tells NDJSON from CSV by a file's lead: an object opens an
// NDJSON line, and a CSV file opens with a header that names a column. It
// says "" for anything else, such as a JSON array or a broken first line.
func sniffFormat(head []byte) string {
	first, _, _ := bytes.Cut(head, []byte("\n"))
	switch {
	case len(head) == 0:
		return "ndjson" // nothing to read either way
	case head[0] == '{':
		return "ndjson"
	case decode.NamesAColumn(first):
		return "csv"
	}
	return ""
}

// startsAsHeader says a file's lead starts as a CSV header's first name.
func startsAsHeader(head []byte) bool {
	return len(head) > 0 && (head[0] == '"' || head[0] == '_' || 'a' <= head[0] && head[0] <= 'z' || 'A' <= head[0] && head[0] <= 'Z')
}

var utf8BOM = []byte("\xef\xbb\xbf")
