-- A counter that every change to what makes up a staff member's profile moves on (the staff row, roles,
-- memberships, registrations, entitlements, duty, competency records, API tokens), in the same transaction as the
-- change, whoever makes it: the server, the command line or someone at a SQL prompt. A server keeps the profiles it
-- has read and uses one again only while the counter still stands where it stood before that read.
CREATE TABLE profile_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO profile_version (id, n) VALUES (1, 0);

CREATE FUNCTION profile_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profile_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['staff', 'staff_role', 'staff_membership', 'registration', 'entitlement', 'duty',
                             'competency_record', 'api_token'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION profile_changed()', t || '_profile_changed', t);
    END LOOP;
END
$$;
