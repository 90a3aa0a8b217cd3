package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/metering/natstest"
)

const priceFile = `prices:
  - sku_type: 1
    sku_kind: 1
    resource_id: gpu
    sku_unit: 1
    sku_unit_type: minute
    sku_price: "0.25"
    currency: USD
    valid_from: 2026-01-01T00:00:00Z
`

func usageEvent(id, acct string, minutes int) string {
	return fmt.Sprintf(`{"uuid":%q,"user_uuid":%q,"value":%d,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1","created_at":"2026-11-02T10:00:00Z"}`, id, acct, minutes)
}

func importPrices(t *testing.T, dsn string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prices.yaml")
	if err := os.WriteFile(path, []byte(priceFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, path); err != nil {
		t.Fatalf("prices import: %v\n%s", err, out)
	}
}

// TestUsageExactlyOnceAcrossPaths sends the same events over HTTP, NATS
// JetStream and a file: each is charged once, whichever path came first.
func TestUsageExactlyOnceAcrossPaths(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := db(t)
			importPrices(t, dsn)
			ns := natstest.Start(t)
			s := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken, "ABACUS_NATS_URL="+ns.ClientURL())
			acct := account(1)
			var lines []string
			for i := 0; i < 30; i++ {
				lines = append(lines, usageEvent(fmt.Sprintf("e2e-event-%d", i), acct, 4)) // 4 minutes at 0.25: 1 each
			}
			// HTTP takes events 0-19, NATS 10-29, the file all 30.
			st, body, _, err := post(s.url+"/api/v1/accounting/metering/events", adminToken, "", "["+strings.Join(lines[:20], ",")+"]")
			if err != nil || st != 200 || body["accepted"].(float64) != 20 {
				t.Fatalf("http: %d %v %v", st, body, err)
			}
			nc, err := nats.Connect(ns.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			for _, l := range lines[10:] {
				if err := nc.Publish("accounting.metering.duration", []byte(l)); err != nil {
					t.Fatal(err)
				}
			}
			nc.Flush()
			file := filepath.Join(t.TempDir(), "events.ndjson")
			os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
			deadline := time.Now().Add(20 * time.Second)
			for {
				acctBody := getJSON(t, s.url+"/api/v1/accounts/"+acct)
				if acctBody["total"] != nil && acctBody["total"].(map[string]any)["balance"] == "-30" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the NATS events were not charged: %v", acctBody)
				}
				time.Sleep(50 * time.Millisecond)
			}
			out, err := runCLI(t, "ingest", "--db", dsn, file)
			if err != nil || !strings.Contains(out, "accepted 0 (0 unpriced), duplicate 30, rejected 0") {
				t.Fatalf("the file must hold only duplicates now: %v\n%s", err, out)
			}
			if b := getJSON(t, s.url+"/api/v1/accounts/"+acct)["total"].(map[string]any)["balance"]; b != "-30" {
				t.Fatalf("30 events of 1 each, each once: balance %v", b)
			}
			s.cmd.Process.Signal(syscall.SIGTERM)
			<-s.exited
			// A void gives the charge back once.
			if out, err := runCLI(t, "void", "--db", dsn, "e2e-event-0"); err != nil || !strings.Contains(out, "voided e2e-event-0: 1.00 USD given back (cash 1.00, bonus 0.00, voucher 0.00)") {
				t.Fatalf("void: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "void", "--db", dsn, "e2e-event-0"); err == nil || !strings.Contains(out, "voided already") {
				t.Fatalf("a second void must fail: %v\n%s", err, out)
			}
			// An id no event can have, named so that a terminal shows it.
			if out, err := runCLI(t, "void", "--db", dsn, "caf\xe9"); err == nil || !strings.Contains(out, `"caf\xe9": uuid: event "caf\xe9" does not exist`) {
				t.Fatalf("void of an id that is not UTF-8: %v\n%q", err, out)
			}
			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify: %v\n%s", err, out)
			}
		})
	}
}

