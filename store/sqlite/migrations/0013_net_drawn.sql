-- An event's drawn_* now say what each bucket paid for it net of what came
-- back (abacus.StoredEvent.Drawn): what the buckets paid for an account's
-- month bounds what credits give back to each, so promotional money never
-- comes back as cash. A void used to leave them as the charge drew. Its
-- refund comes off them here as near as the row tells how the void split
-- it: in proportion to what the event paid (the floor of each share, where
-- abacus rounded by largest remainders; one share at a time past 3,037
-- units, where the products would not fit), anything beyond that, or a
-- refund that cost instead, in cash. Those events are drawn_estimated, and
-- verify leaves their accounts out of comparing the buckets' postings with
-- what their events say the buckets paid.
--
-- usage_paid keeps those sums: what each bucket has paid, net, for an
-- account's usage in one currency and billing period (the UTC calendar
-- month from period), every usage batch adding what it moved. A void's or
-- credit's bound is read from it in O(1) instead of summing a month of
-- events inside the one write transaction (for a hot account, seconds).
-- Filled here from the events stored so far, whatever their status, once
-- their drawn_* are net.
ALTER TABLE usage_events ADD COLUMN drawn_estimated INTEGER NOT NULL DEFAULT 0;
UPDATE usage_events SET
    drawn_cash = drawn_cash - (refunded - s.bonus - s.voucher),
    drawn_bonus = drawn_bonus - s.bonus,
    drawn_voucher = drawn_voucher - s.voucher,
    drawn_estimated = 1
FROM (SELECT seq,
        CASE WHEN r <= 0 OR t = 0 THEN 0 WHEN r >= t THEN b
             WHEN t < 3037000499 THEN r * b / t ELSE MIN(b, r) END AS bonus,
        CASE WHEN r <= 0 OR t = 0 THEN 0 WHEN r >= t THEN v
             WHEN t < 3037000499 THEN r * v / t ELSE MIN(v, r - MIN(b, r)) END AS voucher
      FROM (SELECT seq, refunded AS r, MAX(drawn_bonus, 0) AS b, MAX(drawn_voucher, 0) AS v,
                   MAX(drawn_cash, 0) + MAX(drawn_bonus, 0) + MAX(drawn_voucher, 0) AS t
            FROM usage_events WHERE status = 'voided' AND refunded <> 0)) AS s
WHERE usage_events.seq = s.seq;

CREATE TABLE usage_paid (
    account_id TEXT NOT NULL,
    currency   TEXT NOT NULL,
    period     INTEGER NOT NULL, -- start of the month, UTC microseconds
    cash       INTEGER NOT NULL CHECK (typeof(cash) = 'integer'),
    bonus      INTEGER NOT NULL CHECK (typeof(bonus) = 'integer'),
    voucher    INTEGER NOT NULL CHECK (typeof(voucher) = 'integer'),
    PRIMARY KEY (account_id, currency, period)
) WITHOUT ROWID;
-- An event's month, as rating.PeriodOf has it: the start of the month of
-- its time in whole seconds (events are from the year 2000 on, so / is the
-- floor), back in microseconds; integers throughout, never a REAL.
INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher)
SELECT account_id, currency, CAST(strftime('%s', event_time / 1000000, 'unixepoch', 'start of month') AS INTEGER) * 1000000,
    SUM(drawn_cash), SUM(drawn_bonus), SUM(drawn_voucher)
FROM usage_events GROUP BY 1, 2, 3;
