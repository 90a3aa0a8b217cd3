-- The latest event time each price version has charged, per engine shard
-- (batches of different workers write different rows). A new version
-- takes effect only after every event charged at the version it takes
-- over from: otherwise the book would name, for events already charged, a
-- price other than the one they paid. Filled here from the events stored
-- so far.
CREATE TABLE price_uses (
    price_id INTEGER NOT NULL,
    shard    INTEGER NOT NULL,
    latest   INTEGER NOT NULL, -- an event time, UTC microseconds
    PRIMARY KEY (price_id, shard)
) WITHOUT ROWID;

INSERT INTO price_uses (price_id, shard, latest)
SELECT CAST(p.value AS INTEGER), 0, max(e.event_time)
FROM usage_events e, json_each('[' || e.price_ids || ']') p
WHERE e.price_ids <> ''
GROUP BY 1;
