package http_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
)

// TestAuthorization calls every endpoint as every kind of caller. A user
// key reads its own account and nothing else, and moves no money at all.
func TestAuthorization(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newFixture(t, open(t))
		f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "seed", `{"type":"topup","account":"`+alice+`","amount":"100","currency":"USD"}`, 201)
		tx := jsonNumber(f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "seed2", `{"type":"charge","account":"`+alice+`","amount":"1","currency":"USD"}`, 201).body["id"])
		hold := jsonNumber(f.mustDo("admin", "POST", "/api/v1/holds", "seed3", `{"account":"`+alice+`","amount":"1","currency":"USD"}`, 201).body["id"])
		f.mustDo("admin", "POST", "/api/v1/accounting/metering/events", "", "["+csghubEvent("seed-event", alice, 1, "2026-11-02T10:00:00Z")+"]", 200)

		ok, created, gone := []int{200}, []int{201}, []int{201, 409} // gone: allowed, but another caller may have used it up
		no := []int{403}
		type expect struct{ admin, service, alice, bob []int }
		readOwn := expect{ok, ok, ok, no}
		readOwnHidden := expect{ok, ok, ok, []int{404}} // another's does not exist as far as bob can tell
		backendOnly := expect{created, created, no, no}
		adminOnly := expect{created, no, no, no}
		n := 0
		body := func(s string) func() string {
			return func() string { n++; return fmt.Sprintf(s, n) }
		}
		cases := []struct {
			method, path string
			body         func() string
			want         expect
		}{
			{"POST", "/api/v1/accounts", body(`{"id":"dddddddd-0000-4000-8000-%012d","kind":"user","name":"x","currency":"USD"}`), backendOnly},
			{"GET", "/api/v1/accounts/" + alice, nil, readOwn},
			{"GET", "/api/v1/accounts/" + alice + "/entries", nil, readOwn},
			{"GET", "/api/v1/accounts/revenue", nil, expect{ok, ok, no, no}},
			{"POST", "/api/v1/ledger/transactions", body(`{"type":"topup","account":"` + alice + `","amount":"1","currency":"USD","memo":"%d"}`), backendOnly},
			{"POST", "/api/v1/ledger/transactions", body(`{"type":"charge","account":"` + alice + `","amount":"1","currency":"USD","memo":"%d"}`), backendOnly},
			{"POST", "/api/v1/ledger/transactions", body(`{"type":"adjust","account":"` + alice + `","amount":"-1","currency":"USD","memo":"%d"}`), adminOnly},
			{"POST", "/api/v1/ledger/transactions", body(`{"currency":"USD","memo":"%d","postings":[{"account":"` + alice + `","amount":"-1"},{"account":"` + bob + `","amount":"1"}]}`), adminOnly},
			{"GET", "/api/v1/ledger/transactions/" + tx, nil, readOwnHidden},
			{"POST", "/api/v1/ledger/transactions/" + tx + "/revert", nil, expect{gone, gone, no, no}},
			{"POST", "/api/v1/holds", body(`{"account":"` + alice + `","amount":"1","currency":"USD","memo":"%d"}`), backendOnly},
			{"GET", "/api/v1/holds/" + hold, nil, readOwnHidden},
			{"POST", "/api/v1/holds/" + hold + "/post", nil, expect{gone, gone, no, no}},
			{"POST", "/api/v1/holds/" + hold + "/void", nil, expect{[]int{200, 409}, []int{200, 409}, no, no}},
			{"POST", "/api/v1/accounting/metering/events", body(`[{"uuid":"authz-%d","user_uuid":"` + alice + `","value":1,"value_type":0,"scene":11,"resource_id":"gpu","created_at":"2026-11-02T10:00:00Z"}]`), expect{ok, ok, no, no}},
			{"GET", "/api/v1/accounting/metering/events?account=" + alice, nil, readOwn},
			{"POST", "/api/v1/accounting/metering/events/seed-event/void", nil, expect{[]int{200, 409}, []int{200, 409}, no, no}},
			{"GET", "/api/v1/accounting/metering/dead-letters", nil, expect{ok, ok, no, no}},
			{"POST", "/api/v1/burst/utilisation", body(`{"resource":"cpu","percent":"%d"}`), expect{ok, ok, no, no}},
			{"GET", "/api/v1/burst/levels", nil, expect{ok, ok, ok, ok}},
		}
		for i, c := range cases {
			for _, who := range []string{"", "bob", "alice", "service", "admin"} {
				want := map[string][]int{"": {401}, "admin": c.want.admin, "service": c.want.service, "alice": c.want.alice, "bob": c.want.bob}[who]
				b := ""
				if c.body != nil {
					b = c.body()
				}
				key := ""
				if c.method == "POST" {
					key = fmt.Sprintf("authz-%d-%s", i, who)
				}
				before := f.mustDo("admin", "GET", "/api/v1/accounts/"+alice, "", "", 200).raw
				r := f.do(who, c.method, c.path, key, b)
				if !contains(want, r.status) {
					t.Errorf("%s %s as %q: status %d, want one of %v: %s", c.method, c.path, who, r.status, want, r.raw)
				}
				if r.status == 401 || r.status == 403 {
					if after := f.mustDo("admin", "GET", "/api/v1/accounts/"+alice, "", "", 200).raw; after != before {
						t.Errorf("%s %s as %q was refused but the account changed", c.method, c.path, who)
					}
				}
			}
		}
		f.mustDo("", "GET", "/healthz", "", "", 200)
		f.tokens["forged"] = "abk_not-a-real-key"
		f.mustDo("forged", "GET", "/api/v1/accounts/"+alice, "", "", 401)
	})
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestBearerSchemeAnyCase: the scheme of Authorization is case-insensitive
// (RFC 9110), the key is not; another scheme, or none, is refused, saying
// in WWW-Authenticate which one to use.
func TestBearerSchemeAnyCase(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	for auth, want := range map[string]int{
		"Bearer " + f.tokens["alice"]:                  200,
		"bearer " + f.tokens["alice"]:                  200,
		"BEARER " + f.tokens["alice"]:                  200,
		"bEaReR  " + f.tokens["alice"]:                 200,
		"Basic " + f.tokens["alice"]:                   401,
		"Bearer":                                       401,
		"bearer ":                                      401,
		f.tokens["alice"]:                              401,
		"Bearer " + strings.ToUpper(f.tokens["alice"]): 401,
	} {
		r := f.doHeaders("", "GET", "/api/v1/accounts/"+alice, http.Header{"Authorization": {auth}}, "")
		if r.status != want || want == 401 && (r.body["field"] != "Authorization" || r.header.Get("WWW-Authenticate") != `Bearer realm="abacus"`) {
			t.Errorf("Authorization %q: %d %s (WWW-Authenticate %q), want %d", auth, r.status, r.raw, r.header.Get("WWW-Authenticate"), want)
		}
	}
}

