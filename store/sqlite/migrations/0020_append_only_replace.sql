-- INSERT OR REPLACE deletes the row it conflicts with without firing
-- 0019's DELETE triggers (SQLite fires them on a REPLACE only with
-- recursive_triggers on), so it edited a price in place past them (QA).
-- An insert of a key already there is refused before it can replace it.
CREATE TRIGGER IF NOT EXISTS prices_append_only_replace BEFORE INSERT ON prices
WHEN EXISTS (SELECT 1 FROM prices WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'prices are never edited: add a version, or correct one with a revision (abacus prices import --correct)'); END;
CREATE TRIGGER IF NOT EXISTS transactions_append_only_replace BEFORE INSERT ON transactions
WHEN EXISTS (SELECT 1 FROM transactions WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'transactions are never edited: post a new one, such as a revert'); END;
CREATE TRIGGER IF NOT EXISTS postings_append_only_replace BEFORE INSERT ON postings
WHEN EXISTS (SELECT 1 FROM postings WHERE wallet_id = NEW.wallet_id AND tx_id = NEW.tx_id)
BEGIN SELECT RAISE(ABORT, 'postings are never edited: post a new transaction, such as a revert'); END;
