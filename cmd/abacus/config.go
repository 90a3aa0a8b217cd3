package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// defaultDB is where abacus keeps its data when nothing else is said.
const defaultDB = "./abacus-data/abacus.db"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// givenAs names where a flag's value came from: the flag, or the
// environment variable that is its default, so that an error does not
// name a flag the operator never gave (QA).
func givenAs(fs *flag.FlagSet, name, env string) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	if !given && os.Getenv(env) != "" {
		return env
	}
	return "--" + name
}

// flagOrEnv names where a flag's value came from: the flag, or its
// variable ABACUS_NAME_IN_CAPITALS.
func flagOrEnv(fs *flag.FlagSet, name string) string {
	return givenAs(fs, name, "ABACUS_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
}

// dbFlag adds --db, defaulting to $ABACUS_DB or the SQLite file.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", envOr("ABACUS_DB", defaultDB),
		"a SQLite file path, or a postgres:// URL (env ABACUS_DB)")
}

// isPostgres says whether db names a PostgreSQL database: a URL, its
// scheme in any case, or a key=value connection string. Anything else was
// taken for a SQLite path, and "POSTGRES://u:pw@host/db" made directories
// of that name, password and all (QA).
func isPostgres(db string) bool {
	lower := strings.ToLower(db)
	return strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") || pgKeyValue.MatchString(db)
}

var pgKeyValue = regexp.MustCompile(`(^|\s)(host|hostaddr|dbname|user|password|port|sslmode)=`)

// migrator is what both stores offer beyond abacus.Store.
type migrator interface {
	abacus.Store
	Migrate(ctx context.Context) error
	SchemaVersion(ctx context.Context) (have, know int, err error)
}

// errEmptyDB refuses an empty --db: taken as a SQLite path, it made files
// named after the driver's options in the working directory (QA). It is
// a usage error, found as the flags are read, before any file is opened.
var errEmptyDB = usagef("--db is empty: give a SQLite file path or a postgres:// URL")

// openStore opens the database db names; it does not migrate.
func openStore(ctx context.Context, db string) (migrator, error) {
	if strings.TrimSpace(db) == "" {
		return nil, errEmptyDB
	}
	// Checked for every store, as every command's engine takes it (QA:
	// verify and migrate on PostgreSQL let a bad value through).
	accounts, err := cacheAccounts()
	if err != nil {
		return nil, err
	}
	if isPostgres(db) {
		st, err := postgres.Open(ctx, db, postgres.Options{})
		if err != nil {
			return nil, asBadDB(err, postgres.ErrMalformedURL)
		}
		return st, nil
	}
	o := sqlite.Options{CachedWallets: 3 * accounts} // an account's three buckets
	if v := os.Getenv("ABACUS_SQLITE_CACHE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<20 {
			return nil, usagef("ABACUS_SQLITE_CACHE: %q is not a number of MiB from 1 to 1048576", v)
		}
		o.WriterCacheMiB = n
	}
	st, err := sqlite.OpenWith(db, o)
	if err != nil {
		return nil, asBadDB(err, sqlite.ErrBadPath)
	}
	return st, nil
}

// asBadDB makes err a usage error naming --db where it is bad, the store's
// error for what it cannot read: the command line is at fault, not a
// database that failed.
func asBadDB(err, bad error) error {
	if errors.Is(err, bad) {
		return usageError{fmt.Errorf("--db: %w", err)}
	}
	return err
}