// TestAuthorizationSentTwice: two Authorization headers are refused,
// whichever comes first: abacus took the first, and a proxy that checks
// or adds the last would disagree (QA).
func TestAuthorizationSentTwice(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	for _, keys := range [][]string{{"alice", "admin"}, {"admin", "alice"}} {
		h := http.Header{"Authorization": {"Bearer " + f.tokens[keys[0]], "Bearer " + f.tokens[keys[1]]}}
		if r := f.doHeaders("", "GET", "/api/v1/accounts/"+bob, h, ""); r.status != 400 || r.body["field"] != "Authorization" {
			t.Errorf("%s then %s: %d %s", keys[0], keys[1], r.status, r.raw)
		}
	}
}

// TestUserKeySeesOnlyItsOwnPostings: a user key reads a transaction that
// touches its account, and of it only its own account's postings, not
// the other customer's nor revenue's with their balances (QA: a usage
// batch's transaction showed every customer it charged).
func TestUserKeySeesOnlyItsOwnPostings(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newFixture(t, open(t))
		f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "top", `{"type":"topup","account":"`+alice+`","amount":"100","currency":"USD"}`, 201)
		transfer := jsonNumber(f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "move",
			`{"currency":"USD","postings":[{"account":"`+alice+`","amount":"-7"},{"account":"`+bob+`","amount":"7"}]}`, 201).body["id"])
		charge := jsonNumber(f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "charge", `{"type":"charge","account":"`+alice+`","amount":"1","currency":"USD"}`, 201).body["id"])
		for _, id := range []string{transfer, charge} {
			all := f.mustDo("admin", "GET", "/api/v1/ledger/transactions/"+id, "", "", 200)
			own := f.mustDo("alice", "GET", "/api/v1/ledger/transactions/"+id, "", "", 200)
			postings := func(r response) []any { return r.body["postings"].([]any) }
			if len(postings(all)) < 2 {
				t.Fatalf("transaction %s as admin: %s", id, all.raw)
			}
			for _, p := range postings(own) {
				if acct := p.(map[string]any)["account"]; acct != alice {
					t.Errorf("transaction %s as alice shows a posting of %v: %s", id, acct, own.raw)
				}
			}
			if len(postings(own)) == 0 {
				t.Errorf("transaction %s as alice shows none of her postings: %s", id, own.raw)
			}
		}
		// Alice's transaction does not exist as far as bob can tell: ids are
		// sequential, and a 403 told which did.
		theirs := f.mustDo("bob", "GET", "/api/v1/ledger/transactions/"+charge, "", "", 404)
		none := f.mustDo("bob", "GET", "/api/v1/ledger/transactions/999999", "", "", 404)
		if strings.ReplaceAll(theirs.raw, charge, "N") != strings.ReplaceAll(none.raw, "999999", "N") {
			t.Errorf("bob reading alice's charge: %s, and one that does not exist: %s", theirs.raw, none.raw)
		}
	})
}

