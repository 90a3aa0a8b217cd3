-- An account's events are listed in event-time order, paged by (event_time,
-- seq). SQLite's index on (account_id, event_time) already ends with the
-- rowid, which is seq, so it gives that order as it is; this migration
-- only keeps the two dialects' migrations numbered alike.
SELECT 1;
