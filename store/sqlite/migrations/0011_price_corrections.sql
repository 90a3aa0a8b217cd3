-- A wrong price is corrected by a new version, never by editing the old
-- one. A correction from a version's own start stores it again at the
-- next revision, so the key of a version (0008) gains its revision: the
-- highest is in force, the others keep the record of what their events
-- paid. Versions stored so far are revision 0.
ALTER TABLE prices ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
DROP INDEX prices_key;
CREATE UNIQUE INDEX prices_key ON prices (sku_type, sku_kind, resource_id, unit_type, currency, valid_from, revision);

-- Each event charged again at corrected prices, and what that moved: the
-- event itself keeps only its new total, so this is the record of its
-- earlier charges. In the order stored, by id.
CREATE TABLE usage_reprices (
    id          INTEGER PRIMARY KEY,
    event_seq   INTEGER NOT NULL,
    account_id  TEXT NOT NULL,
    currency    TEXT NOT NULL,
    event_tx_id INTEGER,          -- the transaction that first charged the event; NULL: it cost nothing then
    tx_id       INTEGER,          -- the usage transaction of this reprice; NULL: it moved nothing
    amount      INTEGER NOT NULL, -- micro-units; negative where the corrected price is lower
    price_ids   TEXT NOT NULL,    -- comma-separated price rows that had rated the event
    created_at  INTEGER NOT NULL
);
CREATE INDEX usage_reprices_event ON usage_reprices (event_seq);
