package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/gzipmembers"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/metering/decode"
)

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest", "FILE...", stderr)
	db := dbFlag(fs)
	usage := usageFlags(fs)
	checkZone, applyZone := billingZoneFlag(fs)
	format := fs.String("format", "", "ndjson or csv; by default from each file's extension (.ndjson, .jsonl, .json, .csv, each also with .gz), or else from its first line")
	chunk := fs.Int("chunk", 2000, "events handed to the engine at a time")
	flush := fs.Duration("flush", time.Second, "send a chunk that is not full once its first event has waited this long, so that events from input that goes quiet (tail -f) are charged without waiting for more")
	rejects := fs.String("rejects", "", "write every rejection, with its file and line, to this file (standard error shows the first 100)")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("name at least one file (- for standard input)")
	}
	if *chunk < 1 || *chunk > maxChunk {
		return usagef("--chunk %d: give 1 to %d events", *chunk, maxChunk)
	}
	if *flush <= 0 {
		return usagef("--flush %s: give a duration above 0 (1s, 200ms)", *flush)
	}
	if *format != "" && *format != "ndjson" && *format != "csv" {
		return usagef("--format %q is not ndjson or csv", *format)
	}
	ecfg, err := usage()
	if err != nil {
		return err
	}
	if err := checkZone(); err != nil {
		return err
	}
	var rejectsFile *os.File
	if *rejects != "" {
		if rejectsFile, err = openRejects(*rejects, *db, fs.Args()); err != nil {
			return err
		}
		defer rejectsFile.Close()
	}
	st, err := openMigrated(ctx, *db, stderr)
	if err != nil {
		if ctx.Err() != nil { // waiting for the database, another writer's lock say
			return errors.New("interrupted while opening the database, before any event was read: nothing changed")
		}
		return err
	}
	defer st.Close()
	if err := applyZone(ctx, st); err != nil {
		return err
	}
	engine := ledger.New(st, withLogger(ecfg, quietLogger(stderr)))
	defer engine.Close()
	in := &ingester{pipe: &metering.Pipeline{Engine: engine}, chunk: *chunk, flush: *flush, stderr: stderr}
	if rejectsFile != nil {
		// Emptied only now, the database open; not a device or a pipe
		// (/dev/null, >(…)), which cannot be truncated and need not be (QA).
		if fi, err := rejectsFile.Stat(); err == nil && fi.Mode().IsRegular() {
			if err := rejectsFile.Truncate(0); err != nil {
				return fmt.Errorf("--rejects: %w", err)
			}
		}
		w := bufio.NewWriter(rejectsFile)
		defer w.Flush()
		in.rejects = w
	}
	// A file that fails does not stop the others: each is told as it fails,
	// and all of them at the end.
	var failed []string
	for i, name := range fs.Args() {
		if ctx.Err() != nil {
			failed = append(failed, fmt.Sprintf("%s and %d more files: not read (interrupted)", name, fs.NArg()-i-1))
			break
		}
		if err := in.file(ctx, name, *format); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			if fs.NArg() > 1 {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
			}
		}
	}
	s := in.sum
	if len(failed) == 1 && fs.NArg() == 1 && s.Accepted+s.Duplicate+s.Rejected == 0 {
		return errors.New(failed[0])
	}
	fmt.Fprintf(stdout, "accepted %d (%d unpriced), duplicate %d, rejected %d\n", s.Accepted, s.Unpriced, s.Duplicate, s.Rejected)
	if s.Uncommitted > 0 {
		fmt.Fprintf(stdout, "%d accepted of a licence that requires a subscription, by accounts without one: listed by ?uncommitted=true\n", s.Uncommitted)
	}
	switch {
	case len(failed) == 1:
		return errors.New(failed[0])
	case len(failed) > 1:
		return fmt.Errorf("%d of %d files failed:\n  %s", len(failed), fs.NArg(), strings.Join(failed, "\n  "))
	case s.Rejected == 1:
		return fmt.Errorf("1 event was rejected (listed %s); the others are in", in.listedWhere())
	case s.Rejected > 1:
		return fmt.Errorf("%d events were rejected (listed %s); the others are in", s.Rejected, in.listedWhere())
	}
	return nil
}