// TestKillDuringIngestion kills the server with SIGKILL while producers
// send usage, restarts it, and checks that the ledger verifies and that
// every acknowledged event is stored: sent again, each is a duplicate.
func TestKillDuringIngestion(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := db(t)
			importPrices(t, dsn)
			s := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
			var mu sync.Mutex
			var acked [][]string
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						var batch []string
						for k := 0; k < 50; k++ {
							batch = append(batch, usageEvent(fmt.Sprintf("kill-%d-%d-%d", g, i, k), account(1+(g+k)%5), 1+k%7))
						}
						st, body, _, err := post(s.url+"/api/v1/accounting/metering/events", adminToken, "", "["+strings.Join(batch, ",")+"]")
						if err != nil {
							return // the server is gone
						}
						if st == 200 && body["accepted"].(float64) == 50 {
							mu.Lock()
							acked = append(acked, batch)
							mu.Unlock()
						}
					}
				}()
			}
			// Killed once some batches are acknowledged, however loaded the
			// machine (a fixed 1.5 s had seen 8 under a full test run).
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= 20 || time.Now().After(deadline) {
					break
				}
			}
			s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.exited
			close(stop)
			wg.Wait()
			if len(acked) < 10 {
				t.Fatalf("only %d batches were acknowledged before the kill", len(acked))
			}
			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify after kill -9: %v\n%s", err, out)
			}
			s2 := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
			for _, batch := range acked {
				st, body, _, err := post(s2.url+"/api/v1/accounting/metering/events", adminToken, "", "["+strings.Join(batch, ",")+"]")
				if err != nil || st != 200 || body["duplicate"].(float64) != 50 {
					t.Fatalf("an acknowledged batch is not all stored: %d %v %v", st, body, err)
				}
			}
			t.Logf("%d batches of 50 events acknowledged before kill -9; all present", len(acked))
		})
	}
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIngestNamesRejectedLines: each rejected line is named once, by file
// and line, with the field at fault; the good lines are charged.
func TestIngestNamesRejectedLines(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	file := filepath.Join(t.TempDir(), "events.csv")
	acct := account(7)
	os.WriteFile(file, []byte("uuid,user_uuid,value,value_type,scene,resource_id,customer_id,created_at\n"+
		"c-1,"+acct+",4,0,11,gpu,s,2026-11-02T10:00:00Z\n"+
		"c-2,"+acct+",x,0,11,gpu,s,2026-11-02T10:00:00Z\n"+
		"c-3,"+acct+",4,0,11,gpu,s\n"+
		"c-4,"+acct+",4,0,11,,s,2026-11-02T10:00:00Z\n"), 0o600)
	out, err := runCLI(t, "ingest", "--db", dsn, file)
	if err == nil || !strings.Contains(out, "accepted 1 (0 unpriced), duplicate 0, rejected 3") {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{file + `:3: event c-2 rejected: value: "x" is not a whole number` + "\n",
		file + ":4: event c-3 rejected: has 7 fields; the header has 8\n",
		file + ":5: event c-4 rejected: resource_id: is missing: every price is keyed by a resource_id, so an event without one could never be priced\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "(line") {
		t.Errorf("a line named twice:\n%s", out)
	}

	// A line with no id to name (not JSON at all) is named by its line alone.
	nd := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(nd, []byte(`{"uuid":"n-1","user_uuid":"`+acct+`","value":4,"value_type":0,"scene":11,"resource_id":"gpu","created_at":"2026-11-02T10:00:00Z"}`+"\nnot json\n"), 0o600)
	out, err = runCLI(t, "ingest", "--db", dsn, nd)
	if err == nil || !strings.Contains(out, "accepted 1 (0 unpriced), duplicate 0, rejected 1") {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := nd + ":2: rejected: is not valid JSON"; !strings.Contains(out, want) {
		t.Errorf("missing %q in\n%s", want, out)
	}

	// An id that would act on a terminal, or end a line, is printed
	// quoted with escapes (QA: one cleared the operator's terminal).
	esc := filepath.Join(t.TempDir(), "escapes.ndjson")
	os.WriteFile(esc, []byte(`{"uuid":"esc-1\u001b[2J\r","user_uuid":"`+acct+`","value":-1,"value_type":0,"scene":11,"resource_id":"gpu","created_at":"2026-11-02T10:00:00Z"}`+"\n"+
		`{"uuid":"tail ","user_uuid":"`+acct+`","value":1,"value_type":0,"scene":11,"resource_id":"gpu","created_at":"2026-11-02T10:00:00Z","extra":{"a\u202eb":1,"a\u202eb":2}}`+"\n"), 0o600)
	out, _ = runCLI(t, "ingest", "--db", dsn, esc)
	// With none in, it does not say the others are (regression QA).
	for _, want := range []string{esc + `:1: event "esc-1\x1b[2J\r" rejected: uuid: must be printable characters without spaces`, esc + `:2: event "tail " rejected: `, `a\u202eb`,
		"abacus ingest: all 2 events were rejected (listed above)\n"} {
		if !strings.Contains(out, want) || strings.ContainsAny(out, "\x1b\r\u202e") {
			t.Errorf("missing %q, or an unseen character, in\n%q", want, out)
		}
	}
}

// TestIngestCSVStrayQuote: a stray quote in a CSV file costs its own line
// (QA's files): every line is charged or named as rejected, so that the
// summary adds up to the file's lines, including a line that, read as
// RFC 4180 allows, was inside another event's field.
func TestIngestCSVStrayQuote(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(8)
	row := func(id string, minutes int, customer, extra string) string {
		return fmt.Sprintf("%s,%s,%d,0,11,,gpu,,%s,2026-11-02T10:00:00Z,%s\n", id, acct, minutes, customer, extra)
	}
	const header = "uuid,user_uuid,value,value_type,scene,op_uid,resource_id,resource_name,customer_id,created_at,extra\n"
	for _, c := range []struct {
		name, rows, summary string
		rejected            []string    // the rejections listed, in order
		charged             [][2]string // events charged, and what voiding each gives back
	}{
		{"in customer_id",
			row("q31", 5, "c", "{}") + row("q32", 5, `"c`, "{}") + row("q33", 7, `c"`, "{}") + row("q34", 5, "c", "{}"),
			"accepted 2 (0 unpriced), duplicate 0, rejected 2",
			[]string{":3: event q32 rejected: opens a quoted field that runs past the end of the line: no field may hold a line break",
				`:4: event q33 rejected: is not valid CSV: bare " in non-quoted-field`},
			[][2]string{{"q31", "1.25 USD"}, {"q34", "1.25 USD"}}},
		{"in extra",
			row("x1", 5, "c", `"{`) + row("x2", 6, "c", "{}") + row("x3", 7, "c", `{}"`) + row("x4", 8, "c", "{}"),
			"accepted 2 (0 unpriced), duplicate 0, rejected 2",
			[]string{":2: event x1 rejected: opens a quoted field that runs past the end of the line",
				`:4: event x3 rejected: is not valid CSV: bare " in non-quoted-field`},
			[][2]string{{"x2", "1.50 USD"}, {"x4", "2.00 USD"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "events.csv")
			os.WriteFile(file, []byte(header+c.rows), 0o600)
			out, err := runCLI(t, "ingest", "--db", dsn, file)
			if err == nil || !strings.Contains(out, c.summary) {
				t.Fatalf("%v\n%s\nwant %s", err, out, c.summary)
			}
			// Each line of the file is counted once.
			m := regexp.MustCompile(`accepted (\d+) .*, duplicate (\d+), rejected (\d+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no summary in\n%s", out)
			}
			n := 0
			for _, d := range m[1:] {
				k, _ := strconv.Atoi(d)
				n += k
			}
			if lines := strings.Count(c.rows, "\n"); n != lines {
				t.Fatalf("%d counted, from %d lines:\n%s", n, lines, out)
			}
			var listed []string
			for _, l := range strings.Split(out, "\n") {
				if regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:\d+: `).MatchString(l) {
					listed = append(listed, l)
				}
			}
			if len(listed) != len(c.rejected) {
				t.Fatalf("%d rejections listed, want %d:\n%s", len(listed), len(c.rejected), out)
			}
			for i, w := range c.rejected {
				if !strings.HasPrefix(listed[i], file+w) {
					t.Errorf("rejection %d: %q, want %q…", i, listed[i], file+w)
				}
			}
			args := []string{"void", "--db", dsn}
			for _, ch := range c.charged {
				args = append(args, ch[0])
			}
			out, err = runCLI(t, args...)
			for _, ch := range c.charged {
				if w := "voided " + ch[0] + ": " + ch[1] + " given back "; !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			if err != nil {
				t.Fatalf("void: %v\n%s", err, out)
			}
		})
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestIngestListsEveryRejectionInOrder: rejections come in the file's
// order though chunks commit side by side; standard error shows the first
// hundred, and --rejects FILE has every one.
func TestIngestListsEveryRejectionInOrder(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	var lines strings.Builder
	var want []string
	file := filepath.Join(t.TempDir(), "events.ndjson")
	for i := range 1000 {
		if i%4 == 1 {
			fmt.Fprintf(&lines, "{\"uuid\":\"bad-%d\"}\n", i)
			want = append(want, fmt.Sprintf("%s:%d: event bad-%d rejected: ", file, i+1, i))
			continue
		}
		fmt.Fprintln(&lines, usageEvent(fmt.Sprintf("ok-%d", i), account(13), 1))
	}
	os.WriteFile(file, []byte(lines.String()), 0o600)
	rejects := filepath.Join(t.TempDir(), "rejects.txt")
	out, err := runCLI(t, "ingest", "--db", dsn, "--chunk", "7", "--rejects", rejects, file)
	if err == nil || !strings.Contains(out, "accepted 750 (0 unpriced), duplicate 0, rejected 250") ||
		!strings.Contains(out, "… more rejections are counted; the --rejects file lists them all") {
		t.Fatalf("%v\n%s", err, out)
	}
	var shown []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " rejected: ") {
			shown = append(shown, l)
		}
	}
	listed, _ := os.ReadFile(rejects)
	all := strings.Split(strings.TrimSuffix(string(listed), "\n"), "\n")
	if len(shown) != 100 || len(all) != len(want) {
		t.Fatalf("%d shown and %d in the file, want 100 and %d", len(shown), len(all), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(all[i], w) || i < 100 && shown[i] != all[i] {
			t.Fatalf("rejection %d: file %q, shown %q, want %q…", i, all[i], shown[min(i, 99)], w)
		}
	}
}

// TestIngestRejectsIsNoOtherFile: a --rejects file that is the database
// (by another name too), one of its files or an input is refused before
// anything is opened, and that file is left as it was (QA: creating it
// had emptied the ledger, and an input before it was read).
func TestIngestRejectsIsNoOtherFile(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "a.db")
	importPrices(t, dsn)
	file := filepath.Join(dir, "events.ndjson")
	os.WriteFile(file, []byte(usageEvent("r-1", account(14), 1)+"\n"), 0o600)
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(dsn, link); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(dsn)
	for _, target := range []string{dsn, link, file, filepath.Join(dir, ".", "a.db")} {
		out, err := runCLI(t, "ingest", "--db", dsn, "--rejects", target, file)
		if err == nil || !strings.Contains(out, "--rejects") || !strings.Contains(out, "name a file of its own") {
			t.Fatalf("--rejects %s: %v\n%s", target, err, out)
		}
	}
	// A database not made yet is no rejects file either.
	fresh := filepath.Join(dir, "new.db")
	if out, err := runCLI(t, "ingest", "--db", fresh, "--rejects", fresh, file); err == nil || !strings.Contains(out, "name a file of its own") {
		t.Fatalf("--rejects the new database: %v\n%s", err, out)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused run left %s: %v", fresh, err)
	}
	if after, _ := os.ReadFile(dsn); !bytes.Equal(before, after) {
		t.Fatal("the database changed")
	}
	if in, _ := os.ReadFile(file); !strings.Contains(string(in), "r-1") {
		t.Fatal("the input was emptied")
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, "--rejects", filepath.Join(dir, "rejects.txt"), file); err != nil {
		t.Fatalf("a rejects file of its own: %v\n%s", err, out)
	}
	// A device is no file to empty (QA: truncating /dev/null failed).
	if out, err := runCLI(t, "ingest", "--db", dsn, "--rejects", os.DevNull, file); err != nil || !strings.Contains(out, "duplicate 1") {
		t.Fatalf("--rejects %s: %v\n%s", os.DevNull, err, out)
	}
}

// TestIngestGzip: a gzip-compressed file is read as what its name says
// under the .gz. One cut short charges the events before the cut, says
// so, and the whole file sent again charges the rest: those before come
// back duplicates.
func TestIngestGzip(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(9)
	var lines strings.Builder
	const n = 3000
	for i := range n {
		fmt.Fprintf(&lines, "%s\n", usageEvent(fmt.Sprintf("gz-%d", i), acct, 4))
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(lines.String()))
	zw.Close()
	whole := filepath.Join(t.TempDir(), "events.ndjson.gz")
	cut := filepath.Join(t.TempDir(), "cut.ndjson.gz")
	os.WriteFile(whole, zipped.Bytes(), 0o600)
	os.WriteFile(cut, zipped.Bytes()[:zipped.Len()*3/4], 0o600)

	out, err := runCLI(t, "ingest", "--db", dsn, cut)
	var sent int
	if m := regexp.MustCompile(`accepted (\d+) `).FindStringSubmatch(out); m != nil {
		sent, _ = strconv.Atoi(m[1])
	}
	if err == nil || sent == 0 || sent >= n ||
		!strings.Contains(out, "unexpected EOF; the events before it were sent") {
		t.Fatalf("a file cut short: %v\n%s", err, out)
	}
	out, err = runCLI(t, "ingest", "--db", dsn, whole)
	if want := fmt.Sprintf("accepted %d (0 unpriced), duplicate %d, rejected 0", n-sent, sent); err != nil || !strings.Contains(out, want) {
		t.Fatalf("the whole file after: %v\n%s\nwant %s", err, out, want)
	}
}

// TestIngestGzipMembersAndTrailingBytes: a file of two gzip members (two
// files concatenated) is read whole; bytes after the gzip data that are no
// gzip are named as such, after every event of it was sent, not as a file
// cut short (QA).
func TestIngestGzipMembersAndTrailingBytes(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(10)
	member := func(from, to int) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		for i := from; i < to; i++ {
			fmt.Fprintf(zw, "%s\n", usageEvent(fmt.Sprintf("gm-%d", i), acct, 4))
		}
		zw.Close()
		return b.Bytes()
	}
	two := filepath.Join(t.TempDir(), "two.ndjson.gz")
	os.WriteFile(two, append(member(0, 10), member(10, 20)...), 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, two); err != nil || !strings.Contains(out, "accepted 20 (0 unpriced), duplicate 0, rejected 0") {
		t.Fatalf("two members: %v\n%s", err, out)
	}
	for _, junk := range []string{"x", "garbage after the data\n", "\x1f\x8bXXXXXXXXXXXX"} { // the last only starts as gzip does
		trailing := filepath.Join(t.TempDir(), "trailing.ndjson.gz")
		os.WriteFile(trailing, append(member(20, 30), junk...), 0o600)
		out, err := runCLI(t, "ingest", "--db", dsn, trailing)
		if err == nil || !strings.Contains(out, "accepted 0 (0 unpriced), duplicate 10, rejected 0") && !strings.Contains(out, "accepted 10 (0 unpriced), duplicate 0, rejected 0") ||
			!strings.Contains(out, "after its gzip data come bytes that are not gzip: every event of the gzip data was read and sent") || strings.Contains(out, "once the file is whole") {
			t.Fatalf("%q after the gzip data: %v\n%s", junk, err, out)
		}
	}
	// A second member cut after its first byte is a file cut short.
	cut := filepath.Join(t.TempDir(), "cut.ndjson.gz")
	os.WriteFile(cut, append(member(30, 40), 0x1f), 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, cut); err == nil || !strings.Contains(out, "unexpected EOF; the events before it were sent") {
		t.Fatalf("a member cut after its first byte: %v\n%s", err, out)
	}
}

// TestIngestTellsTheFormatByContent: standard input, and a file whose
// name does not say, are read as NDJSON or CSV by their first line,
// compressed or not; the progress of a stream of unknown size counts its
// bytes without a total.
func TestIngestTellsTheFormatByContent(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(11)
	stdin := func(body []byte) (string, error) {
		cmd := exec.Command(binary, "ingest", "--db", dsn, "-")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	nd := "\ufeff\n" + usageEvent("s-1", acct, 4) + "\n" + usageEvent("s-2", acct, 4) + "\n"
	out, err := stdin([]byte(nd))
	if err != nil || !strings.Contains(out, "accepted 2 (0 unpriced), duplicate 0, rejected 0") || !strings.Contains(out, fmt.Sprintf("standard input: 2 events, %d bytes, ", len(nd))) {
		t.Fatalf("NDJSON on standard input: %v\n%s", err, out)
	}
	csv := "uuid,user_uuid,value,value_type,scene,resource_id,customer_id,created_at\n" +
		"s-3," + acct + ",4,0,11,gpu,s,2026-11-02T10:00:00Z\n"
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(csv))
	zw.Close()
	if out, err := stdin(zipped.Bytes()); err != nil || !strings.Contains(out, "accepted 1 (0 unpriced), duplicate 0, rejected 0") || !strings.Contains(out, "standard input: 1 event, ") {
		t.Fatalf("gzip-compressed CSV on standard input: %v\n%s", err, out)
	}
	// A rejection names standard input as the progress does, not "-" (regression QA).
	if out, err := stdin([]byte(`{"uuid":"s-bad"}` + "\n")); err == nil || !strings.Contains(out, "standard input:1: event s-bad rejected: value: is required") {
		t.Fatalf("a rejected line on standard input: %v\n%s", err, out)
	}
	misnamed := filepath.Join(t.TempDir(), "usage.ndjson")
	os.WriteFile(misnamed, []byte(csv), 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, misnamed); err == nil || !strings.Contains(out, "is named as NDJSON but reads as CSV; rename it, or use --format csv") {
		t.Fatalf("CSV in a .ndjson file: %v\n%s", err, out)
	}
	// A file split mid-line starts with the end of an event, and one may
	// start with a garbled line: the line is rejected, the rest charged
	// (QA: the file had been refused whole as CSV misnamed).
	for i, first := range []string{`ource_id":"gpu","created_at":"2026-11-02T10:00:00Z"}`, "garbage"} {
		split := filepath.Join(t.TempDir(), "part.ndjson")
		os.WriteFile(split, []byte(first+"\n"+usageEvent(fmt.Sprintf("p-%d", i), acct, 4)+"\n"), 0o600)
		if out, err := runCLI(t, "ingest", "--db", dsn, split); err == nil || !strings.Contains(out, "accepted 1 (0 unpriced), duplicate 0, rejected 1") || !strings.Contains(out, "part.ndjson:1: rejected: is not valid JSON") {
			t.Fatalf("NDJSON whose first line is %q: %v\n%s", first, err, out)
		}
	}
	// A CSV header of other names, where the name does not say the format,
	// is read as CSV, whose reader names the column it does not know.
	if out, err := stdin([]byte("id,account,amount\nx,y,1\n")); err == nil || !strings.Contains(out, "id: is not a known column") {
		t.Fatalf("CSV of other columns on standard input: %v\n%s", err, out)
	}
	// A piece split makes, with no extension, cut in the middle of a line.
	if out, err := stdin([]byte(`ff7f","user_uuid":"x"}` + "\n" + usageEvent("s-6", acct, 4) + "\n")); err == nil || !strings.Contains(out, "if it is NDJSON, give --format ndjson") {
		t.Fatalf("NDJSON cut mid-line on standard input: %v\n%s", err, out)
	}
	empty := filepath.Join(t.TempDir(), "empty.csv")
	os.WriteFile(empty, nil, 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, empty); err == nil || !strings.Contains(out, "header: is missing: the file is empty") {
		t.Fatalf("an empty .csv file: %v\n%s", err, out)
	}
	txt := filepath.Join(t.TempDir(), "usage.txt")
	os.WriteFile(txt, []byte(csv), 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, txt); err != nil || !strings.Contains(out, "accepted 0 (0 unpriced), duplicate 1, rejected 0") {
		t.Fatalf("CSV in a .txt file: %v\n%s", err, out)
	}
	if out, err := stdin([]byte(`[` + usageEvent("s-4", acct, 4) + `]`)); err == nil || !strings.Contains(out, "is a JSON array; abacus ingest reads NDJSON") {
		t.Fatalf("a JSON array: %v\n%s", err, out)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(usageEvent("s-5", acct, 5)), "", "  "); err != nil {
		t.Fatal(err)
	}
	if out, err := stdin(pretty.Bytes()); err == nil || !strings.Contains(out, "is JSON spread over lines") || strings.Contains(out, "rejected") {
		t.Fatalf("an event spread over lines: %v\n%s", err, out)
	}
}

// TestIngestCarriesOnPastABadFile: of several files, one missing or not
// readable does not stop the ones after it; each is named, and the
// command fails.
func TestIngestCarriesOnPastABadFile(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	dir := t.TempDir()
	first, last := filepath.Join(dir, "first.ndjson"), filepath.Join(dir, "last.ndjson")
	os.WriteFile(first, []byte(usageEvent("f-1", account(12), 1)+"\n"), 0o600)
	os.WriteFile(last, []byte(usageEvent("f-2", account(12), 1)+"\n"), 0o600)
	array := filepath.Join(dir, "array.json")
	os.WriteFile(array, []byte("["+usageEvent("f-3", account(12), 1)+"]"), 0o600)
	missing := filepath.Join(dir, "missing.ndjson")
	out, err := runCLI(t, "ingest", "--db", dsn, first, missing, array, last)
	if err == nil || !strings.Contains(out, "accepted 2 (0 unpriced), duplicate 0, rejected 0") || !strings.Contains(out, "2 of 4 files failed") ||
		!strings.Contains(out, missing+": open") || !strings.Contains(out, array+": is a JSON array") {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, "--chunk", "0", first); err == nil || !strings.Contains(out, "--chunk 0: give 1 to 100000 events") {
		t.Fatalf("--chunk 0: %v\n%s", err, out)
	}
	utf16 := filepath.Join(dir, "utf16.csv")
	os.WriteFile(utf16, []byte("\xff\xfeu\x00u\x00i\x00d\x00"), 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, utf16); err == nil || !strings.Contains(out, utf16+": is UTF-16 text; abacus ingest reads UTF-8") {
		t.Fatalf("UTF-16: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, dir); err == nil || !strings.Contains(out, dir+": is a directory; name the files in it") {
		t.Fatalf("a directory: %v\n%s", err, out)
	}
	// A bad flag is told before anything is opened.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if out, err := runCLI(t, "ingest", "--db", fresh, "--format", "xml", first); err == nil || !strings.Contains(out, `--format "xml" is not ndjson or csv`) {
		t.Fatalf("--format xml: %v\n%s", err, out)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("--format xml made the database: %v", err)
	}
}

// TestIngestInterruptedCountsWhatItSent: interrupted, ingest still sees
// through the chunks it handed over, and its summary counts every event
// it stored.
func TestIngestInterruptedCountsWhatItSent(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	var events strings.Builder
	for i := range 100_000 {
		fmt.Fprintln(&events, usageEvent(fmt.Sprintf("int-%d", i), account(1+i%50), 1))
	}
	file := writeFile(t, "events.ndjson", events.String())
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	cmd := exec.Command(binary, "ingest", "--db", dsn, file)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		evs, err := st.Events(t.Context(), abacus.EventQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err == nil || !strings.Contains(out.String(), "interrupted: the events counted are in") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var accepted int
	if _, err := fmt.Sscanf(out.String()[strings.Index(out.String(), "accepted "):], "accepted %d", &accepted); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	stored := 0
	for after := int64(0); ; {
		evs, err := st.Events(t.Context(), abacus.EventQuery{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		stored, after = stored+len(evs), evs[len(evs)-1].Seq
	}
	if stored == 100_000 || stored != accepted {
		t.Fatalf("the summary counted %d accepted of %d stored (of 100,000)\n%s", accepted, stored, out.String())
	}
}

// TestIngestInterruptedWhileOpening: interrupted before the database is
// open (waiting for another writer's lock, say), ingest says so and that
// nothing changed, not "context canceled".
func TestIngestInterruptedWhileOpening(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "usage.ndjson")
	if err := os.WriteFile(file, []byte(usageEvent("i-1", account(1), 1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interruption{os.Interrupt})
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"ingest", "--db", filepath.Join(dir, "a.db"), file}, &stdout, &stderr); code != 130 ||
		!strings.Contains(stderr.String(), "interrupted while opening the database, before any event was read: nothing changed") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// running is an abacus process the test signals, with a pipe to its
// standard input that the test writes to and keeps open.
type running struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *lockedBuffer // standard output and error
	exited chan error    // the process's end, once
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	p := &running{name: "abacus " + args[0], cmd: exec.Command(binary, args...), out: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.stdin.Close() })
	return p
}

// startPiped runs abacus ingest on its standard input.
func startPiped(t *testing.T, args ...string) *running {
	t.Helper()
	return start(t, append(append([]string{"ingest"}, args...), "-")...)
}

// send writes events to the process's standard input, one a line.
func (p *running) send(t *testing.T, events []string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, strings.Join(events, "\n")+"\n"); err != nil {
		t.Fatalf("%v\n%s", err, p.out)
	}
}

// waitUntil polls cond for up to 20 s, while the process runs.
func (p *running) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("%s exited (%v) while waiting for %s:\n%s", p.name, err, what, p.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, p.out)
		}
	}
}

