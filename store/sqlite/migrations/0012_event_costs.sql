-- Each event's exact cost, before the account's carry rounds it to
-- micro-units: a reprice gives back exactly that, and verify checks that
-- charges, refunds and carry add up to the costs. Events stored before
-- stay NULL (unknown), and their accounts are left out of that check.
ALTER TABLE usage_events ADD COLUMN cost TEXT;
