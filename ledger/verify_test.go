package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// The names of Verify's checks.
const (
	checkZeroSum = "postings sum to zero per currency"
	checkTx      = "every transaction balances per currency, has two or more postings, and posts as its type does"
	checkFold    = "every balance is the fold of its postings, with contiguous versions"
	checkFloors  = "no wallet went below its floor"
	checkKeys    = "one effect per idempotency key"
	checkHolds   = "holds are consistent and resolved at most once"
	checkReverts = "each transaction reverted at most once, by its mirror image"
	checkOwners  = "every customer's wallets are in its currency"
)

// TestVerifyCatchesCorruption corrupts a healthy ledger in one way at a
// time, with SQL behind the engine's back, and requires Verify to report
// exactly the invariants that corruption breaks.
func TestVerifyCatchesCorruption(t *testing.T) {
	// Each corruption gets the ids of the ledger below: a customer whose
	// cash was topped up by 100 (transaction topup), charged 30 (charge)
	// and has 20 held (hold); a second hold was created and voided, so
	// two keys name it, which is fine; a grant was reverted.
	type ids struct {
		cash, topup, charge, hold, grant, revert int64
		acct                                     abacus.AccountID
	}
	cases := []struct {
		name  string
		sql   string
		args  func(ids) []any
		fails []string
	}{
		{"a wallet's balance changed", `UPDATE wallets SET balance = balance + 1 WHERE id = ?`,
			func(x ids) []any { return []any{x.cash} }, []string{checkFold}},
		{"a posting deleted", `DELETE FROM postings WHERE tx_id = ? AND wallet_id = ?`,
			func(x ids) []any { return []any{x.charge, x.cash} }, []string{checkZeroSum, checkTx, checkFold}},
		{"a posting's balance_after changed", `UPDATE postings SET balance_after = balance_after - 1 WHERE tx_id = ? AND wallet_id = ?`,
			func(x ids) []any { return []any{x.charge, x.cash} }, []string{checkFold}},
		{"versions not contiguous", `UPDATE postings SET version = version + 1 WHERE tx_id = ? AND wallet_id = ?`,
			func(x ids) []any { return []any{x.charge, x.cash} }, []string{checkFold}},
		{"held disagrees with the open holds", `UPDATE wallets SET held = held + 1 WHERE id = ?`,
			func(x ids) []any { return []any{x.cash} }, []string{checkHolds}},
		{"an open hold marked posted", `UPDATE holds SET status = 'posted', posted_amount = amount WHERE id = ?`,
			func(x ids) []any { return []any{x.hold} }, []string{checkHolds}},
		{"an unbalanced transaction", `INSERT INTO transactions (id, type, memo, created_at) VALUES (1000000, 'transfer', '', ?);
			INSERT INTO postings (wallet_id, tx_id, amount, balance_after, version)
				SELECT id, 1000000, 5, balance + 5, version + 1 FROM wallets WHERE id = ?;
			UPDATE wallets SET balance = balance + 5, version = version + 1 WHERE id = ?`,
			func(x ids) []any { return []any{time.Now(), x.cash, x.cash} }, []string{checkZeroSum, checkTx, checkKeys}},
		{"two keys for one transaction", `INSERT INTO idempotency_keys (key, request_hash, tx_id, created_at) VALUES ('another key', ?, ?, ?)`,
			func(x ids) []any { return []any{[]byte{1}, x.charge, time.Now()} }, []string{checkKeys}},
		{"two keys for one hold", `INSERT INTO idempotency_keys (key, request_hash, hold_id, created_at) VALUES ('another key', ?, ?, ?)`,
			func(x ids) []any { return []any{[]byte{1}, x.hold, time.Now()} }, []string{checkKeys}},
		{"a posting that names no transaction", `UPDATE postings SET tx_id = 999999 WHERE tx_id = ? AND wallet_id = ?`,
			func(x ids) []any { return []any{x.charge, x.cash} }, []string{checkTx}},
		{"a posting that names no wallet", `UPDATE postings SET wallet_id = 999999 WHERE tx_id = ? AND wallet_id = ?`,
			func(x ids) []any { return []any{x.charge, x.cash} }, []string{checkZeroSum, checkTx, checkFold}},
		{"a floor raised above the balance", `UPDATE wallets SET floor = 1000000000 WHERE id = ?`,
			func(x ids) []any { return []any{x.cash} }, []string{checkFloors}},
		// QA: the account showed a limit of 0 and was charged on below zero.
		{"a floor taken away", `UPDATE wallets SET floor = NULL WHERE id = ?`,
			func(x ids) []any { return []any{x.cash} }, []string{checkFloors}},
		{"an overdraft made unlimited", `UPDATE accounts SET overdraft_unlimited = TRUE WHERE id = ?`,
			func(x ids) []any { return []any{string(x.acct)} }, []string{checkFloors}},
		{"an overdraft's limit changed", `UPDATE accounts SET overdraft_limit = 5000000 WHERE id = ?`,
			func(x ids) []any { return []any{string(x.acct)} }, []string{checkFloors}},
		// QA: a resend of the charge's request would have charged again.
		{"a transaction's key deleted", `DELETE FROM idempotency_keys WHERE tx_id = ?`,
			func(x ids) []any { return []any{x.charge} }, []string{checkKeys}},
		{"a hold's key deleted", `DELETE FROM idempotency_keys WHERE hold_id = ?`,
			func(x ids) []any { return []any{x.hold} }, []string{checkKeys}},
		// QA: its void's key, which names the hold too, had stood for it.
		{"a voided hold's own key deleted", `DELETE FROM idempotency_keys WHERE key = 'hold2'`,
			func(x ids) []any { return nil }, []string{checkKeys}},
		{"a charge made a hold post", `UPDATE transactions SET type = 'hold_post' WHERE id = ?`,
			func(x ids) []any { return []any{x.charge} }, []string{checkHolds}},
		// QA: a top-up made a grant, or a charge a refund, passed.
		{"a top-up's type changed", `UPDATE transactions SET type = 'grant' WHERE id = ?`,
			func(x ids) []any { return []any{x.topup} }, []string{checkTx}},
		{"a charge's type changed", `UPDATE transactions SET type = 'refund' WHERE id = ?`,
			func(x ids) []any { return []any{x.charge} }, []string{checkTx}},
		// QA: the next top-up in EUR posted USD cash against EUR clearing.
		{"an account's currency changed", `UPDATE accounts SET currency = 'EUR' WHERE id = ?`,
			func(x ids) []any { return []any{string(x.acct)} }, []string{checkOwners}},
		// QA: with its link lost, the grant could be reverted again.
		{"a revert's link lost", `UPDATE transactions SET reverts = NULL WHERE id = ?`,
			func(x ids) []any { return []any{x.revert} }, []string{checkReverts}},
		{"a revert pointed at another transaction", `UPDATE transactions SET reverts = ? WHERE id = ?`,
			func(x ids) []any { return []any{x.topup, x.revert} }, []string{checkReverts}},
		{"a revert's type changed", `UPDATE transactions SET type = 'grant' WHERE id = ?`,
			func(x ids) []any { return []any{x.revert} }, []string{checkReverts, checkTx}},
		{"a transaction made a revert", `UPDATE transactions SET type = 'revert' WHERE id = ?`,
			func(x ids) []any { return []any{x.topup} }, []string{checkReverts}},
		{"a revert that gives back a micro-unit less, balanced", `UPDATE postings SET amount = amount - 1, balance_after = balance_after - 1 WHERE tx_id = ? AND amount > 0;
			UPDATE postings SET amount = amount + 1, balance_after = balance_after + 1 WHERE tx_id = ? AND amount < 0;
			UPDATE wallets SET balance = balance - 1 WHERE id IN (SELECT wallet_id FROM postings WHERE tx_id = ? AND amount > 0);
			UPDATE wallets SET balance = balance + 1 WHERE id IN (SELECT wallet_id FROM postings WHERE tx_id = ? AND amount < 0)`,
			func(x ids) []any { return []any{x.revert, x.revert, x.revert, x.revert} }, []string{checkReverts}},
	}
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				st := open(t)
				e := ledger.New(st, ledger.Config{})
				defer e.Close()
				acct := createAccount(t, st, abacus.Overdraft{})
				x := ids{acct: acct}
				x.topup = submit(t, e, "topup", &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 100)}).Tx.ID
				x.charge = submit(t, e, "charge", &abacus.Move{Type: abacus.TxCharge, Account: acct, Currency: "USD", Amount: units(t, 30)}).Tx.ID
				x.hold = submit(t, e, "hold", &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: units(t, 20)}).Hold.ID
				voided := submit(t, e, "hold2", &abacus.HoldCreate{Account: acct, Currency: "USD", Amount: units(t, 5)}).Hold.ID
				submit(t, e, "void", &abacus.HoldVoid{HoldID: voided})
				x.grant = submit(t, e, "grant", &abacus.Move{Type: abacus.TxGrant, Account: acct, Currency: "USD", Amount: units(t, 1)}).Tx.ID
				x.revert = submit(t, e, "revert", &abacus.Revert{TxID: x.grant}).Tx.ID
				x.cash = wallet(t, st, acct, abacus.BucketCash, "USD").ID
				mustVerify(t, st)

				corrupt(t, st, c.sql, c.args(x)...)
				rep, err := ledger.Verify(context.Background(), st)
				if err != nil {
					t.Fatal(err)
				}
				var failed []string
				for _, ch := range rep.Checks {
					if ch.Violations > 0 {
						failed = append(failed, ch.Name)
					}
				}
				slices.Sort(failed)
				want := slices.Sorted(slices.Values(c.fails))
				if rep.OK() || !slices.Equal(failed, want) {
					t.Fatalf("want exactly these checks to fail: %q\n%s", want, rep)
				}
			})
		}
	})
}

