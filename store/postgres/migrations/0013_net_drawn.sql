-- An event's drawn_* now say what each bucket paid for it net of what came
-- back (abacus.StoredEvent.Drawn): what the buckets paid for an account's
-- month bounds what credits give back to each, so promotional money never
-- comes back as cash. A void used to leave them as the charge drew. Its
-- refund comes off them here as near as the row tells how the void split
-- it: in proportion to what the event paid (the floor of each share, where
-- abacus rounded by largest remainders), anything beyond that, or a refund
-- that cost instead, in cash. Those events are drawn_estimated, and verify
-- leaves their accounts out of comparing the buckets' postings with what
-- their events say the buckets paid.
--
-- usage_paid keeps those sums: what each bucket has paid, net, for an
-- account's usage in one currency and billing period (the UTC calendar
-- month from period), every usage batch adding what it moved. A void's or
-- credit's bound is read from it in O(1) instead of summing a month of
-- events inside the write transaction (for a hot account, seconds).
-- Filled here from the events stored so far, whatever their status, once
-- their drawn_* are net.
ALTER TABLE usage_events ADD COLUMN drawn_estimated BOOLEAN NOT NULL DEFAULT false;
UPDATE usage_events e SET
    drawn_cash = e.drawn_cash - (e.refunded - s.bonus - s.voucher),
    drawn_bonus = e.drawn_bonus - s.bonus,
    drawn_voucher = e.drawn_voucher - s.voucher,
    drawn_estimated = true
FROM (SELECT seq,
        CASE WHEN r <= 0 OR t = 0 THEN 0 WHEN r >= t THEN b ELSE div(r * b, t) END::bigint AS bonus,
        CASE WHEN r <= 0 OR t = 0 THEN 0 WHEN r >= t THEN v ELSE div(r * v, t) END::bigint AS voucher
      FROM (SELECT seq, refunded::numeric AS r, GREATEST(drawn_bonus, 0)::numeric AS b, GREATEST(drawn_voucher, 0)::numeric AS v,
                   GREATEST(drawn_cash, 0)::numeric + GREATEST(drawn_bonus, 0) + GREATEST(drawn_voucher, 0) AS t
            FROM usage_events WHERE status = 'voided' AND refunded <> 0) AS p) AS s
WHERE e.seq = s.seq;

CREATE TABLE usage_paid (
    account_id TEXT NOT NULL,
    currency   TEXT NOT NULL,
    period     TIMESTAMPTZ NOT NULL, -- start of the month, UTC
    cash       BIGINT NOT NULL,
    bonus      BIGINT NOT NULL,
    voucher    BIGINT NOT NULL,
    PRIMARY KEY (account_id, currency, period)
);
-- An event's month, as rating.PeriodOf has it: its start in UTC, whatever
-- the session's time zone.
INSERT INTO usage_paid (account_id, currency, period, cash, bonus, voucher)
SELECT account_id, currency, date_trunc('month', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    sum(drawn_cash)::bigint, sum(drawn_bonus)::bigint, sum(drawn_voucher)::bigint
FROM usage_events GROUP BY 1, 2, 3;