// openRejects opens the --rejects file, unemptied, after making sure it is
// neither the database (a SQLite file, or one beside it) nor an input:
// created as it was, it emptied the ledger, or an input before it was read
// (QA). A file it made for a refused name is removed again.
func openRejects(name, db string, inputs []string) (*os.File, error) {
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--rejects: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--rejects: %w", err)
	}
	others := slices.DeleteFunc(slices.Clone(inputs), func(s string) bool { return s == "-" })
	if !isPostgres(db) {
		others = append(others, db, db+"-wal", db+"-shm", db+"-journal")
	}
	for _, o := range others {
		if oi, err := os.Stat(o); err == nil && os.SameFile(fi, oi) {
			f.Close()
			if errors.Is(statErr, os.ErrNotExist) {
				os.Remove(name)
			}
			return nil, usagef("--rejects %s is %s, which it would empty: name a file of its own", name, o)
		}
	}
	return f, nil
}

func (in *ingester) listedWhere() string {
	if in.rejects != nil {
		return "in the --rejects file"
	}
	return "above"
}

// ingester streams files through the pipeline: it keeps a few chunks in
// flight so reading and committing overlap, counts what became of every
// event and reports rejections with their file and line, in the file's
// order.
type ingester struct {
	pipe    *metering.Pipeline
	chunk   int
	flush   time.Duration // how long an event waits for its chunk to fill
	stderr  io.Writer
	rejects io.Writer // every rejection; nil: none but the first maxPrinted, on stderr

	mu        sync.Mutex
	sum       metering.Summary
	rejected  int
	firstFail error // of the file being read
	// unconfirmed are the lines of the file being read whose chunks'
	// commits were not confirmed, in order, those of chunks one after
	// another as one; lastFailed says the chunk before did not commit.
	unconfirmed []lineRange
	lastFailed  bool
}

// lineRange is the lines from and to of a file, both included.
type lineRange struct{ from, to int }

func (r lineRange) String() string {
	if r.from == r.to {
		return strconv.Itoa(r.from)
	}
	return fmt.Sprintf("%d to %d", r.from, r.to)
}

// linesText names rs, a few of them at most: "line 7", "lines 3 to 4 and
// 9", "lines 1, 3, 5 and 2 more up to line 9".
func linesText(rs []lineRange) string {
	if len(rs) == 1 && rs[0].from == rs[0].to {
		return "line " + rs[0].String()
	}
	const most = 3
	var names []string
	for _, r := range rs[:min(len(rs), most)] {
		names = append(names, r.String())
	}
	last := ""
	if len(rs) > most {
		last = fmt.Sprintf("%d more up to line %d", len(rs)-most, rs[len(rs)-1].to)
	} else {
		last, names = names[len(names)-1], names[:len(names)-1]
	}
	if len(names) == 0 {
		return "lines " + last
	}
	return "lines " + strings.Join(names, ", ") + " and " + last
}

const maxPrinted = 100

// maxChunk bounds --chunk: a chunk is held in memory whole.
const maxChunk = 100_000

