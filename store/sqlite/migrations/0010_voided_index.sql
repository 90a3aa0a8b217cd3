-- Voided events are listed by status, as unpriced ones are (0002): a
-- partial index finds the few among millions without reading the rest.
CREATE INDEX IF NOT EXISTS usage_events_voided ON usage_events (seq) WHERE status = 'voided';
