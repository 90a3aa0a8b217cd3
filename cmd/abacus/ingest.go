package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	if err := applyZone(ctx, st, stderr); err != nil {
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
			failed = append(failed, fmt.Sprintf("%s: %v", inputName(name), err))
			if fs.NArg() > 1 {
				fmt.Fprintf(stderr, "%s: %v\n", inputName(name), err)
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
	case s.Rejected == 1 && s.Accepted+s.Duplicate == 0:
		return fmt.Errorf("the 1 event was rejected (listed %s)", in.listedWhere())
	case s.Rejected > 1 && s.Accepted+s.Duplicate == 0:
		return fmt.Errorf("all %d events were rejected (listed %s)", s.Rejected, in.listedWhere())
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
	// allLockedOut says every failure of the file being read was another
	// process's write lock, which nothing of the chunk got past.
	allLockedOut bool
	lastFailed   bool
}

// flyingIDs counts the event ids of the chunks in flight.
type flyingIDs struct {
	mu sync.Mutex
	n  map[string]int
}

// add counts items' ids and says whether a chunk in flight has one of them.
func (f *flyingIDs) add(items []decode.Item) (shares bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	for i := range items {
		shares = shares || items[i].Err == nil && f.n[items[i].Event.ID] > 0
	}
	for i := range items {
		if items[i].Err == nil {
			f.n[items[i].Event.ID]++
		}
	}
	return shares
}

func (f *flyingIDs) remove(items []decode.Item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range items {
		if id := items[i].Event.ID; items[i].Err == nil {
			if f.n[id]--; f.n[id] <= 0 {
				delete(f.n, id)
			}
		}
	}
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
	in.firstFail, in.unconfirmed, in.lastFailed, in.allLockedOut = nil, nil, false, false
	in.mu.Unlock()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	// Each chunk reports after the one before it, so that rejections
	// come in the file's order though the chunks commit side by side; and
	// its events are queued for their batches after that one's, so that an
	// earlier line wins over a later one as within a chunk (QA: a later
	// line had won 2% of ids sent twice, and instances' minutes).
	var before, queuedBefore chan struct{}
	flying := flyingIDs{}
	sentLine := 0 // the line of the last event handed over
	send := func(items []decode.Item) {
		sentLine = items[len(items)-1].Line
		sem <- struct{}{}
		wg.Add(1)
		prev, turn := before, make(chan struct{})
		before = turn
		queuedPrev, queued := queuedBefore, make(chan struct{})
		queuedBefore = queued
		shares := flying.add(items)
		go func() {
			defer func() { flying.remove(items); <-sem; wg.Done() }()
			if shares && queuedPrev != nil {
				// Prepared only once the chunks before have queued their
				// events, so that the engine sees the id it shares with
				// one of them: prepared side by side, a later line's event
				// for a new account had its account made, and left behind
				// empty, before the earlier line's event under another
				// account made it a conflict (QA).
				<-queuedPrev
			}
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
					in.firstFail, in.allLockedOut = err, true
				}
				in.allLockedOut = in.allLockedOut && ledger.LockedOut(err)
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
		if in.allLockedOut {
			// Not written at all, not a commit that could not be confirmed
			// (QA).
			lines := "their events are not in"
			if len(in.unconfirmed) == 1 && in.unconfirmed[0].from == in.unconfirmed[0].to {
				lines = "its event is not in"
			}
			return fmt.Errorf("%s: another process has held the database's write lock for a minute (a long import, correction or rerate, or another abacus on the same file): %s; once that is done, %s: the event ids make it safe", where, lines, again)
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
		return fmt.Errorf("interrupted: the events counted are in, every one up to line %d; "+
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

// inputName names an input in what ingest prints: "-" read as no name
// (QA).
func inputName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
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
		line := fmt.Sprintf("%s:%d: %s: %s\n", inputName(name), items[i].Line, what, escapeUnseen(why))
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
