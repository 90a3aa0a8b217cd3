// Package natstest runs an in-process NATS server with JetStream for
// tests: no network beyond the loopback, its storage in the test's
// temporary directory, shut down when the test ends.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect connects a client to the server at url, as a producer would,
// and closes it when the test ends.
func Connect(tb testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// Start runs a NATS server with JetStream on a free loopback port and
// returns it; its ClientURL is where to connect.
func Start(tb testing.TB) *server.Server {
	tb.Helper()
	return Run(tb, Options(tb))
}

// Options returns the options Start uses, to be changed before Run: a
// server on a free loopback port, with JetStream stored in a new
// temporary directory. A test that restarts a server keeps its Port and
// StoreDir, so that clients find it again with its streams.
func Options(tb testing.TB) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
}

// Run runs a NATS server with opts, shut down when the test ends if it
// is still running. Port 0 is taken as a free port, not NATS's default
// 4222: that one may be another program's.
func Run(tb testing.TB, opts *server.Options) *server.Server {
	tb.Helper()
	if opts.Port == 0 {
		opts.Port = -1
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("starting NATS: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		tb.Fatal("NATS did not become ready in 10s")
	}
	tb.Cleanup(func() { Stop(s) })
	return s
}

// Stop shuts a server down and waits until it is: its port is free again
// and its store closed, so that another may take them.
func Stop(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// FreePort returns a loopback port nothing listens on, for a server a
// test starts later than its clients.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartBinary runs the nats-server program at path (for an older server
// than the library's: 2.9 takes one filter per consumer) with JetStream
// on a free loopback port, its storage in a temporary directory, and
// returns its client URL; it is killed when the test ends. The test is
// skipped if there is no such program (it fails under CI=true): the path
// in ABACUS_TEST_NATS_SERVER, or else nats-server on the PATH or in
// /usr/sbin.
func StartBinary(tb testing.TB) (url, version string) {
	tb.Helper()
	b := NewBinary(tb)
	b.Start(tb)
	return b.URL(), b.Version
}

// Binary is the nats-server program, run on Port with its JetStream
// storage in StoreDir: a test may stop it, change them, and start it
// again, as an operator restarts a server.
type Binary struct {
	Path, Version string
	Port          int
	StoreDir      string
	cmd           *exec.Cmd
}

// NewBinary finds the program (see StartBinary) and picks a free port and
// a temporary store; it does not start it.
func NewBinary(tb testing.TB) *Binary {
	tb.Helper()
	path := os.Getenv("ABACUS_TEST_NATS_SERVER")
	if path == "" {
		var err error
		if path, err = exec.LookPath("nats-server"); err != nil {
			path = "/usr/sbin/nats-server"
		}
	}
	skip := tb.Skipf
	if os.Getenv("CI") == "true" {
		skip = tb.Fatalf // CI's machines run NATS from Debian's package, 2.9: the test must run there
	}
	if _, err := os.Stat(path); err != nil {
		skip("no nats-server program (%v); set ABACUS_TEST_NATS_SERVER", err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		skip("%s --version: %v", path, err)
	}
	return &Binary{Path: path, Version: strings.TrimPrefix(strings.TrimSpace(string(out)), "nats-server: v"),
		Port: FreePort(tb), StoreDir: tb.TempDir()}
}

// URL is the server's client URL.
func (b *Binary) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", b.Port) }

// Start runs the server and waits until JetStream answers; it is killed
// when the test ends if it still runs.
func (b *Binary) Start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(b.Path, "-a", "127.0.0.1", "-p", strconv.Itoa(b.Port), "-js", "-sd", b.StoreDir)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", b.Path, err)
	}
	b.cmd = cmd
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc, err := nats.Connect(b.URL())
		if err == nil {
			js, _ := jetstream.New(nc)
			_, err = js.AccountInfo(context.Background())
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not become ready in 10s: %v", b.Path, err)
		}
	}
}

// Stop stops the server the way an operator does (SIGTERM) and waits
// until it has exited.
func (b *Binary) Stop() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
}
