-- Accounts, wallets, the double-entry journal, holds, idempotency keys and
-- API keys. Amounts are INTEGER micro-units (10^-6 of a currency unit);
-- times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('user', 'org', 'system')),
    name                TEXT NOT NULL,
    currency            TEXT NOT NULL, -- '' for system accounts: they hold every currency
    overdraft_limit     INTEGER NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    overdraft_unlimited INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL
);

-- One row per account, bucket and currency. balance is the fold of the
-- wallet's postings, version their count; both change once per batch.
CREATE TABLE wallets (
    id         INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    bucket     TEXT NOT NULL,
    currency   TEXT NOT NULL,
    balance    INTEGER NOT NULL DEFAULT 0,
    held       INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    version    INTEGER NOT NULL DEFAULT 0,
    floor      INTEGER, -- lowest balance - held allowed; NULL: no floor
    UNIQUE (account_id, bucket, currency)
);

-- Transaction and hold ids are drawn from here, as PostgreSQL draws them
-- from its sequences transaction_ids and hold_ids: an id is never handed
-- out twice, even when a batch reserves ids it does not use.
CREATE TABLE sequences (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sequences (name, last) VALUES ('transaction_ids', 0), ('hold_ids', 0);

CREATE TABLE transactions (
    id         INTEGER PRIMARY KEY,
    type       TEXT NOT NULL,
    memo       TEXT NOT NULL DEFAULT '',
    reverts    INTEGER REFERENCES transactions (id),
    hold_id    INTEGER,
    created_at INTEGER NOT NULL
);
-- Partial, so the many transactions without a revert or hold add no entry.
CREATE UNIQUE INDEX transactions_reverts_key ON transactions (reverts) WHERE reverts IS NOT NULL; -- reverted at most once
CREATE UNIQUE INDEX transactions_hold_id_key ON transactions (hold_id) WHERE hold_id IS NOT NULL; -- a hold is posted at most once

-- Append-only. A transaction touches a wallet at most once.
-- No foreign keys, as on PostgreSQL: the engine writes a posting only
-- beside its transaction and wallet, and abacus verify checks both exist.
CREATE TABLE postings (
    wallet_id     INTEGER NOT NULL,
    tx_id         INTEGER NOT NULL,
    amount        INTEGER NOT NULL CHECK (amount <> 0),
    balance_after INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    PRIMARY KEY (wallet_id, tx_id)
) WITHOUT ROWID;
CREATE INDEX postings_tx ON postings (tx_id);

CREATE TABLE holds (
    id                INTEGER PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    currency          TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    status            TEXT NOT NULL CHECK (status IN ('open', 'posted', 'voided', 'expired')),
    memo              TEXT NOT NULL DEFAULT '',
    counter_wallet_id INTEGER NOT NULL REFERENCES wallets (id),
    expires_at        INTEGER,
    created_at        INTEGER NOT NULL,
    resolved_at       INTEGER,
    posted_amount     INTEGER NOT NULL DEFAULT 0,
    tx_id             INTEGER REFERENCES transactions (id)
);
CREATE INDEX holds_due ON holds (expires_at, id) WHERE status = 'open' AND expires_at IS NOT NULL;
CREATE INDEX holds_account ON holds (account_id, id);

CREATE TABLE hold_legs (
    hold_id   INTEGER NOT NULL REFERENCES holds (id),
    seq       INTEGER NOT NULL,
    wallet_id INTEGER NOT NULL REFERENCES wallets (id),
    amount    INTEGER NOT NULL CHECK (amount > 0),
    PRIMARY KEY (hold_id, seq)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash BLOB NOT NULL,
    tx_id        INTEGER REFERENCES transactions (id),
    hold_id      INTEGER REFERENCES holds (id),
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'service', 'user')),
    account_id TEXT,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

INSERT INTO accounts (id, kind, name, currency, created_at) VALUES
    ('00000000-0000-0000-0000-000000000001', 'system', 'revenue', '', 0),
    ('00000000-0000-0000-0000-000000000002', 'system', 'payment_clearing', '', 0),
    ('00000000-0000-0000-0000-000000000003', 'system', 'promotions', '', 0),
    ('00000000-0000-0000-0000-000000000004', 'system', 'refunds', '', 0),
    ('00000000-0000-0000-0000-000000000005', 'system', 'adjustments', '', 0);