// openCurrent opens a database for a command that reads or corrects what
// is stored: it refuses one that is not there (mustExist), and checks the
// schema instead of migrating it. Migrating, a
// newer binary's "prices list" upgraded a database older servers still
// wrote to, and made abacus tables in one that was not abacus's (QA).
func openCurrent(ctx context.Context, db string) (migrator, error) {
	if err := mustExist(db); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, db)
	if err != nil {
		return nil, err
	}
	have, know, err := st.SchemaVersion(ctx)
	switch {
	case err != nil:
	case have == 0:
		err = fmt.Errorf("%s holds no abacus database (schema version 0); abacus serve, ingest, prices import, keys create or migrate makes one", describeDB(db))
	case have < know:
		err = fmt.Errorf("%s is at schema version %d and this abacus expects %d: stop the older abacus processes, then run abacus migrate", describeDB(db), have, know)
	case have > know:
		err = fmt.Errorf("%s is at schema version %d, newer than this abacus knows (%d): use the abacus that migrated it", describeDB(db), have, know)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// openMigrated opens and migrates, and says on stderr when db held no
// abacus database: a mistyped --db, or a command run from another
// directory, had quietly made an empty ledger, charged a file's events
// there unpriced and exited 0 (QA).
func openMigrated(ctx context.Context, db string, stderr io.Writer) (migrator, error) {
	st, err := openStore(ctx, db)
	if err != nil {
		return nil, err
	}
	have, _, err := st.SchemaVersion(ctx)
	if err == nil {
		err = st.Migrate(ctx)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	if have == 0 {
		fmt.Fprintf(stderr, "abacus: %s held no abacus database, so this made a new one\n", describeDB(db))
	}
	return st, nil
}

// mustExist refuses a SQLite file that is not there, for the commands
// that read or correct what is stored: opening one would make an empty
// database, and a mistyped path would report nothing to do.
func mustExist(db string) error {
	if strings.TrimSpace(db) == "" {
		return errEmptyDB
	}
	if isPostgres(db) {
		return nil
	}
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--db %s: no database there (abacus serve, ingest, prices import, keys create or migrate makes one)", db)
	}
	return nil
}

// describeDB names the database for people, without its password.
func describeDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil || u.Scheme == "" { // a key=value string, which may hold a password anywhere
		return "postgres"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") { // QA: printed whole
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// usageFlags adds the flags that say how usage is charged and money
// drawn, shared by serve, ingest, rerate, void and prices import
// --correct, and returns a func that reads them into an engine's
// configuration.
func usageFlags(fs *flag.FlagSet) func() (ledger.Config, error) {
	currency := fs.String("default-currency", envOr("ABACUS_DEFAULT_CURRENCY", "USD"), "currency of accounts created for usage events (env ABACUS_DEFAULT_CURRENCY)")
	autoEnv := envOr("ABACUS_AUTO_CREATE", "true")
	autoDefault, autoErr := strconv.ParseBool(autoEnv) // any word but "true" had turned it off (QA)
	autoCreate := fs.Bool("auto-create", autoDefault || autoErr != nil, "create an account for an event that names an unknown one, as CSGHub does; when off, such events are rejected (env ABACUS_AUTO_CREATE)")
	// Set through the environment, one setting holds for every command, so
	// a file ingested beside the server is charged by the server's rules.
	overdraft := fs.String("new-account-overdraft", envOr("ABACUS_NEW_ACCOUNT_OVERDRAFT", "unlimited"), "floor of accounts created for events: unlimited (CSGHub: usage may go negative), none, or a limit such as 50 (env ABACUS_NEW_ACCOUNT_OVERDRAFT)")
	order := fs.String("draw-order", envOr("ABACUS_DRAW_ORDER", "voucher,cash,bonus"), "the order charges, holds and usage draw from an account's buckets (env ABACUS_DRAW_ORDER)")
	minutes := fs.String("minute-dedupe", os.Getenv("ABACUS_MINUTE_DEDUPE"), "scenes, comma-separated, where a second event for the same instance in the same minute is a duplicate (CSGHub: 10,11,12,14,15; env ABACUS_MINUTE_DEDUPE)")
	maxBatch := fs.Int("max-usage-batch", ledger.DefaultUsageBatch, "most usage events committed in one database transaction")
	ahead := fs.String("max-event-ahead", envOr("ABACUS_MAX_EVENT_AHEAD", ledger.DefaultMaxAhead.String()), "how far past this machine's clock an event's time may be; later events are rejected (0: no bound; env ABACUS_MAX_EVENT_AHEAD)")
	age := fs.String("max-event-age", envOr("ABACUS_MAX_EVENT_AGE", "0"), "how far before this machine's clock an event's time may be, such as 35d or 72h; earlier events are rejected, so that billed periods stay as billed (0: no bound; env ABACUS_MAX_EVENT_AGE)")
	return func() (ledger.Config, error) {
		var c ledger.UsageConfig
		var drawOrder []abacus.Bucket
		if autoErr != nil {
			return ledger.Config{}, usagef("ABACUS_AUTO_CREATE: %q is not true or false", autoEnv)
		}
		if *maxBatch < 1 {
			return ledger.Config{}, usagef("--max-usage-batch: %d is not a positive number of events", *maxBatch)
		}
		c.MaxBatch = *maxBatch
		d, err := time.ParseDuration(*ahead)
		if err != nil || d < 0 {
			return ledger.Config{}, usagef("%s: %q is not a duration such as 5m (0: no bound)", flagOrEnv(fs, "max-event-ahead"), *ahead)
		}
		c.MaxAhead = d
		if d == 0 {
			c.MaxAhead = -1
		}
		var ok bool
		if c.MaxAge, ok = parseAge(*age); !ok {
			return ledger.Config{}, usagef("%s: %q is not a duration such as 35d or 72h (0: no bound)", flagOrEnv(fs, "max-event-age"), *age)
		}
		cur, err := abacus.ParseCurrency(*currency)
		if err != nil {
			return ledger.Config{}, usagef("%s: %w", flagOrEnv(fs, "default-currency"), err)
		}
		c.DefaultCurrency, c.NoAutoCreate = cur, !*autoCreate
		var od abacus.Overdraft
		switch *overdraft {
		case "unlimited":
			od.Unlimited = true
		case "none":
		default:
			if od.Limit, err = abacus.ParseAmount(*overdraft); err != nil || od.Limit.IsNegative() {
				return ledger.Config{}, usagef("%s: %q is not unlimited, none or a limit such as 50", flagOrEnv(fs, "new-account-overdraft"), *overdraft)
			}
		}
		c.NewAccountOverdraft = &od
		seen := map[abacus.Bucket]bool{}
		for _, b := range strings.Split(*order, ",") {
			bk, err := abacus.ParseBucket(strings.TrimSpace(b))
			if err != nil || seen[bk] {
				return ledger.Config{}, usagef("%s: %q must name cash, bonus and voucher, each once", flagOrEnv(fs, "draw-order"), *order)
			}
			seen[bk] = true
			drawOrder = append(drawOrder, bk)
		}
		if len(drawOrder) != len(abacus.CustomerBuckets) {
			return ledger.Config{}, usagef("%s: %q must name cash, bonus and voucher, each once", flagOrEnv(fs, "draw-order"), *order)
		}
		if *minutes != "" {
			c.MinuteDedupe = map[int]bool{}
			for _, s := range strings.Split(*minutes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 0 || n > abacus.MaxScene {
					return ledger.Config{}, usagef("%s: %q is not a scene number (0 to %d)", flagOrEnv(fs, "minute-dedupe"), s, abacus.MaxScene)
				}
				c.MinuteDedupe[n] = true
			}
		}
		accounts, err := cacheAccounts()
		if err != nil {
			return ledger.Config{}, err
		}
		return ledger.Config{DrawOrder: drawOrder, CacheAccounts: accounts, Usage: c}, nil
	}
}

// cacheAccounts is ABACUS_CACHE_ACCOUNTS: how many accounts the engine
// keeps the wallet ids of, and the SQLite writer the wallets' state of.
// Each takes about a kilobyte of live heap; at 100,000 and more accounts
// seen, these caches were most of what the process held, bounded only by
// constants (soak QA: 1.3 GB of RSS with Go's GOGC of 400).
func cacheAccounts() (int, error) {
	v := os.Getenv("ABACUS_CACHE_ACCOUNTS")
	if v == "" {
		return ledger.DefaultCacheAccounts, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxCacheAccounts {
		return 0, usagef("ABACUS_CACHE_ACCOUNTS: %q is not a number of accounts from 1 to %d", v, maxCacheAccounts)
	}
	return n, nil
}

// maxCacheAccounts is the most ABACUS_CACHE_ACCOUNTS takes: some
// gigabytes of heap.
const maxCacheAccounts = 10_000_000

// withLogger returns cfg logging to log.
func withLogger(cfg ledger.Config, log *slog.Logger) ledger.Config {
	cfg.Logger = log
	return cfg
}

// parseAge reads a duration as Go spells it, or a whole number of days
// such as 35d, the unit horizons are set in.
func parseAge(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		return time.Duration(n) * 24 * time.Hour, err == nil && n >= 0 && n <= 100*365
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// billingZoneFlag adds --billing-zone. check checks its value, as a usage
// error, before anything is opened; apply stores it as the database's
// billing zone, if one was given.
func billingZoneFlag(fs *flag.FlagSet) (check func() error, apply func(context.Context, abacus.Store, io.Writer) error) {
	zone := fs.String("billing-zone", os.Getenv("ABACUS_BILLING_ZONE"),
		"the IANA time zone whose calendar months are the billing months (tiers, packages, carries), such as Asia/Shanghai; "+
			"kept in the database and set before its first usage event (default: as stored, UTC in a new database; env ABACUS_BILLING_ZONE)")
	given := func(err error) error {
		var ae *abacus.Error
		if errors.As(err, &ae) {
			err = errors.New(ae.Message)
		}
		return fmt.Errorf("%s: %w", flagOrEnv(fs, "billing-zone"), err)
	}
	check = func() error {
		if _, err := rating.BillingZone(*zone); *zone != "" && err != nil {
			return usageError{given(err)}
		}
		return nil
	}
	// apply says a change, the name of the same zone included: it had
	// replaced another zone, or the stored name, without a word (QA).
	apply = func(ctx context.Context, st abacus.Store, out io.Writer) error {
		if *zone == "" {
			return nil
		}
		was, err := storedZone(ctx, st)
		if err != nil {
			return err
		}
		if err := st.SetBillingZone(ctx, *zone); err != nil {
			return given(err)
		}
		now, err := storedZone(ctx, st)
		if err == nil && now != was {
			fmt.Fprintf(out, "the billing zone was %s and is now %s\n", was, now)
		}
		return err
	}
	return check, apply
}

// storedZone is the name of the database's billing zone, read alone: the
// price book that holds it too can be large.
func storedZone(ctx context.Context, st abacus.Store) (zone string, err error) {
	err = st.Audit(ctx, func(r abacus.AuditReader) error {
		zone, err = r.BillingZone()
		return err
	})
	return zone, err
}
