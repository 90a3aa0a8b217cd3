package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
)

// TestIngestEarlierLineWins: with chunks in flight side by side, an id
// sent twice with different content keeps its earlier line, and the later
// one is the conflict, as within one chunk; likewise the first event of an
// instance's minute holds it. Chunks had been queued as each finished
// preparing (QA: with --chunk 1, 2% of the later lines won).
func TestIngestEarlierLineWins(t *testing.T) {
	for name, dsn := range map[string]string{"sqlite": filepath.Join(t.TempDir(), "a.db"), "postgres": testdb.PostgresSchemaURL(t)} {
		t.Run(name, func(t *testing.T) {
			var lines strings.Builder
			for i := range 300 {
				for _, v := range []int{1, 2} {
					fmt.Fprintf(&lines, `{"uuid":"dup-%d","user_uuid":%q,"value":%d,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"c","created_at":"2026-11-10T10:00:00Z"}`+"\n",
						i, account(40+i%7), v)
				}
				// Two events of one instance in one minute: the first holds it.
				for j, at := range []string{"00", "30"} {
					fmt.Fprintf(&lines, `{"uuid":"min-%d-%d","user_uuid":%q,"value":1,"value_type":0,"scene":12,"resource_id":"gpu","customer_id":"inst-%d","created_at":"2026-11-10T11:%02d:%sZ"}`+"\n",
						i, j, account(50+i%7), i, i%60, at)
				}
			}
			rejects := filepath.Join(t.TempDir(), "rejects")
			file := writeFile(t, "events.ndjson", lines.String())
			out, err := runCLI(t, "ingest", "--db", dsn, "--chunk", "1", "--minute-dedupe", "12", "--rejects", rejects, file)
			if err == nil || !strings.Contains(out, "accepted 600 (600 unpriced), duplicate 300, rejected 300") {
				t.Fatalf("ingest: %v\n%s", err, out)
			}
			raw, err := os.ReadFile(rejects)
			if err != nil {
				t.Fatal(err)
			}
			// The conflicts are the second line of each pair: lines 2, 6, 10, …
			for _, m := range regexp.MustCompile(`events\.ndjson:(\d+):`).FindAllStringSubmatch(string(raw), -1) {
				var n int
				fmt.Sscan(m[1], &n)
				if n%4 != 2 {
					t.Errorf("line %d was rejected; the later line of its pair must be", n)
				}
			}
			st, err := openCurrent(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			later := make([]string, 0, 300)
			for i := range 300 {
				later = append(later, fmt.Sprintf("min-%d-1", i))
			}
			evs, err := st.Events(t.Context(), abacus.EventQuery{IDs: later, Limit: 300})
			if err != nil || len(evs) != 0 {
				t.Fatalf("%d later events of an instance's minute stored, %v; want the earlier ones to hold it", len(evs), err)
			}
		})
	}
}

// TestIngestMakesNoAccountForALaterConflict: an id sent again, a few lines
// later, under another account that does not exist is a conflict and makes
// no account, however the chunks in flight fall. The later chunk had its
// account made while the earlier one's event was not yet stored, and left
// behind, empty (QA: it then fixed the currency and floor the platform's
// own create conflicted with).
func TestIngestMakesNoAccountForALaterConflict(t *testing.T) {
	for name, dsn := range map[string]string{"sqlite": filepath.Join(t.TempDir(), "a.db"), "postgres": testdb.PostgresSchemaURL(t)} {
		t.Run(name, func(t *testing.T) {
			const pairs = 100
			var lines strings.Builder
			event := func(id, acct string) {
				fmt.Fprintf(&lines, `{"uuid":%q,"user_uuid":%q,"value":1,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"c","created_at":"2026-11-10T10:00:00Z"}`+"\n", id, acct)
			}
			for i := range pairs {
				event(fmt.Sprint("shared-", i), account(1000+i))
				event(fmt.Sprint("other-", i), account(1000+i))
				event(fmt.Sprint("shared-", i), account(2000+i))
			}
			file := writeFile(t, "events.ndjson", lines.String())
			out, err := runCLI(t, "ingest", "--db", dsn, "--chunk", "1", file)
			if err == nil || !strings.Contains(out, fmt.Sprintf("accepted %d (%d unpriced), duplicate 0, rejected %d", 2*pairs, 2*pairs, pairs)) {
				t.Fatalf("ingest: %v\n%s", err, out)
			}
			st, err := openCurrent(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i := range pairs {
				if _, err := st.AccountGet(t.Context(), abacus.AccountID(account(2000+i))); abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
					t.Errorf("the account of the refused line %d: %v, want none", 3*i+3, err)
				}
			}
		})
	}
}
