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
    period     TIMESTAMPTZ NOT NULL, -- start of the month, UTC
    cash       BIGINT NOT NULL,
    bonus      BIGINT NOT NULL,
    voucher    BIGINT NOT NULL,
    PRIMARY KEY (account_id, currency, period)
);
-- The statement sees usage_paid as it was when it began.
INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher)
SELECT account_id, currency, date_trunc('month', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    sum(drawn_cash)::bigint, sum(drawn_bonus)::bigint, sum(drawn_voucher)::bigint
FROM usage_events WHERE NOT EXISTS (SELECT 1 FROM usage_paid) GROUP BY 1, 2, 3;
