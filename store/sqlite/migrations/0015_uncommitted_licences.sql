-- Usage of a licence that requires a subscription (not burstable) by an
-- account with no commitment active at the event's time: charged all the
-- same, and flagged for the operator to follow up. The partial index lists
-- them without costing the other events' inserts anything.
ALTER TABLE usage_events ADD COLUMN uncommitted INTEGER NOT NULL DEFAULT 0 CHECK (uncommitted IN (0, 1));
CREATE INDEX usage_events_uncommitted ON usage_events (seq) WHERE uncommitted = 1;
