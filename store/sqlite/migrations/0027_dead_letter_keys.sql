-- A NATS dead letter is known by its stream, the stream's creation time
-- and the message's sequence: nats:STREAM:CREATED:SEQ. It had been known
-- by the durable consumer's name too, so a durable of another name (as
-- serve's advice for a durable it cannot use says to make) recorded and
-- published every dead letter of the stream again on its replay (QA).
-- Letters stored before drop the durable's name from their key
-- (nats:STREAM:DURABLE:CREATED:SEQ): the stream's is what comes before the
-- first colon, and the creation time and sequence are the two numbers at
-- the end (a stream whose name holds a colon gets a key the consumer will
-- not make again, so a replay records its letters once more). A message
-- that two durables both recorded keeps its first letter's key; the other
-- letters stay listed, with no key.
CREATE TEMP TABLE dead_letter_keys AS
WITH seq AS (
    SELECT id, key, rtrim(key, '0123456789') AS a FROM dead_letters WHERE key LIKE 'nats:%'
), created AS (
    SELECT id, key, a, rtrim(substr(a, 1, length(a) - 1), '0123456789') AS b FROM seq
    WHERE length(a) < length(key) AND a LIKE '%:'
)
SELECT id, 'nats:' || substr(key, 6, instr(substr(key, 6), ':') - 1) || ':' || substr(key, length(b) + 1) AS new_key
FROM created
WHERE length(b) < length(a) - 1 AND b LIKE 'nats:%:%:' AND instr(substr(key, 6), ':') > 1;

UPDATE dead_letters SET key = NULL WHERE id IN (
    SELECT id FROM dead_letter_keys k
    WHERE id > (SELECT min(id) FROM dead_letter_keys WHERE new_key = k.new_key)
        OR EXISTS (SELECT 1 FROM dead_letters o WHERE o.key = k.new_key AND o.id NOT IN (SELECT id FROM dead_letter_keys))
);
UPDATE dead_letters SET key = (SELECT new_key FROM dead_letter_keys k WHERE k.id = dead_letters.id)
WHERE key IS NOT NULL AND id IN (SELECT id FROM dead_letter_keys);
DROP TABLE dead_letter_keys;
