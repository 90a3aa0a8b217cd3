-- The time zone whose calendar months are the billing months: tier
-- counters, packages, carries and the monthly sums of what each bucket
-- paid are kept per such month. Set before the first usage event (see
-- SetBillingZone); every database made before it bills by UTC months.
ALTER TABLE price_book ADD COLUMN billing_zone TEXT NOT NULL DEFAULT 'UTC';