// TestUserKeyOfASystemAccountIsRefused: a user key made before user keys
// were held to customers' accounts, bound to revenue, is refused on every
// request, saying why (QA: it read revenue and every charge to it).
func TestUserKeyOfASystemAccountIsRefused(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	k := abacus.NewAPIKeyWithToken("key_legacy", "legacy", abacus.RoleUser, abacus.SystemRevenue.ID(), "abk_legacy-revenue-token-0123456789", time.Now())
	if err := st.APIKeyCreate(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	f.tokens["legacy"] = "abk_legacy-revenue-token-0123456789"
	for _, path := range []string{"/api/v1/accounts/revenue", "/api/v1/accounts/" + string(abacus.SystemRevenue.ID())} {
		if r := f.mustDo("legacy", "GET", path, "", "", 403); r.body["field"] != "Authorization" || !strings.Contains(r.raw, "no customer's account") {
			t.Errorf("GET %s: %s", path, r.raw)
		}
	}
}

// TestUserKeyMadeInUpperCaseReadsItsAccount: a user key made before keys
// were held to lower case, bound to its account in upper case, reads that
// account, which it could not.
func TestUserKeyMadeInUpperCaseReadsItsAccount(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	k := abacus.NewAPIKeyWithToken("key_upper", "upper", abacus.RoleUser, abacus.AccountID(strings.ToUpper(alice)), "abk_upper-case-token-0123456789", time.Now())
	if err := st.APIKeyCreate(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	f.tokens["upper"] = "abk_upper-case-token-0123456789"
	f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "top", `{"type":"topup","account":"`+alice+`","amount":"1","currency":"USD"}`, 201)
	f.mustDo("upper", "GET", "/api/v1/accounts/"+alice, "", "", 200)
	f.mustDo("upper", "GET", "/api/v1/accounts/"+bob, "", "", 403)
}

// TestOnlyAdminRevertsWhatOnlyAdminPosts: a service key, which may not post
// explicit postings or adjustments, may not revert them either (QA: it
// reverted an admin's correction); an admin key may.
func TestOnlyAdminRevertsWhatOnlyAdminPosts(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "top", `{"type":"topup","account":"`+alice+`","amount":"100","currency":"USD"}`, 201)
	adjust := jsonNumber(f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "adj", `{"type":"adjust","account":"`+alice+`","amount":"-1","currency":"USD","memo":"fix"}`, 201).body["id"])
	transfer := jsonNumber(f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "move",
		`{"currency":"USD","postings":[{"account":"`+alice+`","amount":"-7"},{"account":"`+bob+`","amount":"7"}]}`, 201).body["id"])
	charge := jsonNumber(f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "charge", `{"type":"charge","account":"`+alice+`","amount":"1","currency":"USD"}`, 201).body["id"])
	for _, id := range []string{adjust, transfer} {
		f.mustDo("service", "POST", "/api/v1/ledger/transactions/"+id+"/revert", "svc-"+id, "", 403)
		f.mustDo("admin", "POST", "/api/v1/ledger/transactions/"+id+"/revert", "adm-"+id, "", 201)
	}
	f.mustDo("service", "POST", "/api/v1/ledger/transactions/"+charge+"/revert", "svc-"+charge, "", 201)
}

// TestAccountWhoseBucketsAddUpPastAnAmount: each bucket may hold up to the
// most an amount holds, and their total more; the account is read all
// the same (QA: 422 overflow on a plain GET).
func TestAccountWhoseBucketsAddUpPastAnAmount(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "cash", `{"type":"topup","account":"`+alice+`","amount":"5000000000000","currency":"USD"}`, 201)
	f.mustDo("admin", "POST", "/api/v1/ledger/transactions", "bonus", `{"type":"grant","account":"`+alice+`","amount":"5000000000000","currency":"USD"}`, 201)
	r := f.mustDo("alice", "GET", "/api/v1/accounts/"+alice, "", "", 200)
	if total := r.body["total"].(map[string]any); total["balance"] != "10000000000000" || total["available"] != "10000000000000" {
		t.Fatalf("%s", r.raw)
	}
}
