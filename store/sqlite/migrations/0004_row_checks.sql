-- PostgreSQL checks a batch's row counts in the server, because its COMMIT
-- rides in the same pipeline as the writes. SQLite commits only after the
-- writes have returned, so it checks them in Go: nothing to create here.
SELECT 1;
