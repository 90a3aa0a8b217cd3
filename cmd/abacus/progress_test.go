package main

import (
	"strings"
	"testing"
	"time"
)

// TestProgressLinesOnce: without a terminal, progress is a plain line now
// and then, and one at the end; the end's is left out when it would say
// what the line before it said, as for input that went quiet after its
// last events (QA: abacus ingest - printed its last line twice).
func TestProgressLinesOnce(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out, "-")
	p.open(-1)
	p.bytes(176)
	p.lastReport = time.Now().Add(-6 * time.Second) // a line is due
	p.events(1)
	p.done()
	if lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "standard input: 1 event, 176 bytes, ") {
		t.Fatalf("%q, want one line", out.String())
	}

	// Something read since the last line: the end says so.
	out.Reset()
	p = newProgress(&out, "-")
	p.open(-1)
	p.bytes(176)
	p.lastReport = time.Now().Add(-6 * time.Second)
	p.events(1)
	p.bytes(2)
	p.done()
	if lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "standard input: 1 event, 178 bytes, ") {
		t.Fatalf("%q, want two lines", out.String())
	}

	// Nothing printed before: the end's line, even for no events.
	out.Reset()
	p = newProgress(&out, "empty.ndjson")
	p.open(0)
	p.done()
	if out.String() != "empty.ndjson: 0 events, 0 of 0 bytes, 0 events/s\n" {
		t.Fatalf("%q", out.String())
	}

	// A slow input's rate is not rounded to nothing (README QA: 0 events/s).
	out.Reset()
	p = newProgress(&out, "-")
	p.open(-1)
	p.start = time.Now().Add(-100 * time.Second)
	p.events(3)
	p.done()
	if !strings.HasSuffix(out.String(), ", 0.03 events/s\n") {
		t.Fatalf("%q, want 0.03 events/s", out.String())
	}
	for _, c := range []struct {
		n       int
		elapsed time.Duration
		want    string
	}{{1, 100_000 * time.Second, "under 0.01"}, {0, time.Second, "0"}, {5, time.Second, "5"}, {123, time.Second, "123"}} {
		if got := rate(c.n, c.elapsed); got != c.want {
			t.Errorf("%d events in %s: %q, want %q", c.n, c.elapsed, got, c.want)
		}
	}
}
