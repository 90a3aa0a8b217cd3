package ledger_test

import (
	"context"
	"math"
	"math/big"
	"time"

	"pgregory.net/rapid"

	"github.com/abacus-billing/abacus"
)

// The actions of the model test. Each draws a request, states what the
// oracle expects of it, and hands both to model.do.

var (
	anyBucket = []abacus.Bucket{"", abacus.BucketCash, abacus.BucketBonus, abacus.BucketVoucher}
	counters  = map[abacus.TxType]abacus.SystemAccount{
		abacus.TxGrant: abacus.SystemPromotions, abacus.TxTopup: abacus.SystemPaymentClearing,
		abacus.TxCharge: abacus.SystemRevenue, abacus.TxRefund: abacus.SystemRefunds, abacus.TxAdjust: abacus.SystemAdjustments,
	}
)

func amountOf(x *big.Int) abacus.Amount {
	if !inRange(x) {
		panic("model: amount " + x.String() + " does not fit")
	}
	return abacus.AmountFromMicros(x.Int64())
}

func (m *model) account(t *rapid.T) *mAccount {
	return m.accounts[rapid.IntRange(0, len(m.accounts)-1).Draw(t, "account")]
}

// amount draws an amount to debit from a's bucket (or across its buckets
// when bucket is empty): usually cents, sometimes odd micro-units, and
// sometimes exactly what fits or one micro-unit more.
func (m *model) amount(t *rapid.T, a *mAccount, bucket abacus.Bucket) *big.Int {
	switch rapid.IntRange(0, 9).Draw(t, "amountKind") {
	case 0:
		if most, ok := fits(a, bucket); ok && most.Sign() > 0 {
			most.Add(most, big.NewInt(rapid.Int64Range(0, 1).Draw(t, "overBy")))
			if inRange(most) {
				return most
			}
		}
	case 1:
		return big.NewInt(rapid.Int64Range(1, 999_999).Draw(t, "micros"))
	}
	return big.NewInt(rapid.Int64Range(1, 4000).Draw(t, "cents") * 10_000)
}

// fits returns the most a debit can take: from one bucket down to its
// floor, or across the buckets in draw order. ok is false without a floor.
func fits(a *mAccount, bucket abacus.Bucket) (*big.Int, bool) {
	if bucket == "" {
		return maxCharge(a)
	}
	w := a.wallets[bucket]
	if w.floor == nil {
		return nil, false
	}
	return new(big.Int).Sub(w.avail(), w.floor), true
}

func (m *model) createAccount(t *rapid.T) {
	if len(m.accounts) >= 6 {
		t.Skip("enough accounts")
	}
	var od abacus.Overdraft
	switch rapid.IntRange(0, 2).Draw(t, "overdraft") {
	case 1:
		od.Limit = abacus.AmountFromMicros(rapid.Int64Range(1, 30).Draw(t, "limit") * 1_000_000)
	case 2:
		od.Unlimited = true
	}
	m.addAccount(t, od)
	m.fund(t, m.accounts[len(m.accounts)-1])
}

func (m *model) credit(t *rapid.T) {
	a := m.account(t)
	typ := rapid.SampledFrom([]abacus.TxType{abacus.TxTopup, abacus.TxGrant, abacus.TxRefund}).Draw(t, "type")
	m.move(t, a, typ, rapid.SampledFrom(anyBucket).Draw(t, "bucket"), m.amount(t, a, ""))
}

func (m *model) charge(t *rapid.T) {
	a := m.account(t)
	bucket := rapid.SampledFrom(anyBucket).Draw(t, "bucket")
	m.move(t, a, abacus.TxCharge, bucket, m.amount(t, a, bucket))
}

func (m *model) adjust(t *rapid.T) {
	a := m.account(t)
	bucket := rapid.SampledFrom(anyBucket).Draw(t, "bucket")
	debit := bucket
	if debit == "" {
		debit = abacus.BucketCash
	}
	x := m.amount(t, a, debit)
	if rapid.Bool().Draw(t, "negative") {
		x = neg(x)
	}
	m.move(t, a, abacus.TxAdjust, bucket, x)
}

