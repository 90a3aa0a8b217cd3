package ledger

import (
	"context"
	"slices"
	"sync"

	"github.com/abacus-billing/abacus"
)

// customerWallets is what the engine needs to know of a customer account
// before it joins a batch. None of it ever changes, so caching it in one
// process is safe however many processes share the database.
type customerWallets struct {
	currency abacus.Currency
	ids      map[abacus.Bucket]int64
	lead     int64 // the wallet whose lock stands for the whole account
	// lowBalance is the account's low-balance threshold, if it has one.
	// An account's attributes do not change once created, so this caches.
	lowBalance *abacus.Amount
}

// walletCache maps accounts to wallet ids. It is bounded: when full, it
// forgets an arbitrary tenth of its accounts.
type walletCache struct {
	store abacus.Store
	max   int

	mu        sync.RWMutex
	customers map[abacus.AccountID]*customerWallets
	system    map[abacus.Currency]map[systemKey]int64
}

func newWalletCache(store abacus.Store, max int) *walletCache {
	return &walletCache{
		store:     store,
		max:       max,
		customers: map[abacus.AccountID]*customerWallets{},
		system:    map[abacus.Currency]map[systemKey]int64{},
	}
}

// customer returns the wallets of a customer account, or not_found.
func (c *walletCache) customer(ctx context.Context, id abacus.AccountID) (*customerWallets, error) {
	c.mu.RLock()
	cw := c.customers[id]
	c.mu.RUnlock()
	if cw != nil {
		return cw, nil
	}
	acct, err := c.store.AccountGet(ctx, id)
	if err != nil {
		return nil, abacus.WithField(err, "account")
	}
	if acct.Kind == abacus.KindSystem {
		return nil, abacus.Errorf(abacus.CodeInvalid, "account", "%s is a system account; name a customer account", id)
	}
	ws, err := c.store.Wallets(ctx, []abacus.AccountID{id})
	if err != nil {
		return nil, err
	}
	cw = walletsOf(acct, ws)
	c.put(map[abacus.AccountID]*customerWallets{id: cw})
	return cw, nil
}

// holds says whether the cache knows the account.
func (c *walletCache) holds(id abacus.AccountID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.customers[id] != nil
}

// load reads the customer accounts among ids into the cache, two queries
// for every 500 (customer takes two for each one), and returns those that
// do not exist.
func (c *walletCache) load(ctx context.Context, ids []abacus.AccountID) (missing map[abacus.AccountID]bool, err error) {
	missing = map[abacus.AccountID]bool{}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	for chunk := range slices.Chunk(ids, 500) {
		accts, err := c.store.Accounts(ctx, chunk)
		if err != nil {
			return nil, err
		}
		ws, err := c.store.Wallets(ctx, chunk)
		if err != nil {
			return nil, err
		}
		byAccount := map[abacus.AccountID][]abacus.Wallet{}
		for _, w := range ws {
			byAccount[w.Account] = append(byAccount[w.Account], w)
		}
		for _, id := range chunk {
			missing[id] = true
		}
		found := make(map[abacus.AccountID]*customerWallets, len(accts))
		for _, a := range accts {
			delete(missing, a.ID)
			// A system account is left to customer, which refuses it.
			if a.Kind != abacus.KindSystem {
				found[a.ID] = walletsOf(a, byAccount[a.ID])
			}
		}
		c.put(found)
	}
	return missing, nil
}

// walletsOf is what the cache keeps of a customer account.
func walletsOf(acct abacus.Account, ws []abacus.Wallet) *customerWallets {
	cw := &customerWallets{currency: acct.Currency, ids: map[abacus.Bucket]int64{}, lowBalance: acct.LowBalance}
	for _, w := range ws {
		cw.ids[w.Bucket] = w.ID
		if cw.lead == 0 || w.ID < cw.lead {
			cw.lead = w.ID
		}
	}
	return cw
}

// put caches accounts, first forgetting an arbitrary tenth of those it
// holds when it is full.
func (c *walletCache) put(accounts map[abacus.AccountID]*customerWallets) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cw := range accounts {
		if len(c.customers) >= c.max {
			n := 0
			for k := range c.customers {
				delete(c.customers, k)
				if n++; n >= c.max/10+1 {
					break
				}
			}
		}
		c.customers[id] = cw
	}
}

type systemKey struct {
	account abacus.AccountID
	bucket  abacus.Bucket
}

// systemWallet returns the id of a system account's main wallet in a
// currency, creating the system wallets of that currency if missing.
func (c *walletCache) systemWallet(ctx context.Context, id abacus.AccountID, cur abacus.Currency) (int64, error) {
	return c.systemBucket(ctx, id, abacus.BucketMain, cur)
}

// systemBucket is systemWallet for any of a system account's buckets
// (revenue has shards).
func (c *walletCache) systemBucket(ctx context.Context, id abacus.AccountID, b abacus.Bucket, cur abacus.Currency) (int64, error) {
	c.mu.RLock()
	wid, ok := c.system[cur][systemKey{id, b}]
	c.mu.RUnlock()
	if ok {
		return wid, nil
	}
	ws, err := c.store.SystemWalletsEnsure(ctx, cur)
	if err != nil {
		return 0, err
	}
	m := map[systemKey]int64{}
	for _, w := range ws {
		m[systemKey{w.Account, w.Bucket}] = w.ID
	}
	c.mu.Lock()
	c.system[cur] = m
	c.mu.Unlock()
	if wid, ok = m[systemKey{id, b}]; !ok {
		return 0, abacus.Errorf(abacus.CodeInternal, "", "system wallet %s of %s in %s is missing", b, id, cur)
	}
	return wid, nil
}
