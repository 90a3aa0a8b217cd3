package ledger_test

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/store/postgres"
)

// TestModel runs random sequences of operations against the engine and
// against an exact oracle (model_oracle_test.go), and after every step
// compares every wallet's balance, held amount and version; each
// operation's outcome (accepted, or the exact error code) and postings are
// compared as it is answered. Each check starts from an empty ledger (a
// new SQLite file, or the test's PostgreSQL schema emptied, which is much
// quicker than a new schema), so that the invariant checker at its end
// sees only what the check did and a failure shrinks to a minimal sequence.
func TestModel(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		first := open(t)
		rapid.Check(t, func(rt *rapid.T) {
			st := first
			if pg, ok := first.(*postgres.Store); ok {
				emptyPostgres(rt, pg)
			} else {
				st = open(t)
				defer st.Close()
			}
			m := newModel(rt, st)
			defer m.e.Close()
			rt.Repeat(map[string]func(*rapid.T){
				"":              m.check,
				"createAccount": m.createAccount,
				"credit":        m.credit,
				"credit2":       m.credit, // twice as likely: the ledger needs money to move
				"charge":        m.charge,
				"adjust":        m.adjust,
				"transfer":      m.transfer,
				"holdCreate":    m.holdCreate,
				"holdCreate2":   m.holdCreate,
				"holdPost":      m.holdPost,
				"holdPost2":     m.holdPost,
				"holdVoid":      m.holdVoid,
				"holdExpire":    m.holdExpire,
				"sweep":         m.sweep,
				"whale":         m.whale,
				"revert":        m.revert,
				"replay":        m.replay,
				"conflict":      m.conflict,
				"badRequest":    m.badRequest,
				"advanceClock":  m.advanceClock,
				"advanceClock2": m.advanceClock,
			})
			m.finish(rt)
		})
	})
}

type model struct {
	st       abacus.Store
	e        *ledger.Engine
	clock    *fakeClock
	prefix   string
	nkeys    int
	accounts []*mAccount
	system   map[abacus.SystemAccount]*mWallet
	wallets  []*mWallet // every wallet the model follows
	txs      []*mTx
	holds    []*mHold
	used     map[string]usedKey
	usedKeys []string // in the order they were first used
	rejected []string // keys only rejected requests have carried
}

type usedKey struct {
	op  abacus.Op
	res abacus.Result
}

// want is what the oracle expects of one request.
type want struct {
	code    abacus.ErrorCode // empty: accepted
	txType  abacus.TxType    // with a transaction: its type
	tx      []mPosting       // its postings
	reverts *mTx
	hold    *mHold // the hold created or resolved
	created bool
}

const missingID = 1 << 40 // no transaction or hold has this id

func newModel(t *rapid.T, st abacus.Store) *model {
	m := &model{st: st, clock: newFakeClock(), prefix: newKeyPrefix(), used: map[string]usedKey{}}
	m.e = ledger.New(st, ledger.Config{Now: m.clock.Now})
	// Three accounts to start with: no overdraft, a limit, and unlimited.
	m.addAccount(t, abacus.Overdraft{})
	m.addAccount(t, abacus.Overdraft{Limit: abacus.AmountFromMicros(rapid.Int64Range(0, 20).Draw(t, "limit") * 1_000_000)})
	m.addAccount(t, abacus.Overdraft{Unlimited: true})
	ws, err := st.Wallets(context.Background(), systemIDs())
	if err != nil {
		t.Fatalf("%v", err)
	}
	m.system = map[abacus.SystemAccount]*mWallet{}
	for _, w := range ws {
		name, _ := abacus.SystemAccountByID(w.Account)
		if w.Currency != "USD" || w.Bucket != abacus.BucketMain { // revenue's other shards take only usage
			continue
		}
		mw := &mWallet{id: w.ID, name: string(name), version: w.Version}
		mw.bal.SetInt64(w.Balance.Micros())
		m.system[name] = mw
		m.wallets = append(m.wallets, mw)
	}
	for _, a := range m.accounts {
		m.fund(t, a)
	}
	return m
}

