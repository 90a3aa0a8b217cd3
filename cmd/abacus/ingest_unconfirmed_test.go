package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering"
)

// unconfirmedStore fails, as a connection lost at COMMIT does, every
// commit that would store an event whose id starts with "lost-".
type unconfirmedStore struct{ abacus.Store }

func (s unconfirmedStore) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	return s.Store.Write(ctx, func(tx abacus.WriteTx) error { return fn(unconfirmedTx{tx}) })
}

type unconfirmedTx struct{ abacus.WriteTx }

func (tx unconfirmedTx) Commit(ctx context.Context, c *abacus.Changes) error {
	if slices.ContainsFunc(c.Events, func(e abacus.StoredEvent) bool { return strings.HasPrefix(e.ID, "lost-") }) {
		return errors.New("connection reset by peer")
	}
	return tx.WriteTx.Commit(ctx, c)
}

// TestIngestNamesUnconfirmedLines: a chunk whose commit is not confirmed
// stops the file's ingestion with an error that names its lines, and
// those of any later chunk alike, and says a rerun is safe (QA: it named
// no line, so the operator could not tell where a rerun mattered).
func TestIngestNamesUnconfirmedLines(t *testing.T) {
	for _, c := range []struct {
		lost     []int
		n        int // lines in the file
		chunk    int
		stdin    bool
		says     []string
		accepted int
	}{
		{[]int{3}, 8, 1, false, []string{"of line 3:", "run the same command again"}, 7},
		{[]int{3}, 8, 2, false, []string{"of lines 3 to 4:"}, 6},
		{[]int{3, 4, 8}, 8, 1, false, []string{"of lines 3 to 4 and 8:"}, 5},
		{[]int{3, 4, 8}, 8, 2, false, []string{"of lines 3 to 4 and 7 to 8:"}, 4},
		{[]int{3, 4, 8}, 8, 3, false, []string{"of lines 1 to 8:"}, 0},
		{[]int{1, 3, 5, 7, 9, 11}, 12, 1, false, []string{"of lines 1, 3, 5 and 3 more up to line 11:"}, 6},
		{[]int{3}, 8, 2, true, []string{"of lines 3 to 4:", "send the same input again, or lines 3 to 4 of it,"}, 6},
		{[]int{3, 4, 8}, 8, 1, true, []string{"of lines 3 to 4 and 8:", "send the same input again, or lines 3 to 8 of it,"}, 5},
		{[]int{5}, 8, 1, true, []string{"of line 5:", "send the same input again, or line 5 of it,"}, 7},
	} {
		name := fmt.Sprintf("lost %v by %d", c.lost, c.chunk)
		if c.stdin {
			name += " from stdin"
		}
		t.Run(name, func(t *testing.T) {
			var lines strings.Builder
			for i := 1; i <= c.n; i++ {
				id := fmt.Sprintf("ok-%d", i)
				if slices.Contains(c.lost, i) {
					id = fmt.Sprintf("lost-%d", i)
				}
				fmt.Fprintf(&lines, `{"uuid":%q,"user_uuid":%q,"value":1,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"c","created_at":"2026-11-10T10:00:00Z"}`+"\n", id, account(60))
			}
			file := writeFile(t, "events.ndjson", lines.String())
			engine := ledger.New(unconfirmedStore{testdb.SQLite(t)}, ledger.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			defer engine.Close()
			var stderr strings.Builder
			in := &ingester{pipe: &metering.Pipeline{Engine: engine}, chunk: c.chunk, flush: time.Minute, stderr: &stderr}
			name := file
			if c.stdin {
				f, err := os.Open(file)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				stdin := os.Stdin
				os.Stdin = f
				defer func() { os.Stdin = stdin }()
				name = "-"
			}
			err := in.file(t.Context(), name, "")
			if err == nil {
				t.Fatalf("no error; %+v", in.sum)
			}
			t.Log(err)
			for _, want := range append(c.says, "the ledger could not confirm the commit of ", "may or may not be in, those of the other lines are counted", "the event ids make it safe") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%v\ndoes not say %q", err, want)
				}
			}
			if in.sum.Accepted != c.accepted {
				t.Errorf("accepted %d, want %d", in.sum.Accepted, c.accepted)
			}
		})
	}
}
