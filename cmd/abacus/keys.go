package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/abacus-billing/abacus"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stderr, `abacus keys: create, list and revoke API keys

Usage:
  abacus keys create --role admin|service|user [--account UUID] [--name NAME] [--db DB]
  abacus keys list [--db DB]
  abacus keys revoke [--db DB] KEY_ID

A token is printed once, when its key is created; abacus keeps only a hash.
`)
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return keysList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q: use create, list or revoke", args[0])
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys create", "", stderr)
	db := dbFlag(fs)
	role := fs.String("role", "", "admin, service or user (required)")
	account := fs.String("account", "", "with --role user: the account the key may read")
	name := fs.String("name", "", "a name to recognise the key by")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	r, err := abacus.ParseRole(*role)
	if err != nil {
		return usagef("--role: %w", err)
	}
	var acct abacus.AccountID
	switch {
	case r == abacus.RoleUser && *account == "":
		return usagef("--account: a user key is for one account: name it with --account UUID")
	case r != abacus.RoleUser && *account != "":
		return usagef("--account: only a user key is for one account, not one with the role %s", r)
	}
	if *account != "" {
		// A system account or the nil UUID is a command line that cannot
		// run, refused before the database is opened (QA: it read as the
		// database's answer, exit 1).
		if acct, err = abacus.ParseCustomerID(*account); err != nil {
			return usagef("%w", abacus.RenameField(err, "--account"))
		}
	}
	if err := abacus.ValidateKeyName(*name); err != nil {
		return usagef("%w", abacus.RenameField(err, "--name"))
	}
	if *name == envKeyName {
		return usagef("--name: %q names the keys ABACUS_ADMIN_TOKEN makes; choose another", *name)
	}
	st, err := openMigrated(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if acct != "" {
		if _, err := st.AccountGet(ctx, acct); err != nil {
			return fmt.Errorf("--account: %w", err) // not there, or the database failed: the command ran
		}
	}
	k, token, err := abacus.NewAPIKey(*name, r, acct, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := st.APIKeyCreate(ctx, k); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created %s key %s; the token is shown only this once:\n", r, k.ID)
	fmt.Fprintln(stdout, token)
	return nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys list", "", stderr)
	db := dbFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tACCOUNT\tNAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if !k.RevokedAt.IsZero() {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		acct := string(k.Account)
		if acct == "" {
			acct = "-"
		}
		if _, err := abacus.ParseCustomerID(string(k.Account)); k.Role == abacus.RoleUser && err != nil && k.RevokedAt.IsZero() {
			acct += " (no customer's: refused; revoke it)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, acct, shownName(k.Name), k.CreatedAt.Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys revoke", "KEY_ID", stderr)
	db := dbFlag(fs)
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give exactly one key id (abacus keys list shows them)")
	}
	id := fs.Arg(0)
	if strings.TrimSpace(id) == "" {
		return usagef("the key id is empty (abacus keys list shows them)")
	}
	st, err := openCurrent(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k abacus.APIKey) bool { return k.ID == id })
	if i < 0 {
		// What is not a key id is never printed: it may be a token, the
		// admin's included, in any spelling (regression QA: "Bearer abk_…",
		// quoted, or ABACUS_ADMIN_TOKEN came back whole in "does not exist").
		if k, ok := keyOfToken(keys, id); ok {
			return usagef("that is the token of key %s, not its id: abacus keys revoke %s revokes it", k.ID, k.ID)
		}
		if !keyID.MatchString(id) {
			return usagef("that is no key id (one is key_ and letters or digits, as abacus keys list shows them), and it is not repeated here, as it may be a secret")
		}
		return fmt.Errorf("API key %s does not exist (abacus keys list shows them)", id)
	}
	if at := keys[i].RevokedAt; !at.IsZero() { // QA: it was "revoked" again
		fmt.Fprintf(stdout, "%s was revoked already, at %s\n", id, at.Format(time.RFC3339))
		return nil
	}
	if err := st.APIKeyRevoke(ctx, id, time.Now().UTC()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s; running servers stop accepting it within 5 seconds\n", id)
	return nil
}

// keyID is the shape of a key id.
var keyID = regexp.MustCompile(`^key_[A-Za-z0-9_-]{1,64}$`)

// keyOfToken finds the key whose token arg holds, as pasted from an
// Authorization header or a quoted copy: the whole argument, or one of
// its parts between spaces, quotes, colons and the like.
func keyOfToken(keys []abacus.APIKey, arg string) (abacus.APIKey, bool) {
	parts := append([]string{arg}, strings.FieldsFunc(arg, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune("\"'`:=<>‹›$", r)
	})...)
	for _, p := range parts {
		h := abacus.HashToken(p)
		for _, k := range keys {
			if bytes.Equal(k.Hash, h) {
				return k, true
			}
		}
	}
	return abacus.APIKey{}, false
}

// shownName is a key's name as keys list prints it: quoted where keys
// create would refuse it now, as one stored before may be (QA: an escape
// sequence coloured the table, and a newline forged a row).
func shownName(name string) string {
	if abacus.ValidateKeyName(name) != nil {
		return strconv.Quote(name)
	}
	return name
}