// fund credits each bucket of a new account, through the engine.
func (m *model) fund(t *rapid.T, a *mAccount) {
	for _, b := range abacus.CustomerBuckets {
		typ := abacus.TxGrant
		if b == abacus.BucketCash {
			typ = abacus.TxTopup
		}
		if x := rapid.Int64Range(0, 5000).Draw(t, "fund"); x > 0 {
			m.move(t, a, typ, b, big.NewInt(x*10_000))
		}
	}
}

func systemIDs() []abacus.AccountID {
	var ids []abacus.AccountID
	for _, id := range abacus.SystemAccounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (m *model) addAccount(t *rapid.T, od abacus.Overdraft) {
	id := createAccount(t, m.st, od)
	ws, err := m.st.Wallets(context.Background(), []abacus.AccountID{id})
	if err != nil {
		t.Fatalf("%v", err)
	}
	a := &mAccount{id: id, wallets: map[abacus.Bucket]*mWallet{}}
	for _, w := range ws {
		mw := &mWallet{id: w.ID, name: fmt.Sprintf("account %d %s", len(m.accounts), w.Bucket), floor: new(big.Int)}
		if w.Bucket == abacus.BucketCash {
			mw.floor = neg(bigOf(od.Limit))
			if od.Unlimited {
				mw.floor = nil
			}
		}
		a.wallets[w.Bucket] = mw
		m.wallets = append(m.wallets, mw)
	}
	if len(a.wallets) != 3 {
		t.Fatalf("account %s has wallets %v", id, ws)
	}
	m.accounts = append(m.accounts, a)
}

// key returns a fresh idempotency key, or sometimes one that so far only
// rejected requests carried: those must still be unused.
func (m *model) key(t *rapid.T) string {
	if len(m.rejected) > 0 && rapid.IntRange(0, 4).Draw(t, "reuseRejectedKey") == 0 {
		return m.rejected[rapid.IntRange(0, len(m.rejected)-1).Draw(t, "rejectedKey")]
	}
	m.nkeys++
	return fmt.Sprintf("%s-%d", m.prefix, m.nkeys)
}

// do submits op under key. pre is the error the request must get before
// its key is even looked at (validation, unknown account or transaction);
// otherwise a used key must replay or conflict, and only a fresh key lets
// eval apply the oracle's rules.
func (m *model) do(t *rapid.T, key string, op abacus.Op, pre abacus.ErrorCode, eval func() want) {
	t.Helper()
	u, used := m.used[key]
	var w want
	switch {
	case pre != "":
		w.code = pre
	case used && reflect.DeepEqual(u.op, op):
		res, err := m.e.Submit(context.Background(), key, op)
		if err != nil || !res.Replayed {
			t.Fatalf("replay of %q: %+v, %v", key, res, err)
		}
		orig := u.res
		orig.Replayed = true
		if !reflect.DeepEqual(res, orig) {
			t.Fatalf("replay of %q answered\n%s\nbut the first answer was\n%s", key, dump(res), dump(u.res))
		}
		return
	case used:
		w.code = abacus.CodeIdempotencyConflict
	default:
		w = eval()
	}
	res, err := m.e.Submit(context.Background(), key, op)
	if w.code != "" {
		// Where an exact result would not fit an amount, the engine
		// may notice that first or a floor first.
		got := abacus.ErrorCodeOf(err)
		if got != w.code && (w.code != abacus.CodeOverflow || got != abacus.CodeInsufficientFunds) {
			t.Fatalf("%T %+v: want error %s, got %+v, %v", op, op, w.code, res, err)
		}
		if !used && !slices.Contains(m.rejected, key) {
			m.rejected = append(m.rejected, key)
		}
		return
	}
	if err != nil || res.Replayed {
		t.Fatalf("%T %+v: want it accepted, got %+v, %v", op, op, res, err)
	}
	if w.txType != "" {
		m.checkTx(t, res.Tx, w)
	}
	if w.hold != nil {
		m.checkHold(t, res.Hold, w)
	}
	m.used[key] = usedKey{op, res}
	m.usedKeys = append(m.usedKeys, key)
	m.rejected = slices.DeleteFunc(m.rejected, func(k string) bool { return k == key })
}

func (m *model) checkTx(t *rapid.T, tx *abacus.Transaction, w want) {
	t.Helper()
	if tx == nil || tx.Type != w.txType || len(tx.Postings) != len(w.tx) {
		t.Fatalf("want a %s transaction with %d postings, got %s", w.txType, len(w.tx), dump(tx))
	}
	for i, p := range tx.Postings {
		e := w.tx[i]
		if p.WalletID != e.w.id || p.Amount.Micros() != e.amount.Int64() || p.BalanceAfter.Micros() != e.after.Int64() || p.Version != e.version {
			t.Fatalf("posting %d: want %s %s (balance after %s, version %d), got %s", i, e.w.name, e.amount, e.after, e.version, dump(tx))
		}
	}
	var reverts int64
	if w.reverts != nil {
		reverts = w.reverts.id
		w.reverts.reverted = true
	}
	var holdID int64
	if w.txType == abacus.TxHoldPost {
		holdID = w.hold.id
	}
	if tx.Reverts != reverts || tx.HoldID != holdID {
		t.Fatalf("want reverts=%d hold=%d, got %s", reverts, holdID, dump(tx))
	}
	m.txs = append(m.txs, &mTx{id: tx.ID, isRevert: w.txType == abacus.TxRevert, legs: w.tx})
}

func (m *model) checkHold(t *rapid.T, h *abacus.Hold, w want) {
	t.Helper()
	if h == nil {
		t.Fatalf("want a hold in the result")
	}
	e := w.hold
	if w.created {
		e.id = h.ID
		m.holds = append(m.holds, e)
		if len(h.Legs) != len(e.legs) || h.Amount.Micros() != e.amount.Int64() || !h.ExpiresAt.Equal(e.expires) {
			t.Fatalf("want a hold of %s in %d legs expiring %v, got %s", e.amount, len(e.legs), e.expires, dump(h))
		}
		for i, l := range h.Legs {
			if l.WalletID != e.legs[i].w.id || l.Amount.Micros() != e.legs[i].amount.Int64() {
				t.Fatalf("hold leg %d: want %s %s, got %s", i, e.legs[i].w.name, e.legs[i].amount, dump(h))
			}
		}
	}
	if h.ID != e.id || h.Status != e.status {
		t.Fatalf("want hold %d %s, got %s", e.id, e.status, dump(h))
	}
	if e.status == abacus.HoldPosted && h.PostedAmount.Micros() != e.posted.Int64() {
		t.Fatalf("want hold %d posted %s, got %s", e.id, e.posted, dump(h))
	}
}

// check compares every wallet the model follows with the store.
func (m *model) check(t *rapid.T) {
	ids := systemIDs()
	for _, a := range m.accounts {
		ids = append(ids, a.id)
	}
	ws, err := m.st.Wallets(context.Background(), ids)
	if err != nil {
		t.Fatalf("%v", err)
	}
	byID := map[int64]abacus.Wallet{}
	for _, w := range ws {
		byID[w.ID] = w
	}
	for _, mw := range m.wallets {
		w, ok := byID[mw.id]
		if !ok || w.Balance.Micros() != mw.bal.Int64() || w.Held.Micros() != mw.held.Int64() || w.Version != mw.version {
			t.Fatalf("%s: want balance %s held %s version %d, store has %+v", mw.name, &mw.bal, &mw.held, mw.version, w)
		}
	}
}

// finish checks every hold's final state and runs the invariant checker.
func (m *model) finish(t *rapid.T) {
	for _, e := range m.holds {
		h, err := m.st.Hold(context.Background(), e.id)
		if err != nil || h.Status != e.status {
			t.Fatalf("hold %d: want %s, store has %+v, %v", e.id, e.status, h, err)
		}
	}
	mustVerify(t, m.st)
}

func dump(v any) string { return fmt.Sprintf("%+v", v) }
