-- A counter that every change to what makes up a staff member's profile moves on (the staff row, roles,
-- memberships, registrations, entitlements, duty, competency records, API tokens), in the same transaction as the
-- change, whoever makes it: the server, the command line or someone at a SQL prompt. A server keeps the profiles it
-- has read and uses one again only while the counter still stands where it stood before that read.
CREATE TABLE profile_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO profile_version (id, n) VALUES (1, 0);

CREATE TRIGGER staff_insert_profile AFTER INSERT ON staff
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_update_profile AFTER UPDATE ON staff
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_delete_profile AFTER DELETE ON staff
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_role_insert_profile AFTER INSERT ON staff_role
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_role_update_profile AFTER UPDATE ON staff_role
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_role_delete_profile AFTER DELETE ON staff_role
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_membership_insert_profile AFTER INSERT ON staff_membership
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_membership_update_profile AFTER UPDATE ON staff_membership
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER staff_membership_delete_profile AFTER DELETE ON staff_membership
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registration_insert_profile AFTER INSERT ON registration
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registration_update_profile AFTER UPDATE ON registration
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registration_delete_profile AFTER DELETE ON registration
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER entitlement_insert_profile AFTER INSERT ON entitlement
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER entitlement_update_profile AFTER UPDATE ON entitlement
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER entitlement_delete_profile AFTER DELETE ON entitlement
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER duty_insert_profile AFTER INSERT ON duty
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER duty_update_profile AFTER UPDATE ON duty
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER duty_delete_profile AFTER DELETE ON duty
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER competency_record_insert_profile AFTER INSERT ON competency_record
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER competency_record_update_profile AFTER UPDATE ON competency_record
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER competency_record_delete_profile AFTER DELETE ON competency_record
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_token_insert_profile AFTER INSERT ON api_token
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_token_update_profile AFTER UPDATE ON api_token
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_token_delete_profile AFTER DELETE ON api_token
    BEGIN UPDATE profile_version SET n = n + 1 WHERE id = 1; END;
