-- A carry per account and billing period (the UTC month), where
-- usage_carry kept one per account across periods: what a void or a
-- credit gives back through a period's carry then never reaches money
-- another period's buckets paid. usage_carry stays as it was, read only by
-- verify: each of its residues, under a micro-unit, is what rounding left
-- over before this.
CREATE TABLE IF NOT EXISTS usage_carry_periods (
    account_id TEXT NOT NULL,
    period     TIMESTAMPTZ NOT NULL, -- start of the month, UTC
    residue    TEXT NOT NULL,        -- an exact decimal in [0, 0.000001)
    -- the month had usage while its account's carry was one across
    -- months, so what it paid may differ from its exact cost by more than
    -- its own carry
    shared     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account_id, period)
);

-- Only an account with a carry stored had charges that rounding left
-- anything of: its months with usage so far are marked.
INSERT INTO usage_carry_periods (account_id, period, residue, shared)
SELECT DISTINCT account_id, date_trunc('month', event_time, 'UTC'), '0', TRUE
FROM usage_events WHERE account_id IN (SELECT account_id FROM usage_carry)
ON CONFLICT DO NOTHING;
