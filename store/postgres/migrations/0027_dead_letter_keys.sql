-- A NATS dead letter is known by its stream, the stream's creation time
-- and the message's sequence: nats:STREAM:CREATED:SEQ. It had been known
-- by the durable consumer's name too, so a durable of another name (as
-- serve's advice for a durable it cannot use says to make) recorded and
-- published every dead letter of the stream again on its replay (QA).
-- Letters stored before drop the durable's name from their key
-- (nats:STREAM:DURABLE:CREATED:SEQ): the stream's is what comes before the
-- first colon, and the creation time and sequence are the two numbers at
-- the end (a stream whose name holds a colon gets a key the consumer will
-- not make again, so a replay records its letters once more). Of a
-- message that several durables recorded, the first letter that was
-- published keeps the key (the first of all if none was: QA, a kept
-- unpublished copy was published again), and the others stay listed, with
-- no key. An index for every lookup: 100,000 letters take about 5 s (QA:
-- looked up by scanning, 20,000 took 30 s).
CREATE TEMPORARY TABLE dead_letter_keys ON COMMIT DROP AS
SELECT id, new_key, row_number() OVER (PARTITION BY new_key ORDER BY published_at IS NULL, id) AS rank
FROM (
    SELECT id, published_at, regexp_replace(key, '^nats:([^:]+):.*:([0-9]+):([0-9]+)$', 'nats:\1:\2:\3') AS new_key
    FROM dead_letters WHERE key ~ '^nats:[^:]+:.*:[0-9]+:[0-9]+$'
) rekeyed;
ALTER TABLE dead_letter_keys ADD PRIMARY KEY (id);
ANALYZE dead_letter_keys;

UPDATE dead_letters SET key = NULL WHERE id IN (
    SELECT id FROM dead_letter_keys k WHERE rank > 1 OR EXISTS (SELECT 1 FROM dead_letters o WHERE o.key = k.new_key)
);
UPDATE dead_letters d SET key = k.new_key FROM dead_letter_keys k WHERE d.id = k.id AND d.key IS NOT NULL;
