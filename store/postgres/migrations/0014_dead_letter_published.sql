-- A dead letter records when it was published to the dead-letter subject
-- (NULL: not yet). A message dead-lettered again (a durable consumer
-- deleted and made again replays its stream, or a redelivery comes after
-- JetStream's duplicate window) finds its letter published and is not
-- published a second time. Letters stored before were published right
-- after they were recorded: they are marked at their received_at (one
-- whose publish failed, its message still awaiting redelivery across the
-- upgrade, is then not published).
ALTER TABLE dead_letters ADD COLUMN published_at TIMESTAMPTZ;
UPDATE dead_letters SET published_at = received_at;
