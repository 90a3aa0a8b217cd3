package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus/metering/natstest"
)

// lockedBuffer is a buffer a process writes to while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// natsServe is a running `abacus serve --nats …` process whose standard
// output and logs are both kept.
type natsServe struct {
	cmd         *exec.Cmd
	url         string
	stdout, log *lockedBuffer
	exited      chan error // the process's end, once
}

// startServeNATS runs `abacus serve` on a new SQLite database with prices
// and the admin token, and the given flags; it returns once it listens.
func startServeNATS(t *testing.T, args ...string) *natsServe {
	t.Helper()
	db := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, db)
	cmd := exec.Command(binary, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "ABACUS_ADMIN_TOKEN="+adminToken, "ABACUS_NATS_URL=")
	s := &natsServe{cmd: cmd, stdout: &lockedBuffer{}, log: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = s.log
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fmt.Fprintln(s.stdout, sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		s.exited <- cmd.Wait()
	}()
	select {
	case s.url = <-urls:
	case err := <-s.exited:
		t.Fatalf("abacus serve exited (%v) instead of listening:\n%s\n%s", err, s.stdout, s.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("abacus serve did not start:\n%s\n%s", s.stdout, s.log)
	}
	return s
}

// waitUntil polls cond for up to 30s, failing with the server's output.
func (s *natsServe) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("abacus serve exited (%v) while waiting for %s:\n%s\n%s", err, what, s.stdout, s.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s\n%s", what, s.stdout, s.log)
		}
	}
}

// balance returns an account's total balance as the API tells it, "" if
// the account does not exist yet.
func (s *natsServe) balance(t *testing.T, acct string) string {
	t.Helper()
	total, _ := getJSON(t, s.url+"/api/v1/accounts/"+acct)["total"].(map[string]any)
	b, _ := total["balance"].(string)
	return b
}

// jsClient returns a JetStream client of the server at url.
func jsClient(t *testing.T, url string) jetstream.JetStream {
	_, js := natstest.Connect(t, url)
	return js
}

// TestServeNATSStartsBeforeNATS: NATS down as serve starts is not an
// error: serve answers, and charges usage from NATS once it is up.
func TestServeNATSStartsBeforeNATS(t *testing.T) {
	t.Parallel()
	opts := natstest.Options(t)
	opts.Port = natstest.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", opts.Port)
	s := startServeNATS(t, "--nats", url)
	// The subjects it will take are not known yet, and the banner says so.
	if !strings.Contains(s.stdout.String(), "as far as the stream captures them (NATS is not reachable yet") {
		t.Fatalf("the banner:\n%s", s.stdout)
	}
	res, err := http.Get(s.url + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz with NATS down: %v %v", res, err)
	}
	res.Body.Close()

	natstest.Run(t, opts)
	js := jsClient(t, url)
	s.waitUntil(t, "the durable consumer", func() bool {
		_, err := js.Consumer(context.Background(), "meteringEventStream", "abacus-metering")
		return err == nil
	})
	acct := account(7)
	if _, err := js.Publish(context.Background(), "accounting.metering.duration", []byte(usageEvent("late-nats-1", acct, 4))); err != nil {
		t.Fatal(err)
	}
	s.waitUntil(t, "the event charged", func() bool { return s.balance(t, acct) == "-1" })
}

// TestServeNATSExitsWhenConsumerFails: a consumer that stops for good
// (here: NATS came up late with a stream that does not capture the
// subject) makes serve exit 1, saying why, rather than carry on without
// charging usage from NATS.
func TestServeNATSExitsWhenConsumerFails(t *testing.T) {
	t.Parallel()
	opts := natstest.Options(t)
	opts.Port = natstest.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", opts.Port)
	ns := natstest.Run(t, opts)
	if _, err := jsClient(t, url).CreateStream(context.Background(), jetstream.StreamConfig{Name: "meteringEventStream", Subjects: []string{"other.subject"}}); err != nil {
		t.Fatal(err)
	}
	natstest.Stop(ns)

	s := startServeNATS(t, "--nats", url)
	// Not before: NATS up as serve starts fails it as a bad setting.
	s.waitUntil(t, "serve to find NATS down", func() bool { return strings.Contains(s.log.String(), "NATS is not reachable yet") })
	natstest.Run(t, opts)
	var err error
	select {
	case err = <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("abacus serve went on without its consumer:\n%s\n%s", s.stdout, s.log)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("abacus serve ended with %v, want exit code 1", err)
	}
	if log := s.log.String(); !strings.Contains(log, "abacus serve: --nats: the consumer stopped, so abacus exits: metering: stream meteringEventStream captures other.subject, not accounting.metering.duration, accounting.metering.token, accounting.metering.quota") {
		t.Fatalf("no reason given:\n%s", log)
	}
	if out := s.stdout.String(); !strings.Contains(out, "shutting down: the NATS consumer stopped\n") || !strings.HasSuffix(out, "stopped\n") {
		t.Fatalf("no orderly shutdown:\n%s", out)
	}
}

