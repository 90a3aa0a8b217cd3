-- Prices, transactions and postings are only ever added to: a price is
-- corrected by a revision, a transaction by another transaction. The
-- database refuses an UPDATE or DELETE of any of their rows, so that a
-- hand edit cannot change what a ledger says happened, or what an event
-- was rated at, behind abacus's back (QA: a price edited in place charged
-- new events at it, and no check could tell). Such a fix is a new row,
-- or, if it must be, disabling these triggers first, knowingly.
CREATE OR REPLACE FUNCTION abacus_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never edited or deleted: add a row instead (a price version or revision, a transaction such as a revert)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE OR REPLACE TRIGGER prices_append_only BEFORE UPDATE OR DELETE ON prices FOR EACH ROW EXECUTE FUNCTION abacus_append_only();
CREATE OR REPLACE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON transactions FOR EACH ROW EXECUTE FUNCTION abacus_append_only();
CREATE OR REPLACE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings FOR EACH ROW EXECUTE FUNCTION abacus_append_only();
