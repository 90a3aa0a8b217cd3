-- The price version that counted a counter's latest usage. While a
-- correction has replaced it and the month is not repriced, the month's
-- new usage is charged at it too, so that one version's tiers price all
-- of the month's usage until the reprice moves the whole month. NULL for
-- counters written before this: unknown, and charged as before.
ALTER TABLE usage_counters ADD COLUMN price_id BIGINT;