// hinted waits until the process, interrupted, says it is finishing what
// is in flight: it is still running 2 s after the signal, which it has
// taken.
func (p *running) hinted(t *testing.T) {
	t.Helper()
	p.waitUntil(t, "the hint", func() bool {
		return strings.Contains(p.out.String(), p.name+": interrupted: finishing what is in flight; interrupt again to exit at once\n")
	})
}

// end waits up to 10 s for the process to exit, and returns its exit code.
func (p *running) end(t *testing.T, after string) int {
	t.Helper()
	select {
	case err := <-p.exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs 10 s after %s:\n%s", p.name, after, p.out)
	}
	return 0
}

// heldLock is a PostgreSQL transaction that holds a lock.
type heldLock struct {
	t        *testing.T
	tx       pgx.Tx
	pid      uint32
	observer *pgx.Conn // outside the transaction, which would see one snapshot of the activity
}

// holdLock takes a lock in a transaction of its own, by a statement, until
// release or the test's end.
func holdLock(t *testing.T, dsn, statement string, args ...any) *heldLock {
	t.Helper()
	connect := func() *pgx.Conn {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	conn := connect()
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), statement, args...); err != nil {
		t.Fatal(err)
	}
	return &heldLock{t: t, tx: tx, pid: conn.PgConn().PID(), observer: connect()}
}

