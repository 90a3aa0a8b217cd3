-- A dead letter keeps the message's headers: a CloudEvent in binary mode
-- carries its attributes there. JSON: {"name": ["value", …]}.
ALTER TABLE dead_letters ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
