package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/abacus-billing/abacus/internal/testdb"
)

// binary is the abacus executable the end-to-end tests run as a real
// process, so they can kill it.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "abacus-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "abacus")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building abacus: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminToken = "e2e-admin-token-0123456789abcdef"

// server is a running `abacus serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	out    *bytes.Buffer
	mu     *sync.Mutex
	exited chan error
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func startServer(t *testing.T, db string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--db", db, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, out: &bytes.Buffer{}, mu: &sync.Mutex{}, exited: make(chan error, 1)}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		s.exited <- cmd.Wait()
	}()
	select {
	case s.url = <-urls:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("abacus serve did not start:\n%s", s.output())
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// post sends an authenticated JSON request and decodes the answer.
func post(url, token, key, body string) (int, map[string]any, http.Header, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	var m map[string]any
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	json.Unmarshal(raw, &m)
	return res.StatusCode, m, res.Header, nil
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}

func account(i int) string { return fmt.Sprintf("e2e00000-0000-4000-8000-%012d", i) }

// op is one request of the load, with what the server said.
type op struct {
	key, body string
	status    int    // 0: no answer (the server died first)
	txID      string // of an acknowledged one
}

// load sends money-moving requests from several goroutines until stop
// closes, and returns every request with its fate.
func load(base string, accounts int, stop <-chan struct{}) []*op {
	var mu sync.Mutex
	var ops []*op
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a, b := account(1+(g+i)%accounts), account(1+(g+i+1)%accounts)
				o := &op{key: fmt.Sprintf("load-%d-%d", g, i)}
				switch i % 3 {
				case 0:
					o.body = fmt.Sprintf(`{"type":"charge","account":"%s","amount":"0.%06d","currency":"USD"}`, a, 1+i%999999)
				case 1:
					o.body = fmt.Sprintf(`{"type":"topup","account":"%s","amount":"1.%d","currency":"USD"}`, a, i%10)
				default:
					o.body = fmt.Sprintf(`{"currency":"USD","postings":[{"account":"%s","amount":"-0.5"},{"account":"%s","amount":"0.5"}]}`, a, b)
				}
				status, m, _, err := post(base+"/api/v1/ledger/transactions", adminToken, o.key, o.body)
				if err == nil {
					o.status = status
					if status == 201 {
						o.txID = fmt.Sprint(m["id"])
					}
				}
				mu.Lock()
				ops = append(ops, o)
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		}()
	}
	wg.Wait()
	return ops
}

func setup(t *testing.T, base string, accounts int) {
	t.Helper()
	for i := 1; i <= accounts; i++ {
		if st, _, _, err := post(base+"/api/v1/accounts", adminToken, "", fmt.Sprintf(`{"id":"%s","kind":"user","name":"e2e","currency":"USD"}`, account(i))); err != nil || st != 201 {
			t.Fatalf("creating account: %d %v", st, err)
		}
		if st, _, _, err := post(base+"/api/v1/ledger/transactions", adminToken, fmt.Sprintf("fund-%d", i),
			fmt.Sprintf(`{"type":"topup","account":"%s","amount":"1000","currency":"USD"}`, account(i))); err != nil || st != 201 {
			t.Fatalf("funding: %d %v", st, err)
		}
	}
}

// checkAcknowledged replays every acknowledged request: each must come
// back as a replay of the very transaction it was acknowledged with.
func checkAcknowledged(t *testing.T, base string, ops []*op) int {
	t.Helper()
	acked := 0
	for _, o := range ops {
		if o.status != 201 {
			continue
		}
		acked++
		status, m, h, err := post(base+"/api/v1/ledger/transactions", adminToken, o.key, o.body)
		if err != nil || status != 201 || h.Get("Idempotent-Replayed") != "true" || fmt.Sprint(m["id"]) != o.txID {
			t.Fatalf("acknowledged %s (transaction %s) is not in the ledger after the restart: %d %v %v", o.key, o.txID, status, m, err)
		}
	}
	return acked
}

func databases(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return testdb.SQLitePath(t) },
		"postgres": func(t *testing.T) string { return testdb.PostgresSchemaURL(t) },
	}
}

