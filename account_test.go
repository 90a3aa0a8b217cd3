package abacus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

const (
	custA = "0b8f4a52-3c1e-4d7a-9f00-1a2b3c4d5e6f"
	custB = "7d1c0e9a-aaaa-4bbb-8ccc-ddddeeeeffff"
)

func TestParseCurrency(t *testing.T) {
	for _, s := range []string{"USD", "JPY", "BHD", "CREDIT", "X12", "ABCDEFGHIJKL", "GPU9"} {
		c, err := abacus.ParseCurrency(s)
		if err != nil || string(c) != s {
			t.Errorf("ParseCurrency(%q) = %q, %v", s, c, err)
		}
	}
	for _, s := range []string{"", "US", "usd", "Usd", "1AB", "ABCDEFGHIJKLM", "US D", "USD ", " USD", "US-D", "USD\n", "ÜSD", "€UR"} {
		_, err := abacus.ParseCurrency(s)
		wantError(t, err, abacus.CodeInvalid, "currency")
	}
}

func TestCurrencyMinorUnits(t *testing.T) {
	for c, want := range map[abacus.Currency]int{
		"USD": 2, "EUR": 2, "CREDIT": 2, "JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "TND": 3, "CLF": 4, "UYW": 4,
	} {
		if got := c.MinorUnits(); got != want {
			t.Errorf("%s.MinorUnits() = %d, want %d", c, got, want)
		}
	}
}