// TestServeNATSRedactsCredentials: neither what serve prints nor what it
// logs shows the password or the token of the URL.
func TestServeNATSRedactsCredentials(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		auth       func(*natsserver.Options)
		user, want string
	}{
		{"password", func(o *natsserver.Options) { o.Username, o.Password = "abacus", "s3cret" }, "abacus:s3cret", "abacus:xxxxx"},
		{"token", func(o *natsserver.Options) { o.Authorization = "s3cret" }, "s3cret", "xxxxx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := natstest.Options(t)
			c.auth(opts)
			port := natstest.Run(t, opts).Addr().(*net.TCPAddr).Port
			s := startServeNATS(t, "--nats", fmt.Sprintf("nats://%s@127.0.0.1:%d", c.user, port))
			consuming := fmt.Sprintf("consuming usage events from nats://%s@127.0.0.1:%d (stream", c.want, port)
			s.waitUntil(t, "serve to tell it consumes", func() bool { return strings.Contains(s.stdout.String(), consuming) })
			// nats.go calls its handlers on a goroutine of its own: this
			// line may come after Start returned.
			connected := fmt.Sprintf("msg=\"NATS connected\" component=metering-nats url=nats://%s@127.0.0.1:%d", c.want, port)
			s.waitUntil(t, "the connection logged", func() bool { return strings.Contains(s.log.String(), connected) })
			if all := s.stdout.String() + s.log.String(); strings.Contains(all, "s3cret") {
				t.Fatalf("the secret is shown:\n%s", all)
			}
		})
	}
}

// TestServeNATSRefusesMalformedURL: a malformed --nats stops serve before
// it opens anything, naming the flag and the URL without its password.
func TestServeNATSRefusesMalformedURL(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"nats://abacus:s3cret@127.0.0.1:notaport": "abacus serve: --nats: nats://abacus:xxxxx@127.0.0.1:notaport is not a URL",
		"nats://s3cret@127.0.0.1:70000":           "abacus serve: --nats: nats://xxxxx@127.0.0.1:70000 has port 70000; want 1 to 65535",
	} {
		out, err := runCLI(t, "serve", "--db", filepath.Join(t.TempDir(), "a.db"), "--addr", "127.0.0.1:0", "--nats", url)
		if err == nil || !strings.Contains(out, want) || strings.Contains(out, "s3cret") || strings.Contains(out, "listening") {
			t.Errorf("serve --nats %s: %v\n%s\nwant %q", url, err, out, want)
		}
	}
	// Given by the environment, the error names the variable, not a flag
	// the operator never gave (QA).
	cmd := exec.Command(binary, "serve", "--db", filepath.Join(t.TempDir(), "a.db"), "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "ABACUS_NATS_URL=nats://127.0.0.1:70000")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "abacus serve: ABACUS_NATS_URL: nats://127.0.0.1:70000 has port 70000") {
		t.Errorf("ABACUS_NATS_URL with port 70000: %v\n%s", err, out)
	}
}

