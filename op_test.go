package abacus_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

var (
	revenueID  = abacus.SystemRevenue.ID()
	clearingID = abacus.SystemPaymentClearing.ID()
)

func TestOpKinds(t *testing.T) {
	for op, want := range map[abacus.Op]string{
		&abacus.Move{}: "move", &abacus.Transfer{}: "transfer", &abacus.Revert{}: "revert",
		&abacus.HoldCreate{}: "hold_create", &abacus.HoldPost{}: "hold_post",
		&abacus.HoldVoid{}: "hold_void", &abacus.HoldExpire{}: "hold_expire",
	} {
		if op.Kind() != want {
			t.Errorf("%T.Kind() = %q, want %q", op, op.Kind(), want)
		}
	}
}

// ---- Move ----

func validMove(typ abacus.TxType) abacus.Move {
	return abacus.Move{Type: typ, Account: custA, Currency: "USD", Amount: micros(1_500_000), Memo: "ok"}
}

func TestMoveValidate(t *testing.T) {
	for _, typ := range []abacus.TxType{abacus.TxGrant, abacus.TxTopup, abacus.TxCharge, abacus.TxRefund, abacus.TxAdjust} {
		m := validMove(typ)
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		for _, b := range []abacus.Bucket{abacus.BucketCash, abacus.BucketBonus, abacus.BucketVoucher} {
			m := validMove(typ)
			m.Bucket = b
			if err := m.Validate(); err != nil {
				t.Errorf("%s into %s: %v", typ, b, err)
			}
		}
	}
	m := validMove(abacus.TxAdjust)
	m.Amount = micros(-1)
	if err := m.Validate(); err != nil {
		t.Errorf("negative adjust: %v", err)
	}
	m = validMove(abacus.TxCharge)
	m.Memo = strings.Repeat("é", abacus.MaxMemoBytes/2)
	if err := m.Validate(); err != nil {
		t.Errorf("memo of exactly %d bytes: %v", abacus.MaxMemoBytes, err)
	}

	bad := []struct {
		field string
		f     func(*abacus.Move)
	}{
		{"type", func(m *abacus.Move) { m.Type = "" }},
		{"type", func(m *abacus.Move) { m.Type = abacus.TxTransfer }},
		{"type", func(m *abacus.Move) { m.Type = abacus.TxRevert }},
		{"type", func(m *abacus.Move) { m.Type = "Charge" }},
		{"amount", func(m *abacus.Move) { m.Amount = abacus.Zero }},
		{"amount", func(m *abacus.Move) { m.Amount = micros(-1) }},
		{"amount", func(m *abacus.Move) { m.Amount = micros(math.MinInt64) }},
		{"amount", func(m *abacus.Move) { m.Type, m.Amount = abacus.TxAdjust, abacus.Zero }},
		{"amount", func(m *abacus.Move) { m.Type, m.Amount = abacus.TxGrant, micros(-5) }},
		{"account", func(m *abacus.Move) { m.Account = "" }},
		{"account", func(m *abacus.Move) { m.Account = "revenue" }},
		{"account", func(m *abacus.Move) { m.Account = revenueID }},
		{"account", func(m *abacus.Move) { m.Account = abacus.SystemAdjustments.ID() }},
		{"currency", func(m *abacus.Move) { m.Currency = "" }},
		{"currency", func(m *abacus.Move) { m.Currency = "usd" }},
		{"bucket", func(m *abacus.Move) { m.Bucket = abacus.BucketMain }},
		{"bucket", func(m *abacus.Move) { m.Bucket = "Cash" }},
		{"memo", func(m *abacus.Move) { m.Memo = strings.Repeat("x", abacus.MaxMemoBytes+1) }},
		{"memo", func(m *abacus.Move) { m.Memo = "bad \xff utf-8" }},
	}
	for _, typ := range []abacus.TxType{abacus.TxCharge, abacus.TxAdjust} {
		for _, tt := range bad {
			m := validMove(typ)
			tt.f(&m)
			if m.Type == abacus.TxAdjust && m.Amount.IsNegative() {
				continue // a negative adjust is valid
			}
			wantError(t, m.Validate(), abacus.CodeInvalid, tt.field)
		}
	}
}

func TestMoveValidateCanonicalisesAccount(t *testing.T) {
	m := validMove(abacus.TxTopup)
	m.Account = abacus.AccountID(strings.ToUpper(custA))
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Account != custA {
		t.Fatalf("Account after Validate = %q, want %q", m.Account, custA)
	}
}

