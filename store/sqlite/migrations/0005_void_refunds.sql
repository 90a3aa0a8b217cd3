-- What a void gave back: the month's cost less its cost without the event,
-- which for tiered prices differs from what the event was charged. Voids
-- made before this gave back exactly what the event was charged.
ALTER TABLE usage_events ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;
UPDATE usage_events SET refunded = charged WHERE status = 'voided';
