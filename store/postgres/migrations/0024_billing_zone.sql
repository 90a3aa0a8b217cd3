-- The time zone whose calendar months are the billing months: tier
-- counters, packages, carries and the monthly sums of what each bucket
-- paid are kept per such month. Set before the first usage event (see
-- SetBillingZone); every database made before it bills by UTC months.
-- A table of its own, not a column of price_book, which every usage batch
-- reads: with the column, PostgreSQL's batches of one event took twice
-- the server's time (measured, cause not found).
CREATE TABLE billing_zone (zone TEXT NOT NULL);
INSERT INTO billing_zone (zone) VALUES ('UTC');
