-- Event ids that are UUIDs spelled the canonical way (lowercase, hyphenated)
-- are stored as their 16 bytes: the id index holds half as much per event,
-- so it stays in the caches longer and a batch dirties fewer of its pages.
-- Any other id stays text, and a BLOB never equals a TEXT, so ids that were
-- distinct stay distinct. The store converts both ways (eventkey.go).
-- This rewrites every stored event once: minutes on a database of many
-- millions of events.
UPDATE usage_events SET id = unhex(replace(id, '-', ''))
WHERE typeof(id) = 'text' AND id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]';
