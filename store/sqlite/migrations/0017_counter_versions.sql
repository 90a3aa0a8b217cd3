-- The price version that counted a counter's latest usage. While a
-- correction has replaced it and the month is not repriced, the month's
-- new usage is charged at it too, so that one version's tiers price all
-- of the month's usage until the reprice moves the whole month.
ALTER TABLE usage_counters ADD COLUMN price_id INTEGER CHECK (price_id IS NULL OR typeof(price_id) = 'integer');

-- A counter written before this learns it from the charged event of its
-- account, currency, month and key stored last, among those a counted
-- version charged (max() makes SQLite take the other columns from that
-- row). One pass over the events, then one lookup per counter.
CREATE TEMP TABLE counter_versions AS
SELECT e.account_id, e.currency,
       CAST(strftime('%s', e.event_time / 1000000, 'unixepoch', 'start of month') AS INTEGER) * 1000000 AS period,
       p.sku_type || '|' || p.sku_kind || '|' || length(CAST(p.unit_type AS BLOB)) || ':' || p.unit_type || '|' || p.resource_id AS price_key,
       p.id AS price_id, max(e.seq) AS seq
FROM usage_events e, json_each('[' || e.price_ids || ']') j, prices p
WHERE e.status = 'charged' AND e.price_ids <> '' AND p.id = j.value AND p.model IN ('graduated', 'volume', 'package')
GROUP BY 1, 2, 3, 4;

UPDATE usage_counters SET price_id = v.price_id FROM counter_versions v
WHERE v.account_id = usage_counters.account_id AND v.price_key = usage_counters.price_key
  AND v.currency = usage_counters.currency AND v.period = usage_counters.period;

DROP TABLE counter_versions;