// corrupt runs SQL statements written with ? placeholders straight
// against the store's database, past the triggers that keep prices,
// transactions and postings append-only (migration 0019), as one who
// meant to would. Times are bound as each dialect keeps them.
func corrupt(t *testing.T, st abacus.Store, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	switch s := st.(type) {
	case *sqlite.Store:
		args = slices.Clone(args) // the caller's stay as they are, for the next store
		for i, a := range args {
			if at, ok := a.(time.Time); ok {
				args[i] = at.UnixMicro()
			}
		}
		db, err := sql.Open("sqlite3", s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, table := range []string{"prices", "transactions", "postings"} {
			for _, kind := range []string{"update", "delete", "replace"} {
				if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP TRIGGER IF EXISTS %s_append_only_%s`, table, kind)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("corrupting: %v", err)
		}
	case *postgres.Store:
		tx, err := s.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil { // no triggers
			t.Fatal(err)
		}
		// pgx runs several statements in one call only without
		// arguments, so run them one by one, numbering placeholders.
		n := 0
		for _, q := range strings.Split(query, ";") {
			var qargs []any
			for strings.Contains(q, "?") {
				qargs = append(qargs, args[n])
				n++
				q = strings.Replace(q, "?", fmt.Sprintf("$%d", len(qargs)), 1)
			}
			if _, err := tx.Exec(ctx, q, qargs...); err != nil {
				t.Fatalf("corrupting: %s: %v", q, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("corrupt: unknown store %T", st)
	}
}

// TestVerifyChecksEventCosts: an account's usage charges are its events'
// exact costs less a carry below a micro-unit; a cost that says otherwise
// fails verify, and an event whose cost is unknown (stored before abacus
// kept costs) leaves its account out of that check.
func TestVerifyChecksEventCosts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0.0000015", t0))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		for i := range 3 {
			f.ingest(spaceEvent(fmt.Sprintf("e%d", i), acct, "gpu", 1, t0.Add(time.Duration(i)*time.Minute)))
		}
		mustVerify(t, f.st) // 4.5µ: 4µ charged, 0.5µ carried
		corrupt(t, f.st, `UPDATE usage_events SET cost = '0.000003' WHERE id = 'e0'`)
		rep, err := ledger.Verify(context.Background(), f.st)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || !strings.Contains(rep.String(), "its events' exact costs come to 0.000006 but it was charged 0.000004") {
			t.Fatalf("a cost that does not add up:\n%s", rep)
		}
		corrupt(t, f.st, `UPDATE usage_events SET cost = 'unknown' WHERE id = 'e0'`)
		mustVerify(t, f.st)
	})
}

// TestVerifyNamesAMonthBelowZero: every price's month costs C(total) ≥ 0,
// whatever its credits and voids, so an account-month whose events came to
// less than nothing gave back money never paid; verify names it. (Here the
// events and the monthly sums are made to say a void gave back 12 of a
// month's 10, consistently, as a pricing bug would have.)
func TestVerifyNamesAMonthBelowZero(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", t0))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("e", acct, "gpu", 10, t0.Add(time.Hour)))
		mustVerify(t, f.st)
		corrupt(t, f.st, `UPDATE usage_events SET drawn_cash = -2000000, refunded = 12000000, status = 'voided' WHERE id = 'e'`)
		corrupt(t, f.st, `UPDATE usage_paid SET cash = -2000000`)
		rep, err := ledger.Verify(context.Background(), f.st)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || !strings.Contains(rep.String(), "its usage of 2026-11 came to -2 USD: more came back than was paid for it") {
			t.Fatalf("a month below zero:\n%s", rep)
		}
	})
}

// TestVerifyMonthsWithCarries: what a month's buckets paid is its exact
// cost less its carry, each month's own, however its events and voids
// alternate with another month's.
func TestVerifyMonthsWithCarries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		sep, oct := time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0.0000001", sep.AddDate(0, -1, 0)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		for i := range 2 {
			b, a := fmt.Sprintf("b%d", i), fmt.Sprintf("a%d", i)
			f.ingest(spaceEvent(b, acct, "gpu", 5, sep.Add(time.Duration(i)*time.Hour)))
			f.ingest(spaceEvent(a, acct, "gpu", 5, oct.Add(time.Duration(i)*time.Hour)))
			if res, err := f.e.VoidEvents(f.ctx, []string{b}); err != nil || res[0].Err != nil {
				t.Fatalf("void %s: %+v %v", b, res, err)
			}
		}
		mustVerify(t, f.st)
	})
}

// TestVerifyChecksEachMonthsCarry: each month was charged its events'
// exact costs less its own carry; a carry that drifted fails verify, for
// the month and for the account. An account whose carry was one across
// months before migration 0018 is checked by its sum, that carry included,
// and its months since one by one.
func TestVerifyChecksEachMonthsCarry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		sep, oct := time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0.0000001", sep.AddDate(0, -1, 0)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("s1", acct, "gpu", 3, sep), spaceEvent("o1", acct, "gpu", 3, oct)) // 0.3µ each, carried
		mustVerify(t, f.st)

		corrupt(t, f.st, `UPDATE usage_carry_periods SET residue = '0.0000002' WHERE period = ?`, sep.AddDate(0, 0, -9)) // September's start
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || !strings.Contains(rep.String(), "its usage of 2026-09 costs 0.0000003 exactly and was charged 0 for it, which leaves 0.0000003; its carry for the month holds 0.0000002") ||
			!strings.Contains(rep.String(), "its carries hold 0.0000005") {
			t.Fatalf("a September carry of 0.2µ where 0.3µ is left: %v\n%s", err, rep.String())
		}

		// As migration 0018 leaves an account whose carry was one for both
		// months: that carry kept, and the months marked shared.
		corrupt(t, f.st, `DELETE FROM usage_carry_periods`)
		corrupt(t, f.st, `INSERT INTO usage_carry (account_id, residue) VALUES (?, '0.0000006')`, string(acct))
		for _, m := range []time.Time{sep.AddDate(0, 0, -9), oct.AddDate(0, 0, -9)} {
			corrupt(t, f.st, `INSERT INTO usage_carry_periods (account_id, period, residue, shared) VALUES (?, ?, '0', ?)`, string(acct), m, true)
		}
		mustVerify(t, f.st)
		// A month since has a carry of its own, which verify checks.
		nov := oct.AddDate(0, 1, 0)
		f.ingest(spaceEvent("n1", acct, "gpu", 3, nov))
		mustVerify(t, f.st)
		corrupt(t, f.st, `UPDATE usage_carry_periods SET residue = '0.0000001' WHERE period = ?`, nov.AddDate(0, 0, -9))
		if rep, err := ledger.Verify(f.ctx, f.st); err != nil || rep.OK() || !strings.Contains(rep.String(), "its usage of 2026-11 costs 0.0000003 exactly") {
			t.Fatalf("a November carry that drifted: %v\n%s", err, rep.String())
		}
		corrupt(t, f.st, `UPDATE usage_carry_periods SET residue = '0.0000003' WHERE period = ?`, nov.AddDate(0, 0, -9))
		// A September event after it has September's carry to itself.
		f.ingest(spaceEvent("s2", acct, "gpu", 3, sep.Add(time.Hour)))
		mustVerify(t, f.st)
		corrupt(t, f.st, `UPDATE usage_carry SET residue = '0.0000005'`)
		if rep, err := ledger.Verify(f.ctx, f.st); err != nil || rep.OK() || !strings.Contains(rep.String(), "which leaves 0.0000012; its carries hold 0.0000011") {
			t.Fatalf("an old carry that drifted: %v\n%s", err, rep)
		}
	})
}

// TestVerifyChecksTierCounters: a tier counter holds what its month's
// standing events count at the versions that charged them; one that
// drifted, one that counts a voided event, or one missing, fails verify.
func TestVerifyChecksTierCounters(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("g", abacus.ModelGraduated, t0, tier{10, "1"}, tier{0, "0.5"}))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("a", acct, "g", 8, t0.Add(time.Hour)), spaceEvent("b", acct, "g", 4, t0.Add(2*time.Hour)),
			spaceEvent("c", acct, "g", 5, t0.Add(3*time.Hour)))
		if res, err := f.e.VoidEvents(f.ctx, []string{"c"}); err != nil || res[0].Err != nil {
			t.Fatal(res, err)
		}
		mustVerify(t, f.st)
		for _, c := range []struct{ sql, want string }{
			{`UPDATE usage_counters SET quantity = 13`, "holds 13; the month's standing events count 12"},
			{`UPDATE usage_counters SET quantity = 17`, "holds 17; the month's standing events count 12"},
			{`DELETE FROM usage_counters`, "holds 0; the month's standing events count 12"},
		} {
			corrupt(t, f.st, c.sql)
			rep, err := ledger.Verify(context.Background(), f.st)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(rep.String(), c.want) || !strings.Contains(rep.String(), "month from 2026-11-01T00:00:00Z") {
				t.Fatalf("after %s:\n%s\nwant %q", c.sql, rep, c.want)
			}
		}
	})
}

// TestVerifyChecksEachRollup: each rollup row holds what the events of its
// key sum to. Compared as one sum per account, usage moved to another
// quarter hour, scene, resource or instance went unseen (QA), and
// statements by any of them would have been wrong with verify clean.
func TestVerifyChecksEachRollup(t *testing.T) {
	t0 := time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, sql string
		args      []any
		want      string
	}{
		{"a rollup moved to another quarter hour", `UPDATE usage_rollups SET bucket = ? WHERE bucket = ?`, []any{t0.Add(time.Hour), t0},
			"quarter hour from 2026-09-10T00:00:00Z, scene 11, resource \"gpu\", instance \"space-1\" is missing; its events say 5 units, 0.5 USD charged, 1 events"},
		{"a rollup's resource changed", `UPDATE usage_rollups SET resource_id = 'cpu' WHERE bucket = ?`, []any{t0},
			"resource \"cpu\", instance \"space-1\" holds 5 units, 0.5 USD charged, 1 events, but no event has its key"},
		{"a rollup's unpriced usage changed", `UPDATE usage_rollups SET unpriced_quantity = 5, unpriced_events = 1 WHERE bucket = ?`, []any{t0},
			"holds 5 units, 0.5 USD charged, 1 events (5 units in 1 events unpriced); its events say 5 units, 0.5 USD charged, 1 events (0 units in 0 events unpriced)"},
		{"an event's scene changed", `UPDATE usage_events SET scene = 12 WHERE id = 'a'`, nil,
			"scene 11, resource \"gpu\", instance \"space-1\" holds 5 units, 0.5 USD charged, 1 events, but no event has its key"},
		// Not a rollup, but the same ledger: the mark that takes an account
		// out of the bucket check, set on an event no migration marked (QA).
		{"a charged event marked as paid by estimate", `UPDATE usage_events SET drawn_estimated = ? WHERE id = 'a'`, []any{true},
			"event a is charged, refunded 0, yet marked as paid by buckets estimated"},
		{"a month marked shared with a carry across months the account never had", `INSERT INTO usage_carry_periods (account_id, period, residue, shared) SELECT account_id, ?, '0', ? FROM usage_events WHERE id = 'a'`,
			[]any{time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), true},
			"its carry for 2026-09 is marked as shared with a carry across months, which the account never had"},
		{"an event moved within its month", `UPDATE usage_events SET event_time = ? WHERE id = 'a'`, []any{t0.Add(15 * time.Minute)},
			"quarter hour from 2026-09-10T00:15:00Z, scene 11, resource \"gpu\", instance \"space-1\" holds 7 units, 0.7 USD charged, 1 events; its events say 12 units, 1.2 USD charged, 2 events"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
				f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "0.1", t0.AddDate(0, -1, 0)))
				acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
				f.ingest(spaceEvent("a", acct, "gpu", 5, t0), spaceEvent("b", acct, "gpu", 7, t0.Add(20*time.Minute)))
				mustVerify(t, f.st)
				corrupt(t, f.st, c.sql, c.args...)
				rep, err := ledger.Verify(f.ctx, f.st)
				if err != nil || rep.OK() || !strings.Contains(rep.String(), c.want) {
					t.Fatalf("%v\n%s", err, rep)
				}
			})
		})
	}
}

// TestVerifyChecksCountersVersion: a tier counter's version, which prices
// its month's next usage, is one its month's events were charged at. Set
// to the version a correction replaced, it had passed verify and charged
// the next event at that (QA).
func TestVerifyChecksCountersVersion(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, tieredPrice("gpu", abacus.ModelGraduated, t0, tier{10, "1"}, tier{0, "0.5"}))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("a", acct, "gpu", 8, t0.Add(time.Hour)), spaceEvent("b", acct, "gpu", 4, t0.Add(2*time.Hour)))
		fix := tieredPrice("gpu", abacus.ModelGraduated, t0, tier{10, "0.9"}, tier{0, "0.5"})
		fix.Revision = 1
		if err := f.st.PriceBookCorrect(f.ctx, []abacus.Price{fix}); err != nil {
			t.Fatal(err)
		}
		if res, err := f.e.Reprice(f.ctx, []string{"a", "b"}); err != nil || !res[0].Repriced || !res[1].Repriced {
			t.Fatalf("reprice: %+v %v", res, err)
		}
		if _, err := f.e.VoidEvents(f.ctx, []string{"b"}); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, f.st)
		corrupt(t, f.st, `UPDATE usage_counters SET price_id = ?`, priceID(t, f.st, "gpu", t0, 0))
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || !strings.Contains(rep.String(), "which none of the month's events was charged at") {
			t.Fatalf("%v\n%s", err, rep)
		}
	})
}

// TestAppendOnlyTables: the database itself refuses to edit or delete a
// price, a transaction or a posting (migration 0019), a commitment or a
// commitment's end (0026), so a hand edit cannot change what happened
// behind abacus's back (QA: a price edited in place charged new events at
// it, and verify could not tell).
func TestAppendOnlyTables(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		e := ledger.New(st, ledger.Config{})
		defer e.Close()
		acct := createAccount(t, st, abacus.Overdraft{})
		submit(t, e, "topup", &abacus.Move{Type: abacus.TxTopup, Account: acct, Currency: "USD", Amount: units(t, 5)})
		jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(context.Background(), []abacus.Price{perMinute("gpu", "1", jan)},
			[]abacus.Commitment{{Account: acct, Months: 12, From: jan, Until: jan.AddDate(1, 0, 0), Ended: jan.AddDate(0, 6, 0)}}); err != nil {
			t.Fatal(err)
		}
		exec := func(q string) error {
			switch s := st.(type) {
			case *sqlite.Store:
				db, err := sql.Open("sqlite3", s.Path())
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				_, err = db.Exec(q)
				return err
			case *postgres.Store:
				_, err := s.Pool().Exec(context.Background(), q)
				return err
			}
			t.Fatalf("unknown store %T", st)
			return nil
		}
		edits := []string{`UPDATE prices SET unit_price = '0.5'`, `DELETE FROM prices`,
			`UPDATE transactions SET type = 'grant'`, `DELETE FROM transactions`,
			`UPDATE postings SET amount = amount * 2`, `DELETE FROM postings`,
			`UPDATE commitments SET months = 36`, `DELETE FROM commitments`,
			`UPDATE commitment_ends SET ended_at = recorded_at`, `DELETE FROM commitment_ends`}
		if _, ok := st.(*sqlite.Store); ok {
			// A REPLACE deletes what it conflicts with, without firing
			// delete triggers (QA: a price edited in place so).
			edits = append(edits, `INSERT OR REPLACE INTO prices SELECT id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model,
				'5', params, description, valid_from, created_at, revision FROM prices`,
				`INSERT OR REPLACE INTO transactions SELECT id, 'grant', memo, reverts, hold_id, created_at FROM transactions`,
				`INSERT OR REPLACE INTO postings SELECT wallet_id, tx_id, amount * 2, balance_after, version FROM postings`,
				`INSERT OR REPLACE INTO commitments SELECT id, account_id, 36, starts_at, ends_at FROM commitments`,
				`INSERT OR REPLACE INTO commitment_ends SELECT id, commitment_id, recorded_at, recorded_at FROM commitment_ends`)
		} else {
			// Row triggers do not see a TRUNCATE (QA).
			edits = append(edits, `TRUNCATE postings`, `TRUNCATE transactions CASCADE`, `TRUNCATE prices CASCADE`,
				`TRUNCATE commitment_ends`, `TRUNCATE commitments CASCADE`)
		}
		for _, q := range edits {
			if err := exec(q); err == nil || !strings.Contains(err.Error(), "never") {
				t.Errorf("%s: %v", q, err)
			}
		}
		mustVerify(t, st)
		if b := wallet(t, st, acct, abacus.BucketCash, "USD").Balance; b.String() != "5" {
			t.Fatalf("cash %s after the refused edits", b)
		}
		book, err := st.PriceBookLoad(context.Background())
		if err != nil || len(book.Commitments) != 1 || book.Commitments[0].Months != 12 || !book.Commitments[0].Ended.Equal(jan.AddDate(0, 6, 0)) {
			t.Fatalf("the commitment after the refused edits: %+v %v", book.Commitments, err)
		}
	})
}
