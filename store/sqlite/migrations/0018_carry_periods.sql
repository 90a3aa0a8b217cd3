-- A carry per account and billing period (the UTC month), where
-- usage_carry kept one per account across periods: what a void or a
-- credit gives back through a period's carry then never reaches money
-- another period's buckets paid. usage_carry stays as it was, read only by
-- verify: each of its residues, under a micro-unit, is what rounding left
-- over before this.
CREATE TABLE IF NOT EXISTS usage_carry_periods (
    account_id TEXT NOT NULL,
    period     INTEGER NOT NULL, -- start of the month, UTC microseconds
    residue    TEXT NOT NULL,    -- an exact decimal in [0, 0.000001)
    -- 1: the month had usage while its account's carry was one across
    -- months, so what it paid may differ from its exact cost by more than
    -- its own carry
    shared     INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
    PRIMARY KEY (account_id, period)
) WITHOUT ROWID;

-- Only an account with a carry stored had charges that rounding left
-- anything of: its months with usage so far are marked.
INSERT OR IGNORE INTO usage_carry_periods (account_id, period, residue, shared)
SELECT DISTINCT account_id, CAST(strftime('%s', event_time / 1000000, 'unixepoch', 'start of month') AS INTEGER) * 1000000, '0', 1
FROM usage_events WHERE account_id IN (SELECT account_id FROM usage_carry);
