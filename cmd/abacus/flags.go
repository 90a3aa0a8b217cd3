package main

import (
	"flag"
	"fmt"
	"strings"
)

// parseFlags parses a command's flags. Go's flag package stops at the
// first word that is not a flag and leaves the rest as arguments, so a
// flag written after one was no flag at all: `abacus void ID --db X`
// voided ID in the default database (QA). So: a command that takes no
// arguments refuses any, one that does refuses an argument spelled as a
// flag (after "--", an argument may start with "-"), and a bool flag
// followed by a separate true or false, which the package takes for an
// argument, is refused with the spelling that works (--auto-create=false).
func parseFlags(fs *flag.FlagSet, args []string, takesArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if db := fs.Lookup("db"); db != nil && strings.TrimSpace(db.Value.String()) == "" {
		return errEmptyDB
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return nil
	}
	first := len(args) - len(rest) // where the arguments start in args
	if first > 0 && (rest[0] == "true" || rest[0] == "false") {
		name := strings.TrimLeft(args[first-1], "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(args[first-1], "=") && isBool(f) {
			return usagef("--%s %s: write --%s=%s (a true or false after a space is not read as the flag's value)", name, rest[0], name, rest[0])
		}
	}
	if !takesArgs {
		return usagef("%s takes no arguments, and %q is one (flags go before any argument; a value with spaces goes in quotes)", fs.Name(), rest[0])
	}
	if first > 0 && args[first-1] == "--" {
		return nil
	}
	for _, a := range rest {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usagef("%q comes after an argument, where it is no flag: flags go before the arguments (or, for an argument that starts with -, put -- before it)", a)
		}
	}
	return nil
}

// usageError is a command line abacus cannot run as written: it exits 2,
// where a command that ran and failed (verify that found a violation, a
// database out of reach) exits 1, so that a script tells them apart (QA).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
