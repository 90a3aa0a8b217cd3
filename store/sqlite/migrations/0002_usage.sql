-- Usage metering: events (the dedupe key is their id), rating counters,
-- sub-micro carries, rollups, the price book, dead letters and the outbox.

ALTER TABLE accounts ADD COLUMN low_balance_threshold INTEGER; -- micro-units; NULL: no warning

CREATE TABLE usage_events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    scene         INTEGER NOT NULL,
    value_type    INTEGER NOT NULL,
    value         INTEGER NOT NULL,
    op_uid        TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    event_time    INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    extra         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('charged', 'unpriced', 'voided')),
    currency      TEXT NOT NULL,
    charged       INTEGER NOT NULL,
    drawn_cash    INTEGER NOT NULL,
    drawn_bonus   INTEGER NOT NULL,
    drawn_voucher INTEGER NOT NULL,
    price_ids     TEXT NOT NULL, -- comma-separated price rows that rated it
    tx_id         INTEGER,       -- the usage transaction that charged it
    void_tx_id    INTEGER        -- the transaction that reversed it
);
-- The dedupe key: the database accepts an event id once, whatever path it came by.
CREATE UNIQUE INDEX usage_events_id ON usage_events (id);
CREATE INDEX usage_events_account ON usage_events (account_id, event_time);
CREATE INDEX usage_events_unpriced ON usage_events (seq) WHERE status = 'unpriced';

-- Usage per account, price key and billing period, for tiered prices.
CREATE TABLE usage_counters (
    account_id TEXT NOT NULL,
    price_key  TEXT NOT NULL,
    currency   TEXT NOT NULL,
    period     INTEGER NOT NULL,
    quantity   INTEGER NOT NULL CHECK (typeof(quantity) = 'integer'),
    PRIMARY KEY (account_id, price_key, currency, period)
) WITHOUT ROWID;

-- What rounding to the ledger's micro-units left over, per account: it is
-- added to the account's next charge, never lost.
CREATE TABLE usage_carry (
    account_id TEXT PRIMARY KEY,
    residue    TEXT NOT NULL -- an exact decimal in [0, 0.000001)
) WITHOUT ROWID;

CREATE TABLE usage_rollups (
    account_id  TEXT NOT NULL,
    bucket      INTEGER NOT NULL, -- start of the quarter hour, UTC microseconds
    scene       INTEGER NOT NULL,
    resource_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    currency    TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (typeof(quantity) = 'integer'),
    amount      INTEGER NOT NULL CHECK (typeof(amount) = 'integer'), -- never silently a float
    events      INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, scene, resource_id, customer_id)
) WITHOUT ROWID;

-- CSGHub's minute-level dedupe, for the scenes it is turned on for.
CREATE TABLE usage_minutes (
    scene       INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    minute      INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (scene, customer_id, minute)
) WITHOUT ROWID;

CREATE TABLE prices (
    id          INTEGER PRIMARY KEY,
    sku_type    INTEGER NOT NULL,
    sku_kind    INTEGER NOT NULL,
    resource_id TEXT NOT NULL,
    unit_type   TEXT NOT NULL,
    currency    TEXT NOT NULL,
    unit        INTEGER NOT NULL,
    model       TEXT NOT NULL,
    unit_price  TEXT NOT NULL, -- exact decimal
    params      TEXT NOT NULL, -- tiers, package, levels, discounts, licence as JSON with decimal strings
    description TEXT NOT NULL,
    valid_from  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX prices_key ON prices (sku_type, sku_kind, resource_id, unit_type, currency, valid_from);

CREATE TABLE burst_levels (
    resource       TEXT NOT NULL,
    effective_from INTEGER NOT NULL,
    level          INTEGER NOT NULL,
    PRIMARY KEY (resource, effective_from)
) WITHOUT ROWID;

-- Burst levels are recomputed every cycle (5 minutes) from the latest
-- utilisation: the level computed last cycle ("next") takes effect, and a
-- new next is computed. A cycle row makes each cycle run once, whichever
-- instance gets there first.
CREATE TABLE burst_utilisation (
    resource    TEXT PRIMARY KEY,
    percent     TEXT NOT NULL, -- exact decimal
    measured_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE burst_next (
    resource TEXT PRIMARY KEY,
    level    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE burst_cycles (cycle INTEGER PRIMARY KEY);

CREATE TABLE commitments (
    id         INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    months     INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL
);

-- Bumped by every change to prices, burst levels or commitments, so every
-- process knows when to reload its price book.
CREATE TABLE price_book (version INTEGER NOT NULL);
INSERT INTO price_book (version) VALUES (0);

CREATE TABLE dead_letters (
    key         TEXT UNIQUE, -- the message's identity, so a redelivery is recorded once
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL,
    received_at INTEGER NOT NULL
);

-- Internal events written in the same transaction as what caused them
-- (a low balance crossed); delivery comes later.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER
);
