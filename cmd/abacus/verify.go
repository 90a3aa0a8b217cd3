package main

import (
	"context"
	"fmt"
	"io"

	"github.com/abacus-billing/abacus/ledger"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", "", stderr)
	db := dbFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := ledger.Verify(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "abacus verify %s\n%s", describeDB(*db), rep)
	if !rep.OK() {
		return exitError{1}
	}
	return nil
}
