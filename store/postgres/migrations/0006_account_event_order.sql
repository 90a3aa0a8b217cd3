-- An account's events are listed in event-time order, paged by (event_time,
-- seq): the index gives that order outright, so a page costs its own rows
-- whatever the size of the table or the account.
DROP INDEX usage_events_account;
CREATE INDEX usage_events_account ON usage_events (account_id, event_time, seq);
