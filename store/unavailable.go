package store

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Unavailable tells an error of the database's reach, not of the request
// or of abacus: a connection refused, lost, or ended by the server (an
// administrator's command, a shutdown or crash, a server starting up), a
// database that is not there (renamed, dropped), a server out of
// connections or resources. A request that failed so may succeed sent
// again: HTTP answers 503 with Retry-After, never 500. It reads what a
// driver's errors tell of themselves (pgx's SQLSTATE, SafeToRetry), so no
// driver is imported here.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	// SQLite's busy error once its store stopped waiting: another
	// process holds the write lock.
	var busy interface{ Busy() bool }
	if errors.As(err, &busy) && busy.Busy() {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		c := pg.SQLState()
		// 08: connection exception; 53: insufficient resources (too many
		// connections, disk full); 57P01-57P05: the server shut the
		// session down or cannot take it yet; 3D000: no such database.
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P") || c == "3D000"
	}
	// pgx marks an error that came before the statement was sent (the
	// connection closed, a connect that failed) as safe to retry.
	var retry interface{ SafeToRetry() bool }
	if errors.As(err, &retry) && retry.SafeToRetry() {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