func (m *model) move(t *rapid.T, a *mAccount, typ abacus.TxType, bucket abacus.Bucket, x *big.Int) {
	op := &abacus.Move{Type: typ, Account: a.id, Currency: "USD", Amount: amountOf(x), Bucket: bucket}
	m.do(t, m.key(t), op, "", func() want {
		counter := m.system[counters[typ]]
		var legs []mLeg
		switch {
		case typ == abacus.TxCharge && bucket == "":
			parts, code := draw(a, x)
			if code != "" {
				return want{code: code}
			}
			for _, p := range parts {
				legs = append(legs, mLeg{w: p.w, amount: neg(p.amount)})
			}
			legs = append(legs, mLeg{w: counter, amount: x})
		case typ == abacus.TxCharge:
			legs = []mLeg{{w: a.wallets[bucket], amount: neg(x)}, {w: counter, amount: x}}
		default:
			credit := bucket
			switch {
			case credit == "" && typ == abacus.TxGrant:
				credit = abacus.BucketBonus
			case credit == "":
				credit = abacus.BucketCash
			}
			legs = []mLeg{{w: a.wallets[credit], amount: x}, {w: counter, amount: neg(x)}}
		}
		ps, code := post(legs)
		if code != "" {
			return want{code: code}
		}
		return want{txType: typ, tx: ps}
	})
}

// transfer moves money between customer buckets and system wallets in two
// or three explicit postings.
func (m *model) transfer(t *rapid.T) {
	type target struct {
		spec abacus.PostingSpec
		w    *mWallet
	}
	var all []target
	for _, a := range m.accounts {
		for _, b := range abacus.CustomerBuckets {
			all = append(all, target{abacus.PostingSpec{Account: a.id, Bucket: b, Currency: "USD"}, a.wallets[b]})
		}
	}
	for _, s := range []abacus.SystemAccount{abacus.SystemRevenue, abacus.SystemAdjustments} {
		all = append(all, target{abacus.PostingSpec{Account: s.ID(), Bucket: abacus.BucketMain, Currency: "USD"}, m.system[s]})
	}
	x := big.NewInt(rapid.Int64Range(2, 3000).Draw(t, "cents") * 10_000)
	amounts := []*big.Int{neg(x), x}
	if rapid.Bool().Draw(t, "threeLegs") {
		y := big.NewInt(rapid.Int64Range(1, x.Int64()-1).Draw(t, "split"))
		amounts = []*big.Int{neg(x), y, new(big.Int).Sub(x, y)}
	}
	op := &abacus.Transfer{}
	var legs []mLeg
	seen := map[*mWallet]bool{}
	pre := abacus.ErrorCode("")
	for i, amt := range amounts {
		tg := all[rapid.IntRange(0, len(all)-1).Draw(t, "leg")]
		if seen[tg.w] {
			pre = abacus.CodeInvalid // the same wallet twice
		}
		seen[tg.w] = true
		tg.spec.Amount = amountOf(amt)
		op.Postings = append(op.Postings, tg.spec)
		legs = append(legs, mLeg{w: tg.w, amount: amounts[i]})
	}
	m.do(t, m.key(t), op, pre, func() want {
		ps, code := post(legs)
		if code != "" {
			return want{code: code}
		}
		return want{txType: abacus.TxTransfer, tx: ps}
	})
}

func (m *model) holdCreate(t *rapid.T) {
	a := m.account(t)
	bucket := rapid.SampledFrom(anyBucket).Draw(t, "bucket")
	x := m.amount(t, a, bucket)
	var expires time.Time
	switch rapid.IntRange(0, 9).Draw(t, "expiry") {
	case 0: // not in the future: refused
		expires = m.clock.Now().Add(-time.Duration(rapid.IntRange(0, 1).Draw(t, "expiredAgo")) * time.Second)
	case 1, 2, 3, 4:
		expires = m.clock.Now().Add(time.Duration(rapid.IntRange(1, 10).Draw(t, "expiresIn")) * time.Second)
	case 5: // finer than the ledger keeps time: it keeps whole microseconds
		expires = m.clock.Now().Add(time.Duration(rapid.IntRange(1, 2000).Draw(t, "expiresInNanos")))
	}
	op := &abacus.HoldCreate{Account: a.id, Currency: "USD", Amount: amountOf(x), Bucket: bucket, ExpiresAt: expires}
	m.do(t, m.key(t), op, "", func() want {
		expires := expires.Truncate(time.Microsecond)
		if !expires.IsZero() && !expires.After(m.clock.Now()) {
			return want{code: abacus.CodeInvalid}
		}
		var legs []mHoldLeg
		if bucket != "" {
			w := a.wallets[bucket]
			left := new(big.Int).Sub(w.avail(), x)
			switch {
			case !inRange(w.avail()) || (w.floor != nil && !inRange(left)):
				return want{code: abacus.CodeOverflow}
			case w.floor != nil && left.Cmp(w.floor) < 0:
				return want{code: abacus.CodeInsufficientFunds}
			}
			legs = []mHoldLeg{{w, new(big.Int).Set(x)}}
		} else {
			var code abacus.ErrorCode
			if legs, code = draw(a, x); code != "" {
				return want{code: code}
			}
		}
		for _, l := range legs {
			if !inRange(l.amount) || !inRange(new(big.Int).Add(&l.w.held, l.amount)) {
				return want{code: abacus.CodeOverflow}
			}
		}
		for _, l := range legs {
			l.w.held.Add(&l.w.held, l.amount)
		}
		return want{hold: &mHold{amount: x, legs: legs, status: abacus.HoldOpen, expires: expires}, created: true}
	})
}

