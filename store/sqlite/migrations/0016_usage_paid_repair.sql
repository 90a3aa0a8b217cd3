-- Repairs a database that ran 0013 as it first landed, before usage_paid
-- was added to it: there the table is missing, and every usage batch
-- failed. A migration is never edited once landed (a test pins their
-- text); this one makes the table where it is missing and fills it from
-- the events as 0013 does. Where 0013 made it, it is left as it is: an
-- empty usage_paid beside events means it was just made, since 0013 fills
-- it from every event and every usage batch adds to it.
CREATE TABLE IF NOT EXISTS usage_paid (
    account_id TEXT NOT NULL,
    currency   TEXT NOT NULL,
    period     INTEGER NOT NULL, -- start of the month, UTC microseconds
    cash       INTEGER NOT NULL CHECK (typeof(cash) = 'integer'),
    bonus      INTEGER NOT NULL CHECK (typeof(bonus) = 'integer'),
    voucher    INTEGER NOT NULL CHECK (typeof(voucher) = 'integer'),
    PRIMARY KEY (account_id, currency, period)
) WITHOUT ROWID;
-- SQLite computes a SELECT that reads the table inserted into before it
-- inserts, so the NOT EXISTS sees the table as it was.
INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher)
SELECT account_id, currency, CAST(strftime('%s', event_time / 1000000, 'unixepoch', 'start of month') AS INTEGER) * 1000000,
    SUM(drawn_cash), SUM(drawn_bonus), SUM(drawn_voucher)
FROM usage_events WHERE NOT EXISTS (SELECT 1 FROM usage_paid) GROUP BY 1, 2, 3;
