-- abacus rerate charges unpriced events in the order the usage happened,
-- across pages (it had gone page by page in stored order, so an earlier
-- event stored later was charged after newer usage, QA).
CREATE INDEX IF NOT EXISTS usage_events_unpriced_time ON usage_events (event_time, seq) WHERE status = 'unpriced';
