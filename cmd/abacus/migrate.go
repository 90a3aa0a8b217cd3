package main

import (
	"context"
	"fmt"
	"io"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "", stderr)
	db := dbFlag(fs)
	checkZone, applyZone := billingZoneFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := checkZone(); err != nil {
		return err
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	before, _, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	after, _, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if after == before {
		fmt.Fprintf(stdout, "%s is up to date at schema version %d\n", describeDB(*db), after)
	} else {
		// Not "migrated by this command": another one started with it may
		// have applied them, and each said it had (QA).
		fmt.Fprintf(stdout, "%s is at schema version %d; it was at %d when this command began\n", describeDB(*db), after, before)
	}
	// After the line above: a zone refused leaves the migrations applied,
	// which that line says (QA).
	if err := applyZone(ctx, st, stdout); err != nil {
		return err
	}
	zone, err := storedZone(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "its billing months are the calendar months of %s\n", zone)
	return nil
}