// waited says whether another session waits for the lock.
func (l *heldLock) waited() bool {
	return l.count("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", int(l.pid)) > 0
}

// count runs a count outside the transaction, and outside the book's lock,
// which the store's listing of all events takes and a usage batch waiting
// for this lock holds.
func (l *heldLock) count(query string, args ...any) int {
	var n int
	if err := l.observer.QueryRow(l.t.Context(), query, args...).Scan(&n); err != nil {
		l.t.Fatal(err)
	}
	return n
}

func (l *heldLock) release() {
	if err := l.tx.Rollback(l.t.Context()); err != nil {
		l.t.Fatal(err)
	}
}

// storedEvents counts the events stored.
func storedEvents(t *testing.T, st migrator) int {
	t.Helper()
	return eventsIn(t, st, "")
}

// eventsIn counts the events stored in a status ("": any).
func eventsIn(t *testing.T, st migrator, status abacus.EventStatus) int {
	t.Helper()
	n := 0
	for after := int64(0); ; {
		evs, err := st.Events(t.Context(), abacus.EventQuery{Status: status, AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return n
		}
		n, after = n+len(evs), evs[len(evs)-1].Seq
	}
}

func pipedEvents(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, usageEvent(fmt.Sprintf("%s-%d", prefix, i), account(1+i%20), 1))
	}
	return out
}