func TestMoveCounterpartyAndBucket(t *testing.T) {
	tests := []struct {
		typ     abacus.TxType
		counter abacus.SystemAccount
		credit  abacus.Bucket
	}{
		{abacus.TxGrant, abacus.SystemPromotions, abacus.BucketBonus},
		{abacus.TxTopup, abacus.SystemPaymentClearing, abacus.BucketCash},
		{abacus.TxCharge, abacus.SystemRevenue, abacus.BucketCash},
		{abacus.TxRefund, abacus.SystemRefunds, abacus.BucketCash},
		{abacus.TxAdjust, abacus.SystemAdjustments, abacus.BucketCash},
	}
	for _, tt := range tests {
		m := validMove(tt.typ)
		if got := m.Counterparty(); got != tt.counter {
			t.Errorf("%s.Counterparty() = %s, want %s", tt.typ, got, tt.counter)
		}
		if got := m.CreditBucket(); got != tt.credit {
			t.Errorf("%s.CreditBucket() = %s, want %s", tt.typ, got, tt.credit)
		}
		m.Bucket = abacus.BucketVoucher
		if got := m.CreditBucket(); got != abacus.BucketVoucher {
			t.Errorf("%s.CreditBucket() with voucher = %s", tt.typ, got)
		}
	}
}

// ---- Transfer ----

func leg(account abacus.AccountID, bucket abacus.Bucket, cur abacus.Currency, amount string) abacus.PostingSpec {
	a, err := abacus.ParseAmount(amount)
	if err != nil {
		panic(err)
	}
	return abacus.PostingSpec{Account: account, Bucket: bucket, Currency: cur, Amount: a}
}

func TestTransferValidateFillsDefaultBuckets(t *testing.T) {
	tr := abacus.Transfer{Postings: []abacus.PostingSpec{
		leg(clearingID, "", "USD", "-10"),
		leg(custA, "", "USD", "7"),
		leg(custB, abacus.BucketBonus, "USD", "2.5"),
		leg(revenueID, abacus.BucketMain, "USD", "0.5"),
	}, Memo: "split"}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []abacus.Bucket{abacus.BucketMain, abacus.BucketCash, abacus.BucketBonus, abacus.BucketMain}
	for i, p := range tr.Postings {
		if p.Bucket != want[i] {
			t.Errorf("postings[%d].Bucket = %q, want %q", i, p.Bucket, want[i])
		}
	}
}

