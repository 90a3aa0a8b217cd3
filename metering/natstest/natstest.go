// Package natstest runs an in-process NATS server with JetStream for
// tests: no network beyond the loopback, its storage in the test's
// temporary directory, shut down when the test ends.
package natstest

import (
	"net"
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