// TestIngestFromAPipeChargesAsItGoes: reading standard input that pauses
// (tail -f), ingest charges a full chunk at once and the rest once it has
// waited --flush (a second), not at the next chunk or the end of the
// input; interrupted while its input is open and quiet, it stops at once,
// with its summary and the line to send again from.
func TestIngestFromAPipeChargesAsItGoes(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := startPiped(t, "--db", dsn)
	p.send(t, pipedEvents("tail", 0, 3000)) // a chunk of 2,000, and 1,000 that wait
	p.waitUntil(t, "3,000 events charged", func() bool { return storedEvents(t, st) == 3000 })
	p.send(t, pipedEvents("tail", 3000, 3010))
	p.waitUntil(t, "3,010 events charged", func() bool { return storedEvents(t, st) == 3010 })
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.end(t, "SIGINT"); code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, p.out)
	}
	for _, want := range []string{
		"accepted 3010 (0 unpriced), duplicate 0, rejected 0\n",
		"abacus ingest: standard input: interrupted: the events counted are in, every one up to line 3010; " +
			"send the rest again, from line 3011 or whole: it is safe (those sent come back as duplicates)\n",
	} {
		if !strings.Contains(p.out.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, p.out)
		}
	}
}

// TestIngestInterruptedSendsWhatItRead: interrupted (SIGTERM) with events
// read that wait for their chunk to fill, ingest sends them and waits for
// their commit before it exits, and counts them: a line read from a pipe
// cannot be read again.
func TestIngestInterruptedSendsWhatItRead(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := startPiped(t, "--db", dsn, "--chunk", "3", "--flush", "1h")
	p.send(t, pipedEvents("held", 0, 5))
	p.waitUntil(t, "the first chunk charged", func() bool { return storedEvents(t, st) == 3 })
	p.cmd.Process.Signal(syscall.SIGTERM) // events 4 and 5 wait for a third
	if code := p.end(t, "SIGTERM"); code != 143 {
		t.Fatalf("exit %d, want 143:\n%s", code, p.out)
	}
	if !strings.Contains(p.out.String(), "accepted 5 (0 unpriced), duplicate 0, rejected 0\n") ||
		!strings.Contains(p.out.String(), "interrupted: the events counted are in, every one up to line 5; send the rest again") {
		t.Fatalf("want all 5 counted:\n%s", p.out)
	}
	if n := storedEvents(t, st); n != 5 {
		t.Fatalf("%d events stored, want 5", n)
	}
}

