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
    PRIMARY KEY (account_id, period)
) WITHOUT ROWID;
