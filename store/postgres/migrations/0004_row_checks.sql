-- A batch's writes go in one pipeline with its COMMIT, so a write that
-- touched fewer rows than it must is caught here, in the server: the
-- exception aborts the transaction and PostgreSQL skips the COMMIT. A
-- check that can lose a race raises serialization_failure, which abacus
-- retries.
CREATE FUNCTION abacus_expect_rows(got bigint, want bigint, what text, race boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF got <> want THEN
        IF race THEN
            RAISE EXCEPTION '%: % rows, expected %', what, got, want USING ERRCODE = 'serialization_failure';
        END IF;
        RAISE EXCEPTION '%: % rows, expected %', what, got, want;
    END IF;
    RETURN got;
END
$$;
