package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

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
	return &progress{out: out, name: inputName(name), size: -1, start: time.Now(), lastReport: time.Now()}
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
		p.bar.Describe(fmt.Sprintf("%s: %d events, %s/s", p.name, p.n, rate(p.n, time.Since(p.start))))
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
	fmt.Fprintf(p.out, "%s: %d %s, %s, %s events/s%s\n", p.name, p.n, events, read, rate(p.n, elapsed), eta)
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

// rate says n events over elapsed a second, to two figures below ten: a
// slow standard input's had read "0 events/s" (README QA).
func rate(n int, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "0"
	}
	r := float64(n) / elapsed.Seconds()
	switch {
	case r > 0 && r < 0.01:
		return "under 0.01" // %.2g writes 1.2e-05 (regression QA)
	case r < 10:
		return fmt.Sprintf("%.2g", r)
	}
	return fmt.Sprintf("%.0f", r)
}