// pickHold returns an open hold most of the time, any hold otherwise, and
// sometimes none: then the id of a hold that does not exist.
func (m *model) pickHold(t *rapid.T) (*mHold, int64) {
	var open []*mHold
	for _, h := range m.holds {
		if h.status == abacus.HoldOpen {
			open = append(open, h)
		}
	}
	from := m.holds
	if len(open) > 0 && rapid.IntRange(0, 2).Draw(t, "pickOpen") > 0 {
		from = open
	}
	if rapid.IntRange(0, 9).Draw(t, "missingHold") == 0 {
		return nil, missingID
	}
	if len(from) == 0 {
		t.Skip("no hold yet")
	}
	h := rapid.SampledFrom(from).Draw(t, "hold")
	return h, h.id
}

// expireIfDue expires an open hold whose time has come, as the engine
// does when anyone touches it.
func (m *model) expireIfDue(h *mHold) abacus.ErrorCode {
	if h.status == abacus.HoldOpen && !h.expires.IsZero() && !m.clock.Now().Before(h.expires) {
		release(h, abacus.HoldExpired)
		return abacus.CodeHoldExpired
	}
	return ""
}

func (m *model) holdPost(t *rapid.T) {
	h, id := m.pickHold(t)
	op := &abacus.HoldPost{HoldID: id}
	var x *big.Int
	if h != nil && rapid.Bool().Draw(t, "partial") {
		most := h.amount.Int64() // and one more: more than the hold is refused
		if most < math.MaxInt64 {
			most++
		}
		x = big.NewInt(rapid.Int64Range(1, most).Draw(t, "postAmount"))
		a := amountOf(x)
		op.Amount = &a
	}
	m.do(t, m.key(t), op, "", func() want {
		switch {
		case h == nil:
			return want{code: abacus.CodeNotFound}
		case m.expireIfDue(h) != "", h.status == abacus.HoldExpired:
			return want{code: abacus.CodeHoldExpired}
		case h.status != abacus.HoldOpen:
			return want{code: abacus.CodeHoldNotOpen}
		case x != nil && x.Cmp(h.amount) > 0:
			return want{code: abacus.CodeInvalid}
		}
		amount := h.amount
		if x != nil {
			amount = x
		}
		var legs []mLeg
		remaining := new(big.Int).Set(amount)
		for _, l := range h.legs {
			take := minBig(l.amount, remaining)
			remaining.Sub(remaining, take)
			legs = append(legs, mLeg{w: l.w, amount: neg(take), release: l.amount})
		}
		legs = append(legs, mLeg{w: m.system[abacus.SystemRevenue], amount: amount})
		ps, code := post(legs)
		if code != "" {
			return want{code: code}
		}
		h.status, h.posted = abacus.HoldPosted, amount
		return want{txType: abacus.TxHoldPost, tx: ps, hold: h}
	})
}

func (m *model) holdVoid(t *rapid.T) {
	h, id := m.pickHold(t)
	m.do(t, m.key(t), &abacus.HoldVoid{HoldID: id}, "", func() want {
		switch {
		case h == nil:
			return want{code: abacus.CodeNotFound}
		case m.expireIfDue(h) != "", h.status == abacus.HoldExpired:
			return want{code: abacus.CodeHoldExpired}
		case h.status != abacus.HoldOpen:
			return want{code: abacus.CodeHoldNotOpen}
		}
		release(h, abacus.HoldVoided)
		return want{hold: h}
	})
}

func (m *model) holdExpire(t *rapid.T) {
	h, id := m.pickHold(t)
	m.do(t, m.key(t), &abacus.HoldExpire{HoldID: id}, "", func() want {
		switch {
		case h == nil:
			return want{code: abacus.CodeNotFound}
		case h.status != abacus.HoldOpen:
			return want{code: abacus.CodeHoldNotOpen}
		case h.expires.IsZero() || m.clock.Now().Before(h.expires):
			return want{code: abacus.CodeInvalid}
		}
		release(h, abacus.HoldExpired)
		return want{hold: h}
	})
}

