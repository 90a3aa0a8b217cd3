-- A rollup keeps how much of its usage has no price yet, so that a
-- statement can tell usage that was free from usage abacus rerate has not
-- billed yet (an unpriced event had added its usage at amount 0). Filled
-- from the events stored unpriced, by the key their rollup has.
ALTER TABLE usage_rollups ADD COLUMN unpriced_quantity INTEGER NOT NULL DEFAULT 0 CHECK (typeof(unpriced_quantity) = 'integer');
ALTER TABLE usage_rollups ADD COLUMN unpriced_events INTEGER NOT NULL DEFAULT 0 CHECK (typeof(unpriced_events) = 'integer');
UPDATE usage_rollups SET unpriced_quantity = u.quantity, unpriced_events = u.events
FROM (SELECT account_id, event_time - event_time % 900000000 AS bucket, scene, resource_id, customer_id,
		SUM(value) AS quantity, COUNT(*) AS events
	FROM usage_events WHERE status = 'unpriced' GROUP BY 1, 2, 3, 4, 5) AS u
WHERE usage_rollups.account_id = u.account_id AND usage_rollups.bucket = u.bucket AND usage_rollups.scene = u.scene
	AND usage_rollups.resource_id = u.resource_id AND usage_rollups.customer_id = u.customer_id;