func TestTransferValidateAccepts(t *testing.T) {
	many := make([]abacus.PostingSpec, abacus.MaxPostings)
	for i := range many {
		// Distinct wallets: one customer and one system leg per currency.
		cur := abacus.Currency(fmt.Sprintf("C%02d", i/2))
		if i%2 == 0 {
			many[i] = leg(custA, "", cur, "1")
		} else {
			many[i] = leg(revenueID, "", cur, "-1")
		}
	}
	for name, ps := range map[string][]abacus.PostingSpec{
		"two legs": {leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-1")},
		"same account, other bucket": {
			leg(custA, abacus.BucketCash, "USD", "-1"), leg(custA, abacus.BucketBonus, "USD", "1"),
		},
		"two currencies, each zero": {
			leg(custA, "", "USD", "1"), leg(revenueID, "", "USD", "-1"),
			leg(custA, "", "EUR", "-2"), leg(revenueID, "", "EUR", "2"),
		},
		"extreme amounts": {
			leg(custA, "", "USD", "9223372036854.775807"), leg(custB, "", "USD", "-9223372036854.775807"),
		},
		// The running sum leaves the int64 range although the total is zero.
		"order does not matter": {
			leg(custA, "", "USD", "9223372036854.775807"), leg(custB, "", "USD", "0.000001"),
			leg(revenueID, "", "USD", "-9223372036854.775807"), leg(clearingID, "", "USD", "-0.000001"),
		},
		"most negative leg": {
			leg(custA, "", "USD", "-9223372036854.775808"), leg(custB, "", "USD", "9223372036854.775807"),
			leg(revenueID, "", "USD", "0.000001"),
		},
		"max postings": many,
	} {
		tr := abacus.Transfer{Postings: ps}
		if err := tr.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTransferValidateRejects(t *testing.T) {
	tooMany := make([]abacus.PostingSpec, abacus.MaxPostings+1)
	for i := range tooMany {
		tooMany[i] = leg(custA, "", abacus.Currency(fmt.Sprintf("C%03d", i)), "1")
	}
	tests := []struct {
		name  string
		ps    []abacus.PostingSpec
		memo  string
		code  abacus.ErrorCode
		field string
	}{
		{"no postings", nil, "", abacus.CodeInvalid, "postings"},
		{"one posting", []abacus.PostingSpec{leg(custA, "", "USD", "0")}, "", abacus.CodeInvalid, "postings"},
		{"too many", tooMany, "", abacus.CodeInvalid, "postings"},
		{"does not sum to zero", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-0.999999"),
		}, "", abacus.CodeInvalid, "postings"},
		{"one currency does not sum to zero", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-1"),
			leg(custA, "", "EUR", "1"), leg(custB, "", "EUR", "-2"),
		}, "", abacus.CodeInvalid, "postings"},
		{"currencies do not net against each other", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "EUR", "-1"),
		}, "", abacus.CodeInvalid, "postings"},
		{"sum far out of range", []abacus.PostingSpec{
			leg(custA, "", "USD", "9223372036854.775807"), leg(custB, "", "USD", "9223372036854.775807"),
			leg(revenueID, "", "USD", "1"),
		}, "", abacus.CodeInvalid, "postings"},
		{"bad account", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg("nope", "", "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[1].account"},
		{"system account by name", []abacus.PostingSpec{
			leg("revenue", "", "USD", "1"), leg(custA, "", "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[0].account"},
		{"bad currency", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "usd", "-1"),
		}, "", abacus.CodeInvalid, "postings[1].currency"},
		{"system account with a customer bucket", []abacus.PostingSpec{
			leg(revenueID, abacus.BucketCash, "USD", "1"), leg(custA, "", "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[0].bucket"},
		{"customer with main", []abacus.PostingSpec{
			leg(revenueID, "", "USD", "1"), leg(custA, abacus.BucketMain, "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[1].bucket"},
		{"unknown bucket", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "savings", "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[1].bucket"},
		{"zero amount", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-1"), leg(revenueID, "", "USD", "0"),
		}, "", abacus.CodeInvalid, "postings[2].amount"},
		{"duplicate wallet", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-2"), leg(custA, "", "USD", "1"),
		}, "", abacus.CodeInvalid, "postings[2]"},
		{"duplicate via the default customer bucket", []abacus.PostingSpec{
			leg(custA, abacus.BucketCash, "USD", "1"), leg(custA, "", "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[1]"},
		{"duplicate via the default system bucket", []abacus.PostingSpec{
			leg(revenueID, "", "USD", "1"), leg(revenueID, abacus.BucketMain, "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[1]"},
		{"duplicate in another spelling of the id", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(abacus.AccountID(strings.ToUpper(custA)), "", "USD", "-1"),
		}, "", abacus.CodeInvalid, "postings[1]"},
		{"memo too long", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-1"),
		}, strings.Repeat("m", abacus.MaxMemoBytes+1), abacus.CodeInvalid, "memo"},
		{"memo not UTF-8", []abacus.PostingSpec{
			leg(custA, "", "USD", "1"), leg(custB, "", "USD", "-1"),
		}, "\xc3\x28", abacus.CodeInvalid, "memo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := abacus.Transfer{Postings: tt.ps, Memo: tt.memo}
			wantError(t, tr.Validate(), tt.code, tt.field)
		})
	}
}

func TestTransferValidateCanonicalisesAccounts(t *testing.T) {
	tr := abacus.Transfer{Postings: []abacus.PostingSpec{
		leg(abacus.AccountID(strings.ToUpper(custA)), "", "USD", "1"),
		leg(abacus.AccountID(strings.ToUpper(custB)), "", "USD", "-1"),
	}}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	if tr.Postings[0].Account != custA || tr.Postings[1].Account != custB {
		t.Fatalf("accounts after Validate: %q, %q", tr.Postings[0].Account, tr.Postings[1].Account)
	}
}

// ---- holds and reverts ----

func validHold() abacus.HoldCreate {
	return abacus.HoldCreate{Account: custA, Currency: "USD", Amount: micros(5_000_000), ExpiresAt: time.Unix(1e9, 0), Memo: "gpu"}
}

func TestHoldCreateValidate(t *testing.T) {
	for _, b := range []abacus.Bucket{"", abacus.BucketCash, abacus.BucketBonus, abacus.BucketVoucher} {
		h := validHold()
		h.Bucket = b
		if err := h.Validate(); err != nil {
			t.Errorf("bucket %q: %v", b, err)
		}
	}
	h := validHold()
	h.Account = abacus.AccountID(strings.ToUpper(custA))
	if err := h.Validate(); err != nil || h.Account != custA {
		t.Errorf("upper-case account: %q, %v", h.Account, err)
	}
	bad := []struct {
		field string
		f     func(*abacus.HoldCreate)
	}{
		{"account", func(h *abacus.HoldCreate) { h.Account = "" }},
		{"account", func(h *abacus.HoldCreate) { h.Account = revenueID }},
		{"currency", func(h *abacus.HoldCreate) { h.Currency = "" }},
		{"currency", func(h *abacus.HoldCreate) { h.Currency = "US" }},
		{"amount", func(h *abacus.HoldCreate) { h.Amount = abacus.Zero }},
		{"amount", func(h *abacus.HoldCreate) { h.Amount = micros(-1) }},
		{"bucket", func(h *abacus.HoldCreate) { h.Bucket = abacus.BucketMain }},
		{"memo", func(h *abacus.HoldCreate) { h.Memo = strings.Repeat("x", abacus.MaxMemoBytes+1) }},
		{"memo", func(h *abacus.HoldCreate) { h.Memo = "\xff" }},
	}
	for _, tt := range bad {
		h := validHold()
		tt.f(&h)
		wantError(t, h.Validate(), abacus.CodeInvalid, tt.field)
	}
}

func TestHoldPostValidate(t *testing.T) {
	one := micros(1)
	for _, h := range []abacus.HoldPost{
		{HoldID: 1},
		{HoldID: 1, Amount: &one},
		{HoldID: math.MaxInt64, Memo: "done"},
	} {
		if err := h.Validate(); err != nil {
			t.Errorf("%+v: %v", h, err)
		}
	}
	zero, neg := abacus.Zero, micros(-1)
	tests := []struct {
		h     abacus.HoldPost
		field string
	}{
		{abacus.HoldPost{}, "hold"},
		{abacus.HoldPost{HoldID: -1}, "hold"},
		{abacus.HoldPost{HoldID: 1, Amount: &zero}, "amount"},
		{abacus.HoldPost{HoldID: 1, Amount: &neg}, "amount"},
		{abacus.HoldPost{HoldID: 1, Memo: strings.Repeat("x", abacus.MaxMemoBytes+1)}, "memo"},
		{abacus.HoldPost{HoldID: 1, Memo: "\xff"}, "memo"},
	}
	for _, tt := range tests {
		wantError(t, tt.h.Validate(), abacus.CodeInvalid, tt.field)
	}
}

func TestHoldVoidExpireRevertValidate(t *testing.T) {
	for _, op := range []abacus.Op{&abacus.HoldVoid{HoldID: 3}, &abacus.HoldExpire{HoldID: 3}, &abacus.Revert{TxID: 3}} {
		if err := op.Validate(); err != nil {
			t.Errorf("%T: %v", op, err)
		}
	}
	for _, id := range []int64{0, -1, math.MinInt64} {
		wantError(t, (&abacus.HoldVoid{HoldID: id}).Validate(), abacus.CodeInvalid, "hold")
		wantError(t, (&abacus.HoldExpire{HoldID: id}).Validate(), abacus.CodeInvalid, "hold")
		wantError(t, (&abacus.Revert{TxID: id}).Validate(), abacus.CodeInvalid, "transaction")
	}
	wantError(t, (&abacus.Revert{TxID: 1, Memo: "\xff"}).Validate(), abacus.CodeInvalid, "memo")
}

// The error names the currency and the exact amount it is off by, even
// when that is beyond the range of an amount.
func TestTransferValidateSumMessage(t *testing.T) {
	for amt, want := range map[string]string{
		"-0.999999":             "the USD postings sum to 0.000001;",
		"9223372036854.775807":  "the USD postings sum to 9223372036855.775807;",
		"-9223372036854.775808": "the USD postings sum to -9223372036853.775808;",
	} {
		tr := abacus.Transfer{Postings: []abacus.PostingSpec{leg(custA, "", "USD", "1"), leg(custB, "", "USD", amt)}}
		err := tr.Validate()
		wantError(t, err, abacus.CodeInvalid, "postings")
		if !strings.Contains(err.Error(), want) {
			t.Errorf("1 + %s: error %q does not say %q", amt, err, want)
		}
	}
}

func TestTextRejectsNUL(t *testing.T) {
	for _, s := range []string{"a\x00b", "\xff"} {
		m := &abacus.Move{Type: abacus.TxTopup, Account: "11111111-1111-1111-1111-111111111111", Currency: "USD", Amount: abacus.AmountFromMicros(1), Memo: s}
		if err := m.Validate(); abacus.ErrorCodeOf(err) != abacus.CodeInvalid {
			t.Errorf("memo %q: %v", s, err)
		}
		a := abacus.Account{ID: "11111111-1111-1111-1111-111111111111", Kind: abacus.KindUser, Name: s, Currency: "USD"}
		if err := a.Validate(); abacus.ErrorCodeOf(err) != abacus.CodeInvalid {
			t.Errorf("name %q: %v", s, err)
		}
	}
}
