package storetest

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/abacus-billing/abacus"
)

func systemIDs() []abacus.AccountID {
	var ids []abacus.AccountID
	for _, id := range abacus.SystemAccounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func mustWallets(t testing.TB, st abacus.Store, ids ...abacus.AccountID) []abacus.Wallet {
	t.Helper()
	ws, err := st.Wallets(t.Context(), ids)
	if err != nil {
		t.Fatalf("Wallets(%v): %v", ids, err)
	}
	return ws
}

func byCurrency(ws []abacus.Wallet, c abacus.Currency) []abacus.Wallet {
	var out []abacus.Wallet
	for _, w := range ws {
		if w.Currency == c {
			out = append(out, w)
		}
	}
	return out
}

// checkSystemWallets checks that ws are the system wallets of c: one per
// system account, in bucket main, without a floor.
// systemWalletsPerCurrency is one main wallet per system account, and
// revenue's extra shards.
var systemWalletsPerCurrency = len(abacus.SystemAccounts) + abacus.RevenueShards - 1

func checkSystemWallets(t testing.TB, what string, ws []abacus.Wallet, c abacus.Currency) {
	t.Helper()
	if len(ws) != systemWalletsPerCurrency {
		t.Fatalf("%s: %d system wallets in %s, want a main one per system account and revenue's shards (%d): %+v", what, len(ws), c, systemWalletsPerCurrency, ws)
	}
	type key struct {
		acct   abacus.AccountID
		bucket abacus.Bucket
	}
	seen := map[key]bool{}
	for _, w := range ws {
		k := key{w.Account, w.Bucket}
		_, system := abacus.SystemAccountByID(w.Account)
		if !system || seen[k] || (w.Bucket != abacus.BucketMain && w.Account != abacus.SystemRevenue.ID()) {
			t.Fatalf("%s: wallet %+v is not a system wallet", what, w)
		}
		seen[k] = true
		want := abacus.Wallet{ID: w.ID, Account: w.Account, Bucket: w.Bucket, Currency: c}
		same(t, what, w, want)
	}
	for k := 0; k < abacus.RevenueShards; k++ {
		if !seen[key{abacus.SystemRevenue.ID(), abacus.RevenueShard(k)}] {
			t.Fatalf("%s: revenue has no shard %s", what, abacus.RevenueShard(k))
		}
	}
}

func testAccountCreate(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	a := abacus.Account{
		ID: accountID(1), Kind: abacus.KindUser, Name: "Ada Lovelace ✓", Currency: "USD",
		Overdraft: abacus.Overdraft{Limit: micros(5_000_000)}, CreatedAt: at(1),
	}
	got, created, err := st.AccountCreate(ctx, a)
	if err != nil || !created {
		t.Fatalf("AccountCreate: %v, created %v", err, created)
	}
	same(t, "AccountCreate", got, a)
	stored, err := st.AccountGet(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "AccountGet", stored, a)

	ws := mustWallets(t, st, a.ID)
	if len(ws) != 3 {
		t.Fatalf("Wallets: %+v, want cash, bonus and voucher", ws)
	}
	want := map[abacus.Bucket]abacus.Wallet{
		abacus.BucketCash:    {Account: a.ID, Bucket: abacus.BucketCash, Currency: "USD", Floor: micros(-5_000_000), HasFloor: true},
		abacus.BucketBonus:   {Account: a.ID, Bucket: abacus.BucketBonus, Currency: "USD", HasFloor: true},
		abacus.BucketVoucher: {Account: a.ID, Bucket: abacus.BucketVoucher, Currency: "USD", HasFloor: true},
	}
	for _, w := range ws {
		wt, ok := want[w.Bucket]
		if !ok {
			t.Fatalf("unexpected wallet %+v", w)
		}
		delete(want, w.Bucket)
		wt.ID = w.ID
		same(t, "wallet "+string(w.Bucket), w, wt)
	}
	sys := mustWallets(t, st, systemIDs()...)
	checkSystemWallets(t, "system wallets after AccountCreate", sys, "USD")

	// A second create with the same id changes nothing and returns the
	// stored account.
	again := abacus.Account{
		ID: a.ID, Kind: abacus.KindOrg, Name: "someone else", Currency: "EUR",
		Overdraft: abacus.Overdraft{Unlimited: true}, CreatedAt: at(99),
	}
	got, created, err = st.AccountCreate(ctx, again)
	if err != nil || created {
		t.Fatalf("second AccountCreate: %v, created %v; want the stored account and false", err, created)
	}
	same(t, "second AccountCreate", got, a)
	same(t, "wallets after a second AccountCreate", mustWallets(t, st, a.ID), ws)
	same(t, "system wallets after a second AccountCreate", mustWallets(t, st, systemIDs()...), sys)

	// Another account in the same currency has wallets of its own and
	// shares the system wallets.
	b := mustAccount(t, st, 2, "USD")
	for _, w := range ws {
		if w.ID == b.cash() || w.ID == b.bonus() || w.ID == b.voucher() {
			t.Fatalf("accounts %s and %s share wallet %d", a.ID, b.ID, w.ID)
		}
	}
	same(t, "system wallets after a second account", mustWallets(t, st, systemIDs()...), sys)

	// A new currency gets its own system wallets.
	mustAccount(t, st, 3, "EUR")
	sys2 := mustWallets(t, st, systemIDs()...)
	same(t, "USD system wallets after an EUR account", byCurrency(sys2, "USD"), sys)
	checkSystemWallets(t, "EUR system wallets", byCurrency(sys2, "EUR"), "EUR")
}

func testAccountCreateFloors(t *testing.T, st abacus.Store) {
	cases := []struct {
		kind      abacus.AccountKind
		overdraft abacus.Overdraft
		cashFloor abacus.Amount
		hasFloor  bool
	}{
		{abacus.KindUser, abacus.Overdraft{}, micros(0), true},
		{abacus.KindOrg, abacus.Overdraft{Limit: micros(12_500_001)}, micros(-12_500_001), true},
		{abacus.KindUser, abacus.Overdraft{Unlimited: true}, micros(0), false},
	}
	for i, tc := range cases {
		a := abacus.Account{ID: accountID(10 + i), Kind: tc.kind, Name: "n", Currency: "JPY", Overdraft: tc.overdraft, CreatedAt: at(i)}
		c := mustAccountWith(t, st, a)
		same(t, "account", c.Account, a)
		cash := c.w[abacus.BucketCash]
		if cash.HasFloor != tc.hasFloor || cash.Floor != tc.cashFloor {
			t.Errorf("overdraft %+v: cash floor %s (has %v), want %s (has %v)", tc.overdraft, cash.Floor, cash.HasFloor, tc.cashFloor, tc.hasFloor)
		}
		for _, b := range []abacus.Bucket{abacus.BucketBonus, abacus.BucketVoucher} {
			if w := c.w[b]; !w.HasFloor || !w.Floor.IsZero() {
				t.Errorf("overdraft %+v: %s floor %s (has %v), want 0", tc.overdraft, b, w.Floor, w.HasFloor)
			}
		}
	}
}

// testAccountsCreate: many accounts at once, some there already, each
// new one with the wallets AccountCreate would give it; Accounts reads
// those that exist, in id order.
func testAccountsCreate(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	old := mustAccount(t, st, 5, "USD")
	var accounts []abacus.Account
	for _, i := range []int{9, 5, 7, 6} { // out of order, one there already
		accounts = append(accounts, abacus.Account{ID: accountID(i), Kind: abacus.KindUser, Name: "n", Currency: "EUR",
			Overdraft: abacus.Overdraft{Limit: micros(int64(i))}, CreatedAt: at(i)})
	}
	accounts[3].Overdraft = abacus.Overdraft{Unlimited: true}
	created, err := st.AccountsCreate(ctx, accounts)
	if want := []abacus.AccountID{accountID(6), accountID(7), accountID(9)}; err != nil || !slices.Equal(created, want) {
		t.Fatalf("AccountsCreate: %v %v, want %v", created, err, want)
	}
	if again, err := st.AccountsCreate(ctx, accounts); err != nil || len(again) != 0 {
		t.Fatalf("AccountsCreate again: %v %v, want nothing created", again, err)
	}
	got, err := st.Accounts(ctx, []abacus.AccountID{accountID(9), accountID(5), accountID(8), accountID(7), accountID(6), accountID(9)})
	if err != nil {
		t.Fatal(err)
	}
	want := []abacus.Account{old.Account, accounts[3], accounts[2], accounts[0]}
	same(t, "Accounts", got, want)
	for _, a := range want[1:] {
		ws := mustWallets(t, st, a.ID)
		if len(ws) != 3 {
			t.Fatalf("%s has wallets %+v, want cash, bonus and voucher", a.ID, ws)
		}
		for _, w := range ws {
			floor, has := a.Overdraft.Floor(w.Bucket)
			if w.Currency != "EUR" || w.HasFloor != has || w.Floor != floor {
				t.Errorf("%s wallet %+v, want EUR with floor %s (%v)", a.ID, w, floor, has)
			}
		}
	}
	checkSystemWallets(t, "EUR system wallets", byCurrency(mustWallets(t, st, systemIDs()...), "EUR"), "EUR")
	if got, err := st.Accounts(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Accounts(nil): %v %v", got, err)
	}
}

func testAccountGet(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	for _, id := range []abacus.AccountID{accountID(1), "not-a-uuid", ""} {
		_, err := st.AccountGet(ctx, id)
		wantCode(t, "AccountGet of a missing account", err, abacus.CodeNotFound)
	}
	// The system accounts exist from the start.
	for name, id := range abacus.SystemAccounts {
		a, err := st.AccountGet(ctx, id)
		if err != nil {
			t.Fatalf("AccountGet(%s): %v", name, err)
		}
		if a.ID != id || a.Kind != abacus.KindSystem || a.Name != string(name) || a.Currency != "" {
			t.Errorf("system account %s: %+v", name, a)
		}
	}
}

func testWallets(t *testing.T, st abacus.Store) {
	a := mustAccount(t, st, 1, "USD")
	b := mustAccount(t, st, 2, "EUR")
	var want []abacus.Wallet
	for _, c := range []customer{a, b} {
		for _, w := range c.w {
			want = append(want, w)
		}
	}
	slices.SortFunc(want, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	same(t, "Wallets of two accounts, in id order", mustWallets(t, st, b.ID, a.ID), want)
	same(t, "Wallets with a repeated account", mustWallets(t, st, a.ID, a.ID), mustWallets(t, st, a.ID))
	same(t, "Wallets of a missing account", mustWallets(t, st, accountID(3)), []abacus.Wallet(nil))
	same(t, "Wallets of no accounts", mustWallets(t, st), []abacus.Wallet(nil))

	rev := mustWallets(t, st, abacus.SystemRevenue.ID())
	if len(rev) != 2*abacus.RevenueShards || !slices.IsSortedFunc(rev, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) }) {
		t.Fatalf("revenue wallets %+v, want its shards in USD and in EUR, in id order", rev)
	}
	for _, w := range rev {
		if w.HasFloor || (w.Currency != "USD" && w.Currency != "EUR") {
			t.Errorf("revenue wallet %+v", w)
		}
	}
}