// TestIngestSecondInterruptExitsAtOnce: interrupted while a chunk waits
// for a lock in the database, ingest waits for it, and says after a while
// that a second interrupt exits at once; the second does, 130, without
// counting the chunk that had not committed. None of it is stored, and
// the same input sent again charges it.
func TestIngestSecondInterruptExitsAtOnce(t *testing.T) {
	dsn := testdb.PostgresSchemaURL(t)
	importPrices(t, dsn)
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := startPiped(t, "--db", dsn)
	events := pipedEvents("again", 0, 5)
	p.send(t, events[:3])
	p.waitUntil(t, "the first 3 events charged", func() bool { return storedEvents(t, st) == 3 })

	lock := holdLock(t, dsn, "LOCK TABLE usage_events IN ACCESS EXCLUSIVE MODE")
	p.send(t, events[3:])
	p.waitUntil(t, "the last 2 events waiting for the lock", lock.waited)
	p.cmd.Process.Signal(os.Interrupt)
	p.hinted(t)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.end(t, "a second SIGINT"); code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "abacus ingest: interrupted again: exiting at once, without waiting for what was in flight") ||
		strings.Contains(out, "accepted") {
		t.Fatalf("want no count, and why:\n%s", out)
	}
	lock.release()
	if n := storedEvents(t, st); n != 3 {
		t.Fatalf("%d events stored, want the 3 before the lock", n)
	}
	out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, "again.ndjson", strings.Join(events, "\n")+"\n"))
	if err != nil || !strings.Contains(out, "accepted 2 (0 unpriced), duplicate 3, rejected 0\n") {
		t.Fatalf("sent again: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}