func (in *ingester) file(ctx context.Context, name, format string) error {
	prog := newProgress(in.stderr, name)
	// The input is read on a goroutine of its own, so that this loop is
	// never held up by input that is slow to come (a pipe that pauses,
	// tail -f): it sends what was read once it has waited --flush, and it
	// stops when interrupted, however long a read blocks.
	src := &source{ready: make(chan struct{}), items: make(chan decode.Item, 64), stop: make(chan struct{})}
	go src.read(name, format, prog)
	defer close(src.stop) // a read that blocks ends with the process
	select {
	case <-src.ready:
	case <-ctx.Done():
		prog.done()
		return errors.New("interrupted before any event of it was read: nothing of it was sent")
	}
	if src.failed != nil {
		return src.failed
	}
	in.mu.Lock()
	in.firstFail, in.unconfirmed, in.lastFailed = nil, nil, false
	in.mu.Unlock()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	// Each chunk reports after the one before it, so that rejections
	// come in the file's order though the chunks commit side by side; and
	// its events are queued for their batches after that one's, so that an
	// earlier line wins over a later one as within a chunk (QA: a later
	// line had won 2% of ids sent twice, and instances' minutes).
	var before, queuedBefore chan struct{}
	sentLine := 0 // the line of the last event handed over
	send := func(items []decode.Item) {
		sentLine = items[len(items)-1].Line
		sem <- struct{}{}
		wg.Add(1)
		prev, turn := before, make(chan struct{})
		before = turn
		queuedPrev, queued := queuedBefore, make(chan struct{})
		queuedBefore = queued
		go func() {
			defer func() { <-sem; wg.Done() }()
			// A chunk handed over is seen through, interrupted or not:
			// it may commit whatever its caller does, and the summary
			// must count it.
			results, err := in.pipe.IngestAfter(context.WithoutCancel(ctx), items, queuedPrev, queued)
			if prev != nil {
				<-prev
			}
			defer close(turn)
			in.mu.Lock()
			defer in.mu.Unlock()
			if err != nil {
				if in.firstFail == nil {
					in.firstFail = err
				}
				from, to := items[0].Line, items[len(items)-1].Line
				if n := len(in.unconfirmed); n > 0 && in.lastFailed {
					in.unconfirmed[n-1].to = to
				} else {
					in.unconfirmed = append(in.unconfirmed, lineRange{from, to})
				}
				in.lastFailed = true
				return
			}
			in.lastFailed = false
			in.sum.Add(results)
			if slices.ContainsFunc(results, func(r abacus.IngestResult) bool { return r.Status == abacus.IngestRejected }) {
				prog.print(func() { in.report(name, items, results) })
			}
			prog.events(len(items))
		}()
	}
	// A chunk goes when it is full, or once its first event has waited
	// --flush for the rest: events read from input that goes quiet are
	// charged without waiting for more.
	var items []decode.Item
	var flush *time.Timer
	var flushed <-chan time.Time // nil while no event waits
	sendItems := func() {
		if flush != nil {
			flush.Stop()
			flush, flushed = nil, nil
		}
		if len(items) > 0 {
			send(items)
			items = nil
		}
	}
	interrupted := false
read:
	for {
		select {
		case it, ok := <-src.items:
			if !ok {
				break read
			}
			if items = append(items, it); len(items) == in.chunk {
				sendItems()
			} else if flush == nil {
				flush = time.NewTimer(in.flush)
				flushed = flush.C
			}
		case <-flushed:
			sendItems()
		case <-ctx.Done():
			interrupted = true
			break read
		}
	}
	// What was read is sent, interrupted or not: a line read from a pipe
	// cannot be read again.
	sendItems()
	wg.Wait()
	prog.done()
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.firstFail != nil:
		// The lines whose outcome is unknown are named, so that the
		// operator knows where a rerun matters (QA); the others' events
		// are counted.
		where := linesText(in.unconfirmed)
		again := "run the same command again"
		if name == "-" {
			span := lineRange{in.unconfirmed[0].from, in.unconfirmed[len(in.unconfirmed)-1].to}
			again = "send the same input again, or " + linesText([]lineRange{span}) + " of it"
		}
		unknown := "their events may or may not be in, those of the other lines are counted"
		if len(in.unconfirmed) == 1 && in.unconfirmed[0].from == in.unconfirmed[0].to {
			unknown = "its event may or may not be in, those of the other lines are counted"
		}
		var ae *abacus.Error
		if errors.As(in.firstFail, &ae) && ae.Code == abacus.CodeUnavailable {
			// Its advice to the HTTP client that sent the events is the
			// one given here.
			what, _, _ := strings.Cut(ae.Message, ";")
			return fmt.Errorf("%s of %s: %s; nothing is lost: %s, the event ids make it safe", what, where, unknown, again)
		}
		return fmt.Errorf("%s: %w: %s; nothing is lost: %s, the event ids make it safe", where, in.firstFail, unknown, again)
	case interrupted && sentLine == 0:
		return errors.New("interrupted before any event of it was read: nothing of it was sent")
	case interrupted && name == "-":
		return fmt.Errorf("interrupted: the events counted are in, every one up to line %d of standard input; "+
			"send the rest again, from line %d or whole: it is safe (those sent come back as duplicates)", sentLine, sentLine+1)
	case interrupted:
		return fmt.Errorf("interrupted: the events counted are in, every one up to line %d; "+
			"run the same command again for the rest: it is safe (those come back as duplicates)", sentLine)
	case errors.Is(src.err, gzipmembers.ErrTrailing):
		return fmt.Errorf("%w: every event of the gzip data was read and sent; nothing after it was read", src.err)
	case src.err != nil: // the items are all in: src.err was set before they closed
		return fmt.Errorf("%w; the events before it were sent (once the file is whole, run again: those come back as duplicates)", src.err)
	}
	return nil
}

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

