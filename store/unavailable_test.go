package store_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/abacus-billing/abacus/store"
)

type sqlStateError string

func (e sqlStateError) Error() string    { return "server said " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestUnavailable(t *testing.T) {
	for err, want := range map[error]bool{
		sqlStateError("57P01"):                                          true, // terminating connection due to administrator command
		sqlStateError("3D000"):                                          true, // the database is not there
		sqlStateError("08006"):                                          true,
		sqlStateError("53300"):                                          true, // too many connections
		fmt.Errorf("reading: %w", sqlStateError("57P03")):               true,
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}: true,
		fmt.Errorf("query: %w", io.ErrUnexpectedEOF):                    true,
		sqlStateError("23505"):                                          false, // a unique violation is ours
		sqlStateError("42P01"):                                          false, // so is a missing table
		errors.New("sqlite: no such column"):                            false,
		nil:                                                             false,
	} {
		if got := store.Unavailable(err); got != want {
			t.Errorf("Unavailable(%v) = %v, want %v", err, got, want)
		}
	}
}
