-- The price version that counted a counter's latest usage. While a
-- correction has replaced it and the month is not repriced, the month's
-- new usage is charged at it too, so that one version's tiers price all
-- of the month's usage until the reprice moves the whole month.
ALTER TABLE usage_counters ADD COLUMN price_id BIGINT;

-- A counter written before this learns it from the charged event of its
-- account, currency, month and key stored last, among those a counted
-- version charged. One pass over the events.
UPDATE usage_counters c SET price_id = v.price_id
FROM (
    SELECT DISTINCT ON (e.account_id, e.currency, period, price_key)
           e.account_id, e.currency, date_trunc('month', e.event_time, 'UTC') AS period,
           p.sku_type || '|' || p.sku_kind || '|' || octet_length(p.unit_type) || ':' || p.unit_type || '|' || p.resource_id COLLATE "C" AS price_key,
           p.id AS price_id
    FROM usage_events e
    CROSS JOIN LATERAL unnest(string_to_array(e.price_ids, ',')::bigint[]) AS ids(id)
    JOIN prices p ON p.id = ids.id
    WHERE e.status = 'charged' AND e.price_ids <> '' AND p.model IN ('graduated', 'volume', 'package')
    ORDER BY e.account_id, e.currency, period, price_key, e.seq DESC
) v
WHERE c.account_id = v.account_id AND c.price_key = v.price_key AND c.currency = v.currency AND c.period = v.period;
