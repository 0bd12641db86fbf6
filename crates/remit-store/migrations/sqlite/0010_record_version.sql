-- A counter that every change to what makes up a patient's record as a clinical request reads it (the patient row,
-- the names of places, SpO2 scale 2 prescriptions, delegated tasks) moves on, in the same transaction as the change,
-- whoever makes it. A server keeps the records it has read and uses one again only while this counter and the
-- profile counter (staff names appear in a record) still stand where they stood when the request began.
CREATE TABLE record_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO record_version (id, n) VALUES (1, 0);

CREATE TRIGGER patient_insert_record AFTER INSERT ON patient
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER patient_update_record AFTER UPDATE ON patient
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER patient_delete_record AFTER DELETE ON patient
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER place_insert_record AFTER INSERT ON place
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER place_update_record AFTER UPDATE ON place
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER place_delete_record AFTER DELETE ON place
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scale2_insert_record AFTER INSERT ON scale2
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scale2_update_record AFTER UPDATE ON scale2
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scale2_delete_record AFTER DELETE ON scale2
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER task_insert_record AFTER INSERT ON task
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER task_update_record AFTER UPDATE ON task
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER task_delete_record AFTER DELETE ON task
    BEGIN UPDATE record_version SET n = n + 1 WHERE id = 1; END;
