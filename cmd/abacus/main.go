// Command abacus is usage metering, a prepaid-credit ledger and billing in
// one binary. Run `abacus help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/abacus-billing/abacus/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP API (SQLite in ./abacus-data by default)", runServe},
		{"migrate", "apply the database migrations and exit", runMigrate},
		{"verify", "check every ledger invariant; exits 1 on a violation", runVerify},
		{"ingest", "charge usage events from NDJSON or CSV files", runIngest},
		{"prices", "import and list the price book", runPrices},
		{"rerate", "charge unpriced events whose price now exists", runRerate},
		{"void", "reverse the charges of usage events", runVoid},
		{"statement", "an account's usage and charges per period, from the rollups", runStatement},
		{"keys", "create, list and revoke API keys", runKeys},
		{"bench", "measure throughput: abacus bench ledger|ingest", runBench},
		{"version", "print the version", runVersion},
	}
}

func main() {
	tuneGC()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	onInterrupt(cancel, os.Args[1:], os.Stderr)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// onInterrupt cancels the commands' context at the first SIGINT or
// SIGTERM, with an interruption as its cause: a command stops, sees
// through what it handed to the database, says what it did, and exits
// 128 + the signal's number if it did not finish (see run). A second one
// exits at once (130 for SIGINT, 143 for SIGTERM), without waiting for
// what is in flight: a transaction not committed by then is rolled back,
// and no count the command printed includes it.
func onInterrupt(cancel context.CancelCauseFunc, args []string, stderr io.Writer) {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		cancel(interruption{<-signals})
		name := "abacus"
		if len(args) > 0 {
			name += " " + args[0]
		}
		var sig os.Signal
		select {
		case sig = <-signals:
		case <-time.After(2 * time.Second): // still at it: say why, and how not to wait
			fmt.Fprintf(stderr, "%s: interrupted: finishing what is in flight; interrupt again to exit at once\n", name)
			sig = <-signals
		}
		fmt.Fprintf(stderr, "%s: interrupted again: exiting at once, without waiting for what was in flight "+
			"(what had not committed is rolled back, and %s)%s\n", name, unconfirmed(args), rerunAdvice(args))
		os.Exit(interruption{sig}.exitCode())
	}()
}

// interruption is the cause of a context cancelled by a signal.
type interruption struct{ sig os.Signal }

func (i interruption) Error() string { return "interrupted by " + i.sig.String() }

// exitCode is the shell's code for a process the signal ended.
func (i interruption) exitCode() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// interruptedBy returns the interruption that cancelled ctx, if one did.
// serve is left out: its shutdown is a signal's normal end, and what it
// exits with is for the supervisor that sent it.
func interruptedBy(ctx context.Context, name string) (interruption, bool) {
	var in interruption
	return in, name != "serve" && errors.As(context.Cause(ctx), &in)
}

// interruptedAdvice says, for a command interrupted while it changed what
// is stored, what may have changed and how to finish.
func interruptedAdvice(args []string) string {
	switch {
	case len(args) == 0:
	case args[0] == "void":
		return ": the events it did not print may or may not be voided; run the same command again: " +
			"an event voided already is refused, saying what its void gave back"
	case args[0] == "keys" && len(args) > 1 && args[1] == "create":
		return ": the key may or may not have been created, and its token was not printed; " +
			"`abacus keys list` shows it, and `abacus keys revoke KEY_ID` takes it back"
	case args[0] == "migrate":
		return "; run it again: each migration commits alone, and those applied are left out"
	case args[0] == "ingest", args[0] == "rerate", args[0] == "prices":
		if advice := rerunAdvice(args); advice != "" {
			return ": what it did not report may or may not be stored" + advice
		}
	}
	return ""
}

// unconfirmed says what a command that exits at once did not confirm.
func unconfirmed(args []string) string {
	if len(args) > 0 && args[0] == "serve" {
		return "no request was answered, nor NATS message acked, before its commit"
	}
	return "no count printed includes it"
}

// rerunAdvice says, for the commands that running again finishes, that
// it is safe.
func rerunAdvice(args []string) string {
	switch {
	case len(args) == 0:
	case args[0] == "ingest":
		return "; run the same command again, on the same input: it is safe (the events stored come back as duplicates)"
	case args[0] == "rerate":
		return "; run the same command again to finish: it is safe (it charges only the events still unpriced)"
	case args[0] == "prices" && len(args) > 1 && args[1] == "import":
		return "; run the same command again to finish: it is safe (what is stored already is left out, and a correction reprices only events still at versions no longer in force)"
	}
	return ""
}

// exitError carries a process exit code other than 1.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 { // a missing command, as any missing argument (QA: exited 0)
		usage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		if len(args) > 1 && !isHelp(args[1]) { // abacus help prices: as abacus prices --help (regression QA: the commands' list)
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ee exitError
		var ue usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "abacus %s: %v\n", c.name, err)
			return 2
		case errors.As(err, &ee):
			if in, ok := interruptedBy(ctx, c.name); ok {
				return in.exitCode()
			}
			return ee.code
		}
		if in, ok := interruptedBy(ctx, c.name); ok {
			if errors.Is(err, context.Canceled) { // "context canceled" told nobody whether anything had changed
				fmt.Fprintf(stderr, "abacus %s: interrupted before it finished%s\n", c.name, interruptedAdvice(args))
			} else {
				fmt.Fprintf(stderr, "abacus %s: %v\n", c.name, err)
			}
			return in.exitCode()
		}
		if sqlite.IsBusy(err) { // "database is locked" said neither why nor what to do (QA)
			err = fmt.Errorf("%w: another process has held the database's write lock for longer than abacus waits for it (a long import, "+
				"correction or ingest, say); run the command again once it is done", err)
		}
		fmt.Fprintf(stderr, "abacus %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "abacus: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "abacus: usage metering, a prepaid-credit ledger and billing")
	fmt.Fprintln(w, "\nUsage: abacus <command> [flags]   (abacus <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", stderr)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "abacus", version)
	return nil
}

// newFlagSet makes a flag set whose --help prints the summary and flags.
// name is the command's, and its subcommand's ("prices import"): the
// flags go after both (QA: the usage put them between, which is refused).
func newFlagSet(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("abacus "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		command, _, _ := strings.Cut(name, " ")
		for _, c := range commands() {
			if c.name == command {
				fmt.Fprintf(stderr, "abacus %s: %s\n", command, c.summary)
			}
		}
		fmt.Fprintf(stderr, "\nUsage: %s\n\nFlags:\n", strings.TrimSpace("abacus "+name+" [flags] "+argsUsage))
		fs.PrintDefaults()
	}
	return fs
}

// isHelp reports whether a command's first argument asks for its help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// quietLogger logs warnings and errors only, for commands that print
// their own progress.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// count says n things, in the singular for one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// wasWere is "1 was" or "N were"; isAre "1 is" or "N are".
func wasWere(n int) string { return agreeing(n, "was", "were") }
func isAre(n int) string   { return agreeing(n, "is", "are") }

func agreeing(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