// TestKillDuringLoad kills the server with SIGKILL in the middle of a load,
// restarts it, and checks that the ledger verifies and that every
// acknowledged operation survived.
func TestKillDuringLoad(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := db(t)
			s := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
			setup(t, s.url, 8)
			stop := make(chan struct{})
			done := make(chan []*op)
			go func() { done <- load(s.url, 8, stop) }()
			time.Sleep(1500 * time.Millisecond)
			if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-s.exited
			close(stop)
			ops := <-done

			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify after kill -9: %v\n%s", err, out)
			}
			s2 := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
			acked := checkAcknowledged(t, s2.url, ops)
			if acked < 50 {
				t.Fatalf("only %d operations were acknowledged before the kill; the test proves little", acked)
			}
			t.Logf("%d requests, %d acknowledged before kill -9; all present", len(ops), acked)
			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify after the replays: %v\n%s", err, out)
			}
		})
	}
}

// TestGracefulShutdown sends SIGTERM in the middle of a load: the server
// finishes what is in flight, exits cleanly, and nothing acknowledged is lost.
func TestGracefulShutdown(t *testing.T) {
	dsn := testdb.SQLitePath(t)
	s := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
	setup(t, s.url, 4)
	stop := make(chan struct{})
	done := make(chan []*op)
	go func() { done <- load(s.url, 4, stop) }()
	time.Sleep(time.Second)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("abacus serve exited with %v after SIGTERM:\n%s", err, s.output())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("abacus serve did not stop within 30s of SIGTERM")
	}
	close(stop)
	ops := <-done
	if !strings.Contains(s.output(), "stopped") {
		t.Fatalf("no clean stop in the output:\n%s", s.output())
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	s2 := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
	checkAcknowledged(t, s2.url, ops)
}