func TestParseAccountID(t *testing.T) {
	for in, want := range map[string]string{
		custA:                                  custA,
		strings.ToUpper(custA):                 custA,
		"0B8F4A52-3c1e-4D7A-9f00-1A2b3C4d5E6f": custA,
		"00000000-0000-0000-0000-000000000000": "00000000-0000-0000-0000-000000000000",
		"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF": "ffffffff-ffff-ffff-ffff-ffffffffffff",
	} {
		got, err := abacus.ParseAccountID(in)
		if err != nil || string(got) != want {
			t.Errorf("ParseAccountID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"",
		custA[:35],
		custA + "0",
		" " + custA[1:],
		"0b8f4a523c1e4d7a9f001a2b3c4d5e6f",     // no hyphens
		"0b8f4a52-3c1e-4d7a-9f00-1a2b3c4d5e6g", // not hex
		"0b8f4a52_3c1e-4d7a-9f00-1a2b3c4d5e6f",
		"0b8f4a5-23c1e-4d7a-9f00-1a2b3c4d5e6f", // hyphen out of place
		"{0b8f4a52-3c1e-4d7a-9f00-1a2b3c4d5e}",
		"urn:uuid:0b8f4a52-3c1e-4d7a-9f00-1a2b3c4d5e6f",
		"0b8f4a52-3c1e-4d7a-9f00-1a2b3c4d5eé", // 36 bytes, not hex
		"revenue",
		strings.Repeat("a", 1000),
	} {
		_, err := abacus.ParseAccountID(in)
		wantError(t, err, abacus.CodeInvalid, "account")
		if len(err.Error()) > 200 {
			t.Errorf("ParseAccountID error is %d bytes long", len(err.Error()))
		}
	}
}

func TestResolveAccountRef(t *testing.T) {
	for name, id := range abacus.SystemAccounts {
		got, err := abacus.ResolveAccountRef(string(name))
		if err != nil || got != id || name.ID() != id {
			t.Errorf("ResolveAccountRef(%q) = %q, %v; want %q", name, got, err, id)
		}
		back, ok := abacus.SystemAccountByID(id)
		if !ok || back != name {
			t.Errorf("SystemAccountByID(%q) = %q, %v", id, back, ok)
		}
	}
	got, err := abacus.ResolveAccountRef(strings.ToUpper(custA))
	if err != nil || got != custA {
		t.Errorf("ResolveAccountRef(customer) = %q, %v", got, err)
	}
	_, err = abacus.ResolveAccountRef("Revenue")
	wantError(t, err, abacus.CodeInvalid, "account")
	if _, ok := abacus.SystemAccountByID(custA); ok {
		t.Error("a customer id is a system account")
	}
}

func TestOverdraftFloor(t *testing.T) {
	limit := mustParse(t, "50")
	tests := []struct {
		o        abacus.Overdraft
		b        abacus.Bucket
		want     string
		hasFloor bool
	}{
		{abacus.Overdraft{}, abacus.BucketCash, "0", true},
		{abacus.Overdraft{Limit: limit}, abacus.BucketCash, "-50", true},
		{abacus.Overdraft{Unlimited: true}, abacus.BucketCash, "", false},
		{abacus.Overdraft{Limit: limit}, abacus.BucketBonus, "0", true},
		{abacus.Overdraft{Unlimited: true}, abacus.BucketBonus, "0", true},
		{abacus.Overdraft{Unlimited: true}, abacus.BucketVoucher, "0", true},
		{abacus.Overdraft{Limit: limit}, abacus.BucketVoucher, "0", true},
	}
	for _, tt := range tests {
		got, ok := tt.o.Floor(tt.b)
		if ok != tt.hasFloor || (ok && got.String() != tt.want) {
			t.Errorf("%+v.Floor(%s) = %s, %v; want %s, %v", tt.o, tt.b, got, ok, tt.want, tt.hasFloor)
		}
	}
}

func TestParseBucket(t *testing.T) {
	for _, s := range []string{"cash", "bonus", "voucher"} {
		if b, err := abacus.ParseBucket(s); err != nil || string(b) != s {
			t.Errorf("ParseBucket(%q) = %q, %v", s, b, err)
		}
	}
	for _, s := range []string{"", "main", "Cash", "CASH", "credit"} {
		_, err := abacus.ParseBucket(s)
		wantError(t, err, abacus.CodeInvalid, "bucket")
	}
}

func validAccount() abacus.Account {
	return abacus.Account{ID: custA, Kind: abacus.KindUser, Name: "Ada", Currency: "USD"}
}

func TestAccountValidate(t *testing.T) {
	ok := []func(*abacus.Account){
		func(a *abacus.Account) {},
		func(a *abacus.Account) { a.Kind = abacus.KindOrg },
		func(a *abacus.Account) { a.Name = "" },
		func(a *abacus.Account) { a.Name = strings.Repeat("n", 200) },
		func(a *abacus.Account) { a.Currency = "CREDIT" },
		func(a *abacus.Account) { a.Overdraft.Limit = mustParse(t, "100") },
		func(a *abacus.Account) { a.Overdraft.Unlimited = true },
	}
	for i, f := range ok {
		a := validAccount()
		f(&a)
		if err := a.Validate(); err != nil {
			t.Errorf("case %d: %+v: %v", i, a, err)
		}
	}

	bad := []struct {
		field string
		f     func(*abacus.Account)
	}{
		{"id", func(a *abacus.Account) { a.ID = "" }},
		{"id", func(a *abacus.Account) { a.ID = "not-a-uuid" }},
		{"id", func(a *abacus.Account) { a.ID = custA + "x" }},
		{"id", func(a *abacus.Account) { a.ID = "00000000-0000-0000-0000-000000000000" }},
		{"kind", func(a *abacus.Account) { a.Kind = "" }},
		{"kind", func(a *abacus.Account) { a.Kind = abacus.KindSystem }},
		{"kind", func(a *abacus.Account) { a.Kind = "User" }},
		{"name", func(a *abacus.Account) { a.Name = strings.Repeat("n", 201) }},
		{"currency", func(a *abacus.Account) { a.Currency = "" }},
		{"currency", func(a *abacus.Account) { a.Currency = "usd" }},
		{"overdraft.limit", func(a *abacus.Account) { a.Overdraft.Limit = micros(-1) }},
		{"overdraft", func(a *abacus.Account) {
			a.Overdraft.Limit = micros(1)
			a.Overdraft.Unlimited = true
		}},
	}
	for _, tt := range bad {
		a := validAccount()
		tt.f(&a)
		wantError(t, a.Validate(), abacus.CodeInvalid, tt.field)
	}
}

// Validate accepts a UUID in any case and leaves the account with its
// canonical lower-case id, so one account cannot exist under two spellings.
func TestAccountValidateCanonicalisesID(t *testing.T) {
	a := validAccount()
	a.ID = abacus.AccountID(strings.ToUpper(custA))
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.ID != custA {
		t.Fatalf("ID after Validate = %q, want %q", a.ID, custA)
	}
}

// TestUserKeysAreForCustomers: a user key is bound to a customer's
// account, never to a system account (revenue's transactions are every
// customer's charges) nor to the nil UUID.
func TestUserKeysAreForCustomers(t *testing.T) {
	now := time.Now()
	for _, acct := range []abacus.AccountID{abacus.SystemRevenue.ID(), abacus.SystemPromotions.ID(), "00000000-0000-0000-0000-000000000000", "alice", ""} {
		if _, _, err := abacus.NewAPIKey("k", abacus.RoleUser, acct, now); abacus.ErrorCodeOf(err) != abacus.CodeInvalid {
			t.Errorf("a user key for %q: %v, want refused", acct, err)
		}
	}
	if k, _, err := abacus.NewAPIKey("k", abacus.RoleUser, "AAAAAAAA-0000-4000-8000-000000000001", now); err != nil || k.Account != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Errorf("a user key for a customer: %+v %v", k, err)
	}
}

// TestAPIKeyIDsShowNothingOfTheirTokens: a key's id is random of its own,
// not the token's first characters (QA: 40 of its bits were shown
// wherever ids are).
func TestAPIKeyIDsShowNothingOfTheirTokens(t *testing.T) {
	for range 20 {
		k, token, err := abacus.NewAPIKey("k", abacus.RoleAdmin, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(k.ID, "key_")
		if len(id) != 8 || strings.Contains(token, id) || !strings.HasPrefix(token, "abk_") || len(token) != 4+40 {
			t.Fatalf("id %s, token %s", k.ID, token)
		}
	}
}
