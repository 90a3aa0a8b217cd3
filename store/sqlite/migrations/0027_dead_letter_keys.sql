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
-- no key. An index for every lookup: 100,000 letters take about a second
-- (QA: looked up by scanning, they took 504 s).
CREATE TEMP TABLE dead_letter_keys (id INTEGER PRIMARY KEY, new_key TEXT NOT NULL, rank INTEGER NOT NULL);
INSERT INTO dead_letter_keys (id, new_key, rank)
WITH seq AS (
    SELECT id, key, published_at, rtrim(key, '0123456789') AS a FROM dead_letters WHERE key LIKE 'nats:%'
), created AS (
    SELECT id, key, published_at, a, rtrim(substr(a, 1, length(a) - 1), '0123456789') AS b FROM seq
    WHERE length(a) < length(key) AND a LIKE '%:'
), rekeyed AS (
    SELECT id, published_at, 'nats:' || substr(key, 6, instr(substr(key, 6), ':') - 1) || ':' || substr(key, length(b) + 1) AS new_key
    FROM created
    WHERE length(b) < length(a) - 1 AND b LIKE 'nats:%:%:' AND instr(substr(key, 6), ':') > 1
)
SELECT id, new_key, row_number() OVER (PARTITION BY new_key ORDER BY published_at IS NULL, id) FROM rekeyed;

UPDATE dead_letters SET key = NULL WHERE id IN (
    SELECT id FROM dead_letter_keys k WHERE rank > 1 OR EXISTS (SELECT 1 FROM dead_letters o WHERE o.key = k.new_key)
);
UPDATE dead_letters SET key = (SELECT new_key FROM dead_letter_keys k WHERE k.id = dead_letters.id)
WHERE key IS NOT NULL AND id IN (SELECT id FROM dead_letter_keys);
DROP TABLE dead_letter_keys;
