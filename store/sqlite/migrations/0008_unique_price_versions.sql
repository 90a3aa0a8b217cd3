-- A price version is its key, currency and valid_from: two with the same
-- make the book ambiguous, and the engine refuses to rate from it. The
-- index that finds versions now refuses a second one, so two imports that
-- race cannot both add it.
DROP INDEX prices_key;
CREATE UNIQUE INDEX prices_key ON prices (sku_type, sku_kind, resource_id, unit_type, currency, valid_from);
