-- Each event's exact cost, before the account's carry rounds it to
-- micro-units: a reprice gives back exactly that, and verify checks that
-- charges, refunds and carry add up to the costs. NULL stands for the
-- event's charge net of its refund, which the cost is whenever the carry
-- played no part, so most events spend no bytes on it; events stored
-- before are 'unknown' (a constant default: no row is rewritten), and
-- their accounts are left out of that check.
ALTER TABLE usage_events ADD COLUMN cost TEXT DEFAULT 'unknown';
