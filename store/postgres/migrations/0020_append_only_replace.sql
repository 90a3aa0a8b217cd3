-- SQLite's INSERT OR REPLACE got past its append-only triggers (QA), and
-- 0020 there closes that. PostgreSQL has no such statement: an
-- INSERT … ON CONFLICT DO UPDATE fires 0019's UPDATE trigger.
SELECT 1;