// testWalletsMany reads and locks more wallets than a store may put in one
// statement, in shuffled order.
func testWalletsMany(t *testing.T, st abacus.Store) {
	const n = 180 // three wallets each: more than 500 in all
	var ids []abacus.AccountID
	var want []abacus.Wallet
	for i := range n {
		c := mustAccount(t, st, 100+i, "USD")
		ids = append(ids, c.ID)
		for _, w := range c.w {
			want = append(want, w)
		}
	}
	slices.SortFunc(want, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	rnd := rand.New(rand.NewPCG(1, 2))
	rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	same(t, "Wallets of many accounts", mustWallets(t, st, ids...), want)

	wids := make([]int64, len(want))
	for i, w := range want {
		wids[i] = w.ID
	}
	rnd.Shuffle(len(wids), func(i, j int) { wids[i], wids[j] = wids[j], wids[i] })
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Lock: wids, Read: wids})
		if err != nil {
			return err
		}
		same(t, "locking and reading many wallets", read.Wallets, want)
		return nil
	})
}

func testSystemWalletsEnsure(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	eur, err := st.SystemWalletsEnsure(ctx, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	checkSystemWallets(t, "SystemWalletsEnsure(EUR)", eur, "EUR")
	if !slices.IsSortedFunc(eur, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) }) {
		t.Errorf("SystemWalletsEnsure(EUR) not in id order: %+v", eur)
	}
	again, err := st.SystemWalletsEnsure(ctx, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "SystemWalletsEnsure(EUR) again", again, eur)

	jpy, err := st.SystemWalletsEnsure(ctx, "JPY")
	if err != nil {
		t.Fatal(err)
	}
	checkSystemWallets(t, "SystemWalletsEnsure(JPY)", jpy, "JPY")
	for _, w := range jpy {
		if slices.ContainsFunc(eur, func(e abacus.Wallet) bool { return e.ID == w.ID }) {
			t.Fatalf("JPY and EUR share wallet %d", w.ID)
		}
	}
	all := mustWallets(t, st, systemIDs()...)
	same(t, "EUR system wallets", byCurrency(all, "EUR"), eur)
	same(t, "JPY system wallets", byCurrency(all, "JPY"), jpy)
	if len(all) != 2*systemWalletsPerCurrency {
		t.Fatalf("system wallets %+v, want EUR and JPY only", all)
	}

	// The wallets AccountCreate made are the ones SystemWalletsEnsure returns.
	mustAccount(t, st, 1, "GBP")
	gbp := byCurrency(mustWallets(t, st, systemIDs()...), "GBP")
	got, err := st.SystemWalletsEnsure(ctx, "GBP")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "SystemWalletsEnsure after AccountCreate", got, gbp)
	checkSystemWallets(t, "GBP", got, "GBP")
}
