-- The latest event time each price version has charged, per engine shard
-- (batches of different workers write different rows). A new version
-- takes effect only after every event charged at the version it takes
-- over from: otherwise the book would name, for events already charged, a
-- price other than the one they paid. Filled here from the events stored
-- so far.
CREATE TABLE price_uses (
    price_id BIGINT NOT NULL,
    shard    INT NOT NULL,
    latest   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (price_id, shard)
);

INSERT INTO price_uses (price_id, shard, latest)
SELECT p::bigint, 0, max(e.event_time)
FROM usage_events e, unnest(string_to_array(e.price_ids, ',')) p
WHERE e.price_ids <> ''
GROUP BY 1;
