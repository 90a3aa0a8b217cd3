-- 0019's row triggers do not fire on TRUNCATE, which empties a table
-- without deleting its rows one by one: `TRUNCATE postings` wiped the
-- ledger's history past them. A statement trigger refuses it too.
CREATE OR REPLACE TRIGGER prices_append_only_truncate BEFORE TRUNCATE ON prices FOR EACH STATEMENT EXECUTE FUNCTION abacus_append_only();
CREATE OR REPLACE TRIGGER transactions_append_only_truncate BEFORE TRUNCATE ON transactions FOR EACH STATEMENT EXECUTE FUNCTION abacus_append_only();
CREATE OR REPLACE TRIGGER postings_append_only_truncate BEFORE TRUNCATE ON postings FOR EACH STATEMENT EXECUTE FUNCTION abacus_append_only();
