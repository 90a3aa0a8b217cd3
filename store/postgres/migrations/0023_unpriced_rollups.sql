-- A rollup keeps how much of its usage has no price yet, so that a
-- statement can tell usage that was free from usage abacus rerate has not
-- billed yet (an unpriced event had added its usage at amount 0). Filled
-- from the events stored unpriced, by the key their rollup has.
ALTER TABLE usage_rollups ADD COLUMN unpriced_quantity BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN unpriced_events BIGINT NOT NULL DEFAULT 0;
UPDATE usage_rollups r SET unpriced_quantity = u.quantity, unpriced_events = u.events
FROM (SELECT account_id, date_bin('15 minutes', event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, scene,
		resource_id, customer_id, SUM(value)::bigint AS quantity, COUNT(*) AS events
	FROM usage_events WHERE status = 'unpriced' GROUP BY 1, 2, 3, 4, 5) AS u
WHERE r.account_id = u.account_id AND r.bucket = u.bucket AND r.scene = u.scene
	AND r.resource_id = u.resource_id COLLATE "C" AND r.customer_id = u.customer_id COLLATE "C";