// TestServeNATSLogsStats: the consumer's counters are logged while they
// change, so dead letters and rejections show.
func TestServeNATSLogsStats(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	s := startServeNATS(t, "--nats", ns.ClientURL(), "--nats-stats-every", "50ms")
	js := jsClient(t, ns.ClientURL())
	for _, body := range []string{usageEvent("stats-1", account(8), 4), "not json"} {
		if _, err := js.Publish(context.Background(), "accounting.metering.duration", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	want := "NATS consumer\" received=2 redelivered=0 accepted=1 duplicate=0 rejected=0 dead_lettered=1 retried=0"
	s.waitUntil(t, "the counters logged", func() bool { return strings.Contains(s.log.String(), want) })
}

// TestServeNATSLogsStatsOnShutdown: with --nats-stats-every 0 the
// counters are logged once, as serve stops, after the last batch settled.
func TestServeNATSLogsStatsOnShutdown(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	s := startServeNATS(t, "--nats", ns.ClientURL(), "--nats-stats-every", "0")
	acct := account(9)
	if _, err := jsClient(t, ns.ClientURL()).Publish(context.Background(), "accounting.metering.duration", []byte(usageEvent("stats-2", acct, 4))); err != nil {
		t.Fatal(err)
	}
	s.waitUntil(t, "the event charged", func() bool { return s.balance(t, acct) == "-1" })
	if strings.Contains(s.log.String(), `msg="NATS consumer"`) {
		t.Fatalf("counters logged before shutdown:\n%s", s.log)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("abacus serve exited with %v:\n%s", err, s.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("abacus serve did not stop")
	}
	if want := `msg="NATS consumer" received=1 redelivered=0 accepted=1 `; strings.Count(s.log.String(), want) != 1 {
		t.Fatalf("want %q once in:\n%s", want, s.log)
	}
}

// TestServeNATSSubjects: on CSGHub's stream of three metering subjects,
// serve charges what comes on each, by default and with a wildcard or a
// list as --nats-subject (QA: the wildcard stopped serve, and the token
// and quota subjects were never read).
func TestServeNATSSubjects(t *testing.T) {
	t.Parallel()
	for i, args := range [][]string{nil, {"--nats-subject", "accounting.metering.>"},
		{"--nats-subject", "accounting.metering.duration, accounting.metering.token,accounting.metering.quota"}} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			t.Parallel()
			ns := natstest.Start(t)
			js := jsClient(t, ns.ClientURL())
			if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "meteringEventStream",
				Subjects: []string{"accounting.metering.duration", "accounting.metering.token", "accounting.metering.quota"}}); err != nil {
				t.Fatal(err)
			}
			s := startServeNATS(t, append([]string{"--nats", ns.ClientURL()}, args...)...)
			acct := account(20 + i)
			for _, subj := range []string{"duration", "token", "quota"} {
				if _, err := js.Publish(context.Background(), "accounting.metering."+subj, []byte(usageEvent(fmt.Sprint("subjects-", i, subj), acct, 4))); err != nil {
					t.Fatal(err)
				}
			}
			s.waitUntil(t, "the 3 events charged", func() bool { return s.balance(t, acct) == "-3" })
			if len(args) == 0 && !strings.Contains(s.stdout.String(), "subjects accounting.metering.duration,accounting.metering.token,accounting.metering.quota)") {
				t.Fatalf("the banner:\n%s", s.stdout)
			}
		})
	}
}

// TestServeNATSBannerNamesWhatItTakes: on a stream that captures only
// the duration subject, the default subjects' banner names that one (QA:
// it named all three, where the log said two were not captured).
func TestServeNATSBannerNamesWhatItTakes(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	js := jsClient(t, ns.ClientURL())
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "meteringEventStream", Subjects: []string{"accounting.metering.duration"}}); err != nil {
		t.Fatal(err)
	}
	s := startServeNATS(t, "--nats", ns.ClientURL())
	s.waitUntil(t, "the banner", func() bool { return strings.Contains(s.stdout.String(), "consuming usage events") })
	if !strings.Contains(s.stdout.String(), "(stream meteringEventStream, subjects accounting.metering.duration)\n") {
		t.Fatalf("the banner:\n%s", s.stdout)
	}
}

// TestServeNATSDeadLetterSubject: --nats-dead-letter-subject moves the
// dead letters, so that a subject that takes in the default one
// (accounting.>) can be consumed (QA: it was a dead end).
func TestServeNATSDeadLetterSubject(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	js := jsClient(t, ns.ClientURL())
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "meteringEventStream", Subjects: []string{"accounting.>"}}); err != nil {
		t.Fatal(err)
	}
	letters, err := js.Conn().SubscribeSync("abacus.dlq.meter")
	if err != nil {
		t.Fatal(err)
	}
	startServeNATS(t, "--nats", ns.ClientURL(), "--nats-subject", "accounting.>", "--nats-dead-letter-subject", "abacus.dlq.meter")
	if _, err := js.Publish(context.Background(), "accounting.metering.duration", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	m, err := letters.NextMsg(10 * time.Second)
	if err != nil || string(m.Data) != "not json" || !strings.Contains(m.Header.Get("Abacus-Reason"), "not valid JSON") {
		t.Fatalf("the dead letter: %v %v", m, err)
	}
	out, err := runCLI(t, "serve", "--db", filepath.Join(t.TempDir(), "a.db"), "--addr", "127.0.0.1:0", "--nats", ns.ClientURL(), "--nats-dead-letter-subject", "dlq.*")
	if err == nil || !strings.Contains(out, `abacus serve: --nats-dead-letter-subject: "dlq.*" has a wildcard`) {
		t.Fatalf("a wildcard dead-letter subject: %v\n%s", err, out)
	}
	// Each field as the flag that gives it, exit 2 (QA: Go's field names, exit 1).
	for flag, value := range map[string]string{"--nats-subject": "qa x.y", "--nats-stream": "QA X", "--nats-durable": "q.a", "--nats-dead-letter-subject": "accounting.metering.duration"} {
		out, err := runCLI(t, "serve", "--db", filepath.Join(t.TempDir(), "a.db"), "--addr", "127.0.0.1:0", "--nats", ns.ClientURL(), flag, value)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, "abacus serve: "+flag+": ") {
			t.Errorf("%s %q: %v\n%s", flag, value, err, out)
		}
	}
}
