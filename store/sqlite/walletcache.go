package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/abacus-billing/abacus"
)

// walletCache keeps the state of wallets as this store's writer last left
// them, so a batch need not read them back. It is only trusted while no
// other connection has committed: SQLite's data_version tells, and any
// change by another process or tool empties the cache. It is bounded.
type walletCache struct {
	mu      sync.Mutex
	version int64 // data_version when the cache was last known good
	m       map[int64]abacus.Wallet
	max     int
}

func newWalletCache(max int) *walletCache {
	return &walletCache{m: map[int64]abacus.Wallet{}, max: max, version: -1}
}

// validate empties the cache if another connection committed since the
// last batch. It runs inside the write transaction, so nothing can commit
// between the check and the batch's reads.
func (c *walletCache) validate(ctx context.Context, tx *sql.Tx) error {
	var v int64
	if err := tx.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.version {
		clear(c.m)
		c.version = v
	}
	return nil
}

// get returns the cached wallets among ids and the ids it lacks.
func (c *walletCache) get(ids []int64) (found []abacus.Wallet, missing []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if w, ok := c.m[id]; ok {
			found = append(found, w)
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

// put remembers wallets read or written by a committed transaction.
func (c *walletCache) put(ws []abacus.Wallet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(ws) > c.max {
		clear(c.m)
		ws = ws[:min(len(ws), c.max)] // a batch of more wallets than the bound keeps some
	}
	for _, w := range ws {
		c.m[w.ID] = w
	}
}

// forget drops everything, for a write whose outcome is unknown.
func (c *walletCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.version = -1
}