// whale moves an amount so large that a few of them overflow a balance:
// that must be refused, never wrapped.
func (m *model) whale(t *rapid.T) {
	a := m.account(t)
	typ := rapid.SampledFrom([]abacus.TxType{abacus.TxTopup, abacus.TxGrant, abacus.TxRefund, abacus.TxAdjust, abacus.TxCharge}).Draw(t, "type")
	x := big.NewInt(rapid.Int64Range(math.MaxInt64/4, math.MaxInt64).Draw(t, "whale"))
	if typ == abacus.TxAdjust && rapid.Bool().Draw(t, "negative") {
		x = neg(x)
	}
	m.move(t, a, typ, rapid.SampledFrom(anyBucket).Draw(t, "bucket"), x)
}

// sweep runs the hold expiry sweeper: every open hold whose time has come
// is released, and no other.
func (m *model) sweep(t *rapid.T) {
	want := 0
	for _, h := range m.holds {
		if m.expireIfDue(h) != "" {
			want++
		}
	}
	if n, err := m.e.ExpireDue(context.Background()); err != nil || n != want {
		t.Fatalf("the sweeper released %d holds (%v); %d were due", n, err, want)
	}
}

func (m *model) revert(t *rapid.T) {
	i := rapid.IntRange(0, len(m.txs)).Draw(t, "tx")
	if i == len(m.txs) {
		m.do(t, m.key(t), &abacus.Revert{TxID: missingID}, abacus.CodeNotFound, nil)
		return
	}
	tx := m.txs[i]
	m.do(t, m.key(t), &abacus.Revert{TxID: tx.id}, "", func() want {
		switch {
		case tx.isRevert:
			return want{code: abacus.CodeInvalid}
		case tx.reverted:
			return want{code: abacus.CodeAlreadyReverted}
		}
		var legs []mLeg
		for _, p := range tx.legs {
			legs = append(legs, mLeg{w: p.w, amount: neg(p.amount)})
		}
		ps, code := post(legs)
		if code != "" {
			return want{code: code}
		}
		return want{txType: abacus.TxRevert, tx: ps, reverts: tx}
	})
}

// replay sends an earlier request again under its key.
func (m *model) replay(t *rapid.T) {
	if len(m.usedKeys) == 0 {
		t.Skip("no key used yet")
	}
	k := rapid.SampledFrom(m.usedKeys).Draw(t, "key")
	m.do(t, k, m.used[k].op, "", nil)
}

// conflict sends another request under an earlier key.
func (m *model) conflict(t *rapid.T) {
	if len(m.usedKeys) == 0 {
		t.Skip("no key used yet")
	}
	k := rapid.SampledFrom(m.usedKeys).Draw(t, "key")
	op := &abacus.Move{Type: abacus.TxTopup, Account: m.accounts[0].id, Currency: "USD", Amount: abacus.AmountFromMicros(1), Memo: "another request"}
	m.do(t, k, op, "", nil)
}

// badRequest sends a request that fails before its key is looked at.
func (m *model) badRequest(t *rapid.T) {
	a := m.account(t)
	var op abacus.Op
	var code abacus.ErrorCode
	switch rapid.IntRange(0, 4).Draw(t, "bad") {
	case 0:
		op, code = &abacus.Move{Type: abacus.TxCharge, Account: a.id, Currency: "USD"}, abacus.CodeInvalid
	case 1:
		op, code = &abacus.Move{Type: abacus.TxTopup, Account: a.id, Currency: "EUR", Amount: abacus.AmountFromMicros(1)}, abacus.CodeCurrencyMismatch
	case 2:
		op, code = &abacus.HoldCreate{Account: newAccountID(), Currency: "USD", Amount: abacus.AmountFromMicros(1)}, abacus.CodeNotFound
	case 3:
		zero := abacus.Zero
		op, code = &abacus.HoldPost{HoldID: 1, Amount: &zero}, abacus.CodeInvalid
	case 4: // no JSON form, so no request hash: refused, not a panic
		far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		op, code = &abacus.HoldCreate{Account: a.id, Currency: "USD", Amount: abacus.AmountFromMicros(1), ExpiresAt: far}, abacus.CodeInvalid
	}
	m.do(t, m.key(t), op, code, nil)
}

func (m *model) advanceClock(t *rapid.T) {
	m.clock.Advance(time.Duration(rapid.IntRange(1, 8).Draw(t, "seconds")) * time.Second)
}
