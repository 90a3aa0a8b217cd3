-- SQLite stores event ids that are canonical UUIDs as their 16 bytes (its
-- migration 0007). PostgreSQL keeps them as text: its id index is not what
-- bounds its batches, and this migration only keeps the two dialects'
-- migrations numbered alike.
SELECT 1;
