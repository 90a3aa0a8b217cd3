-- A commitment ended before its term's end (a price file giving it
-- `ended`). Its own table, only ever added to, so that the term a customer
-- signed and every end given it stay on record: a commitment's latest row
-- here is its end. Commitments, like prices, are never edited in place.
CREATE TABLE commitment_ends (
    id            INTEGER PRIMARY KEY,
    commitment_id INTEGER NOT NULL REFERENCES commitments (id),
    ended_at      INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL
);
CREATE INDEX commitment_ends_by_commitment ON commitment_ends (commitment_id, id);
CREATE TRIGGER IF NOT EXISTS commitments_append_only_update BEFORE UPDATE ON commitments
BEGIN SELECT RAISE(ABORT, 'commitments are never edited: end one early with a price file that gives it ended (abacus prices import)'); END;
CREATE TRIGGER IF NOT EXISTS commitments_append_only_delete BEFORE DELETE ON commitments
BEGIN SELECT RAISE(ABORT, 'commitments are never deleted: end one early with a price file that gives it ended (abacus prices import)'); END;
CREATE TRIGGER IF NOT EXISTS commitments_append_only_replace BEFORE INSERT ON commitments
WHEN EXISTS (SELECT 1 FROM commitments WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'commitments are never edited: end one early with a price file that gives it ended (abacus prices import)'); END;
CREATE TRIGGER IF NOT EXISTS commitment_ends_append_only_update BEFORE UPDATE ON commitment_ends
BEGIN SELECT RAISE(ABORT, 'commitment ends are never edited: give the commitment another ended (abacus prices import)'); END;
CREATE TRIGGER IF NOT EXISTS commitment_ends_append_only_delete BEFORE DELETE ON commitment_ends
BEGIN SELECT RAISE(ABORT, 'commitment ends are never deleted: give the commitment another ended, its until to undo the end (abacus prices import)'); END;
CREATE TRIGGER IF NOT EXISTS commitment_ends_append_only_replace BEFORE INSERT ON commitment_ends
WHEN EXISTS (SELECT 1 FROM commitment_ends WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'commitment ends are never edited: give the commitment another ended (abacus prices import)'); END;
