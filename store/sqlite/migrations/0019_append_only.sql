-- Prices, transactions and postings are only ever added to: a price is
-- corrected by a revision, a transaction by another transaction. The
-- database refuses an UPDATE or DELETE of any of their rows, so that a
-- hand edit cannot change what a ledger says happened, or what an event
-- was rated at, behind abacus's back (QA: a price edited in place charged
-- new events at it, and no check could tell). Such a fix is a new row,
-- or, if it must be, dropping these triggers first, knowingly.
CREATE TRIGGER IF NOT EXISTS prices_append_only_update BEFORE UPDATE ON prices
BEGIN SELECT RAISE(ABORT, 'prices are never edited: add a version, or correct one with a revision (abacus prices import --correct)'); END;
CREATE TRIGGER IF NOT EXISTS prices_append_only_delete BEFORE DELETE ON prices
BEGIN SELECT RAISE(ABORT, 'prices are never deleted: add a version that replaces it'); END;
CREATE TRIGGER IF NOT EXISTS transactions_append_only_update BEFORE UPDATE ON transactions
BEGIN SELECT RAISE(ABORT, 'transactions are never edited: post a new one, such as a revert'); END;
CREATE TRIGGER IF NOT EXISTS transactions_append_only_delete BEFORE DELETE ON transactions
BEGIN SELECT RAISE(ABORT, 'transactions are never deleted: post a new one, such as a revert'); END;
CREATE TRIGGER IF NOT EXISTS postings_append_only_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'postings are never edited: post a new transaction, such as a revert'); END;
CREATE TRIGGER IF NOT EXISTS postings_append_only_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'postings are never deleted: post a new transaction, such as a revert'); END;
