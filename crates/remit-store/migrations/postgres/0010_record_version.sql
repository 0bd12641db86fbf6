-- A counter that every change to what makes up a patient's record as a clinical request reads it (the patient row,
-- the names of places, SpO2 scale 2 prescriptions, delegated tasks) moves on, in the same transaction as the change,
-- whoever makes it. A server keeps the records it has read and uses one again only while this counter and the
-- profile counter (staff names appear in a record) still stand where they stood when the request began.
CREATE TABLE record_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO record_version (id, n) VALUES (1, 0);

CREATE FUNCTION record_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE record_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['patient', 'place', 'scale2', 'task'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION record_changed()', t || '_record_changed', t);
    END LOOP;
END
$$;
