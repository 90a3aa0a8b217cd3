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
