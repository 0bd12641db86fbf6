-- The patient administration system's admissions, transfers and discharges (HL7 v2 ADT).
-- A patient is on their place's board until discharged; `placed_at` is when they came to the place they are in (or
-- left, once discharged), so that work begun before they came can be shown to the staff who receive them.
ALTER TABLE patient ADD COLUMN discharged_at TEXT;
ALTER TABLE patient ADD COLUMN placed_at TEXT;
UPDATE patient SET placed_at = created_at;

-- A patient's stays (FHIR Encounter): admitted or registered, moved, finished; a cancelled admission is kept as
-- entered in error. At most one is in progress for a patient.
CREATE TABLE encounter (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    status TEXT NOT NULL CHECK (status IN ('in-progress', 'finished', 'entered-in-error')),
    class TEXT NOT NULL CHECK (class IN ('IMP', 'EMER', 'AMB', 'PRENC')),
    place_code TEXT NOT NULL REFERENCES place (code),
    bed TEXT,
    visit_number TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX encounter_patient ON encounter (patient_id, status);
CREATE UNIQUE INDEX encounter_one_in_progress ON encounter (patient_id) WHERE status = 'in-progress';
INSERT INTO encounter (patient_id, status, class, place_code, bed, started_at)
    SELECT id, 'in-progress', 'IMP', place_code, bed, created_at FROM patient;

-- Each HL7 v2 message applied, by its sender and control id (MSH-10), so that a replay is acknowledged without being
-- applied twice; the digest tells a replay from a different message reusing the id.
CREATE TABLE hl7_message (
    sender TEXT NOT NULL,
    control_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    event TEXT NOT NULL,
    received_at TEXT NOT NULL,
    ack_text TEXT NOT NULL,
    PRIMARY KEY (sender, control_id)
);
