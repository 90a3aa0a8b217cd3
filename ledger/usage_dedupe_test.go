package ledger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestAnIDNamesOneEvent: an event sent again is a duplicate; another
// event under a taken id, stored or earlier in its batch, is rejected
// naming what differs, so that its usage is not dropped unseen.
func TestAnIDNamesOneEvent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", t0.AddDate(0, -1, 0)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		a := spaceEvent("a", acct, "gpu", 5, t0)
		f.ingest(a)

		tokens := func(id, extra string) abacus.UsageEvent {
			e := abacus.UsageEvent{ID: id, Account: acct, ValueType: abacus.ValueTokens, Value: 10, Scene: 15, ResourceID: "llm", Time: t0, Extra: extra}
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			return e
		}
		f.ingest(tokens("t", `{"prompt_token_num":"4","completion_token_num":"6"}`)) // stored unpriced

		later, value, other := a, a, a
		later.Time = t0.Add(time.Minute)
		value.Value = 6
		other.Account = f.account(abacus.Overdraft{Unlimited: true}, nil)
		twice, twiceValue := spaceEvent("b", acct, "gpu", 1, t0), spaceEvent("b", acct, "gpu", 2, t0)
		res := f.ingest(a, later, value, other,
			tokens("t", `{"completion_token_num":"6","prompt_token_num":"4","note":"resent"}`), // the same components
			tokens("t", `{"prompt_token_num":"5","completion_token_num":"5"}`),
			tokens("t", `{"prompt_token_num":"4","completion_token_num":"6","prompt_token_cache_num":"2"}`), // cached tokens price otherwise
			twice, twice, twiceValue)
		for i, want := range []struct{ status, field string }{
			{"duplicate", ""}, {"rejected", "created_at"}, {"rejected", "value"}, {"rejected", "user_uuid"},
			{"duplicate", ""}, {"rejected", "extra"}, {"rejected", "extra"},
			{"accepted", ""}, {"duplicate", ""}, {"rejected", "value"},
		} {
			r := res[i]
			if string(r.Status) != want.status {
				t.Fatalf("item %d: %+v, want %s", i, r, want.status)
			}
			if want.field != "" && (r.Err.Code != abacus.CodeConflict || r.Err.Field != "uuid" || !strings.Contains(r.Err.Message, " "+want.field+" ")) {
				t.Fatalf("item %d: %+v, want a conflict naming %s", i, r, want.field)
			}
		}
		// A number is spelled as the event spells it, a text quoted.
		if msg := res[2].Err.Message; !strings.Contains(msg, " with value 5, and this one says 6:") {
			t.Fatalf("the value's conflict: %q", msg)
		}
		if msg := res[3].Err.Message; !strings.Contains(msg, ` with user_uuid "`+string(acct)+`", and this one says "`) {
			t.Fatalf("the account's conflict: %q", msg)
		}
		if cash := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; cash.String() != "-6" {
			t.Fatalf("cash %s, want -6: a and b once each", cash)
		}
		mustVerify(t, f.st)
	})
}

// TestARepeatThatALicencePricesOtherwiseConflicts: extra.running and a
// stub licence's declared count change what an event costs, so a repeat
// that differs there is a conflict, not a duplicate whose usage is lost;
// an extra key no licence reads may still differ.
func TestARepeatThatALicencePricesOtherwiseConflicts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		instance, stub := perMinute("win", "1", t0.AddDate(0, -1, 0)), perMinute("rds", "1", t0.AddDate(0, -1, 0))
		instance.License = &abacus.License{Name: "win", Type: "instance", UserMetric: "smp", Burstable: true}
		stub.License = &abacus.License{Name: "rds", Type: "stub", UserMetric: "users", Burstable: true}
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, instance, stub)
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		with := func(id, resource, extra string) abacus.UsageEvent {
			e := spaceEvent(id, acct, resource, 10, t0)
			e.Extra = extra
			return e
		}
		early := with("early", "win", `{"running":false}`) // before the price: stored unpriced, charged by a version imported later
		early.Time = t0.AddDate(0, -2, 0)
		f.ingest(with("w", "win", `{"running":true}`), with("r", "rds", `{"users":3}`), early)
		early.Extra = `{"running":true}`
		res := f.ingest(
			with("w", "win", `{"running":"true","note":"resent"}`), // the same quantity
			with("w", "win", `{"running":false}`),
			with("r", "rds", `{"users":"3","smp":9}`), // smp is no licence's metric here
			with("r", "rds", `{"users":4}`),
			early,
		)
		for i, want := range []string{"duplicate", "rejected", "duplicate", "rejected", "rejected"} {
			r := res[i]
			if string(r.Status) != want || want == "rejected" && (r.Err.Code != abacus.CodeConflict || !strings.Contains(r.Err.Message, " extra ")) {
				t.Fatalf("item %d: %+v, want %s", i, r, want)
			}
		}
		if cash := wallet(t, f.st, acct, abacus.BucketCash, "USD").Balance; cash.String() != "-40" {
			t.Fatalf("cash %s, want -40: 10 minutes running, 10 minutes × 3 users", cash)
		}
		mustVerify(t, f.st)
	})
}