// report lists a chunk's rejections: every one to the rejects file, the
// first maxPrinted of the command to standard error.
func (in *ingester) report(name string, items []decode.Item, results []abacus.IngestResult) {
	for i, res := range results {
		if res.Status != abacus.IngestRejected {
			continue
		}
		in.rejected++
		why := res.Err.Error()
		if strings.HasPrefix(res.Err.Field, "line ") { // the prefix names the line already
			why = res.Err.Message
		}
		what := "event " + shown(res.ID) + " rejected"
		if res.ID == "" { // a line with no id to name, such as one that is not JSON
			what = "rejected"
		}
		line := fmt.Sprintf("%s:%d: %s: %s\n", name, items[i].Line, what, escapeUnseen(why))
		if in.rejects != nil {
			io.WriteString(in.rejects, line)
		}
		switch {
		case in.rejected <= maxPrinted:
			io.WriteString(in.stderr, line)
		case in.rejected == maxPrinted+1 && in.rejects != nil:
			fmt.Fprintln(in.stderr, "… more rejections are counted; the --rejects file lists them all")
		case in.rejected == maxPrinted+1:
			fmt.Fprintln(in.stderr, "… more rejections are counted but not shown: --rejects FILE lists them all")
		}
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

// countingReader tells the progress how many bytes were read.
type countingReader struct {
	r        io.Reader
	progress *progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.progress.bytes(n)
	return n, err
}

// progress shows a bar with rate and ETA on a terminal, and a plain line
// every five seconds otherwise. The input's reader opens it, once it knows
// the size; once done it shows nothing more.
type progress struct {
	out   io.Writer
	name  string
	start time.Time

	mu         sync.Mutex
	bar        *progressbar.ProgressBar
	size       int64
	read       int64
	n          int
	lastReport time.Time
	finished   bool
	// shown is the counts the last plain line gave, once one was printed:
	// the end prints none that says the same again (QA: input that went
	// quiet after its last events had that line printed twice).
	shown *[2]int64
}

func newProgress(out io.Writer, name string) *progress {
	return &progress{out: out, name: name, size: -1, start: time.Now(), lastReport: time.Now()}
}

// open sets the input's size (-1: unknown) and, on a terminal, shows the bar.
func (p *progress) open(size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.size = size
	if f, ok := p.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(p.out), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(p.name), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
}

func (p *progress) bytes(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished { // a read that went on after the file's summary
		return
	}
	p.read += int64(n)
	if p.bar != nil {
		p.bar.Add(n)
	}
}

func (p *progress) events(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s: %d events, %.0f/s", p.name, p.n, float64(p.n)/time.Since(p.start).Seconds()))
		return
	}
	if time.Since(p.lastReport) >= 5*time.Second {
		p.lastReport = time.Now()
		p.line()
	}
}

// print runs write, which writes lines of its own to the progress's
// output, with the bar out of their way; the bar comes back with the next
// progress.
func (p *progress) print(write func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	write()
}

func (p *progress) line() {
	p.shown = &[2]int64{int64(p.n), p.read}
	elapsed := time.Since(p.start)
	rate := float64(p.n) / elapsed.Seconds()
	eta := ""
	if p.size > 0 && p.read > 0 && p.read < p.size {
		eta = fmt.Sprintf(", ETA %s", (time.Duration(float64(elapsed) * float64(p.size-p.read) / float64(p.read))).Round(time.Second))
	}
	read := fmt.Sprintf("%d bytes", p.read)
	if p.size >= 0 {
		read = fmt.Sprintf("%d of %d bytes", p.read, p.size)
	}
	events := "events"
	if p.n == 1 {
		events = "event"
	}
	fmt.Fprintf(p.out, "%s: %d %s, %s, %.0f events/s%s\n", p.name, p.n, events, read, rate, eta)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = true
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	if p.shown != nil && *p.shown == [2]int64{int64(p.n), p.read} {
		return
	}
	p.line()
}