// TestFirstStartPrintsAdminKey: a fresh database gets one admin key,
// printed once; the next start prints none.
func TestFirstStartPrintsAdminKey(t *testing.T) {
	dsn := testdb.SQLitePath(t)
	s := startServer(t, dsn)
	m := regexp.MustCompile(`\n\s+(abk_\S+)\n`).FindStringSubmatch(s.output())
	if m == nil {
		t.Fatalf("no admin key printed on first start:\n%s", s.output())
	}
	if st, _, _, err := post(s.url+"/api/v1/accounts", m[1], "", `{"id":"`+account(1)+`","kind":"user","currency":"USD"}`); err != nil || st != 201 {
		t.Fatalf("the printed admin key does not work: %d %v", st, err)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.exited
	s2 := startServer(t, dsn)
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(s2.output(), "abk_") {
		t.Fatalf("a second start printed a key again:\n%s", s2.output())
	}
	out, err := runCLI(t, "keys", "list", "--db", dsn)
	if err != nil || strings.Count(out, "\nkey_") != 1 {
		t.Fatalf("want exactly one admin key: %v\n%s", err, out)
	}
}

func TestVerifyCommandFailsOnCorruption(t *testing.T) {
	dsn := testdb.SQLitePath(t)
	s := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
	setup(t, s.url, 2)
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.exited
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil || !strings.Contains(out, "all ledger invariants hold") {
		t.Fatalf("verify on a clean ledger: %v\n%s", err, out)
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`UPDATE wallets SET balance = balance + 1 WHERE id = (SELECT MIN(id) FROM wallets WHERE bucket = 'cash')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "verify", "--db", dsn)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out, "FAIL") {
		t.Fatalf("verify must exit 1 and report the corrupted balance: %v\n%s", err, out)
	}
}

// TestKeysCommands creates a user key with the CLI, uses it, revokes it,
// and sees a new server refuse it.
func TestKeysCommands(t *testing.T) {
	dsn := testdb.SQLitePath(t)
	s := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
	setup(t, s.url, 1)
	out, err := exec.Command(binary, "keys", "create", "--db", dsn, "--role", "user", "--account", account(1), "--name", "alice's app").Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	token := strings.TrimSpace(string(out))
	get := func(token string) int {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/accounts/"+account(1), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := get(token); st != 200 {
		t.Fatalf("the new user key reads its account: %d", st)
	}
	list, err := runCLI(t, "keys", "list", "--db", dsn)
	if err != nil || !strings.Contains(list, "alice's app") {
		t.Fatalf("keys list: %v\n%s", err, list)
	}
	id := regexp.MustCompile(`(key_\S+)\s+user`).FindStringSubmatch(list)
	if id == nil {
		t.Fatalf("no user key in the list:\n%s", list)
	}
	if out, err := runCLI(t, "keys", "revoke", "--db", dsn, id[1]); err != nil {
		t.Fatalf("keys revoke: %v\n%s", err, out)
	}
	// Again, it says so; a token for the id is named as one (QA).
	if out, err := runCLI(t, "keys", "revoke", "--db", dsn, id[1]); err != nil || !strings.Contains(out, id[1]+" was revoked already, at ") {
		t.Fatalf("keys revoke again: %v\n%s", err, out)
	}
	// No character of a token comes back, in any spelling (regression QA).
	for _, arg := range []string{token, "Bearer " + token, " " + token, `"` + token + `"`, "Authorization: Bearer " + token, "\ufeff" + token} {
		if out, err := runCLI(t, "keys", "revoke", "--db", dsn, arg); err == nil || !strings.Contains(out, "that is the token of key "+id[1]+", not its id") || strings.Contains(out, token[4:12]) {
			t.Fatalf("keys revoke of a token as %q: %v\n%s", arg, err, out)
		}
	}
	for _, arg := range []string{strings.ToUpper(token), "some-admin-secret-0123456789abcdef"} {
		if out, err := runCLI(t, "keys", "revoke", "--db", dsn, arg); err == nil || !strings.Contains(out, "that is no key id") || strings.Contains(strings.ToLower(out), strings.ToLower(arg[4:12])) {
			t.Fatalf("keys revoke of %q: %v\n%s", arg, err, out)
		}
	}
	if out, err := runCLI(t, "keys", "revoke", "--db", dsn, "key_nope"); err == nil || !strings.Contains(out, "API key key_nope does not exist") {
		t.Fatalf("keys revoke of an id not there: %v\n%s", err, out)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.exited
	s2 := startServer(t, dsn, "ABACUS_ADMIN_TOKEN="+adminToken)
	s = s2
	if st := get(token); st != 401 {
		t.Fatalf("a revoked key must be refused: %d", st)
	}
	if out, err := runCLI(t, "keys", "create", "--db", dsn, "--role", "owner"); err == nil || !strings.Contains(out, "--role") {
		t.Fatalf("a bad role must be refused naming the flag: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "keys", "create", "--db", dsn, "--role", "user"); err == nil || !strings.Contains(out, "a user key is for one account: name it with --account") {
		t.Fatalf("a user key without its account: %v\n%s", err, out)
	}
	// An account that is not there is a command that ran and failed (1),
	// as a database that fails is, not a command line it cannot run (QA).
	missing, err := runCLI(t, "keys", "create", "--db", dsn, "--role", "user", "--account", account(77))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(missing, "--account: account "+account(77)+" does not exist") {
		t.Fatalf("a user key for an account not there: %v\n%s", err, missing)
	}
}

// TestServeRefusesBadSettings: a bad setting stops serve before it opens
// anything, with an error that names the flag.
func TestServeRefusesBadSettings(t *testing.T) {
	for _, c := range []struct{ flag, value string }{
		{"--ingest-memory", "0"},
		{"--ingest-memory", "lots"},
		{"--nats-fetch-memory", "-1"},
		{"--draw-order", "cash,cash,bonus"},
		{"--max-usage-batch", "0"},
		{"--connections-per-key", "0"},
		{"--connections-per-key", "many"},
	} {
		out, err := runCLI(t, "serve", "--db", filepath.Join(t.TempDir(), "a.db"), "--addr", "127.0.0.1:0", c.flag, c.value)
		if err == nil || !strings.Contains(out, c.flag+":") {
			t.Errorf("serve %s %s: %v\n%s", c.flag, c.value, err, out)
		}
	}
}

// TestBenchIngestRefusesBadSettings: a bad setting stops the benchmark
// before it runs anything, naming the flag.
func TestBenchIngestRefusesBadSettings(t *testing.T) {
	for _, c := range []struct{ flag, value string }{
		{"--stored", "-1"},
		{"--producers", "64,none"},
		{"--ids", "sequential"},
	} {
		out, err := runCLI(t, "bench", "ingest", "--stores", "sqlite", c.flag, c.value)
		if err == nil || !strings.Contains(out, c.flag+":") {
			t.Errorf("bench ingest %s %s: %v\n%s", c.flag, c.value, err, out)
		}
	}
}
