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
