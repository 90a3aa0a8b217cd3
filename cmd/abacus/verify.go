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
	if err := mustExist(*db); err != nil {
		return err
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	// verify only reads: it checks the schema instead of migrating it.
	have, know, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if have != know {
		return fmt.Errorf("%s is at schema version %d and this abacus expects %d; run abacus migrate (or use the matching abacus)", describeDB(*db), have, know)
	}
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
