-- Observation sets (every version of every set), SpO2 scale 2 prescriptions, and NEWS2 escalations with their history.
CREATE TABLE obs_set (
    id INTEGER PRIMARY KEY,
    -- The set this is a version of: NULL on a set's first version (the set's id is then this row's id).
    set_id INTEGER REFERENCES obs_set (id),
    version INTEGER NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    state TEXT NOT NULL CHECK (state IN ('current', 'superseded', 'entered-in-error')),
    taken_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES staff (id),
    supervisor_id INTEGER REFERENCES staff (id),
    respiration_rate INTEGER,
    spo2 INTEGER,
    spo2_scale INTEGER NOT NULL CHECK (spo2_scale IN (1, 2)),
    on_oxygen INTEGER NOT NULL CHECK (on_oxygen IN (0, 1)),
    oxygen_flow_tenths INTEGER,
    oxygen_device TEXT,
    systolic_bp INTEGER,
    diastolic_bp INTEGER,
    pulse INTEGER,
    consciousness TEXT,
    temperature_tenths INTEGER,
    -- JSON: the parameters not recorded, each with its absence and reason.
    missing TEXT NOT NULL,
    -- JSON: each parameter's score (null where missing).
    scores TEXT NOT NULL,
    total INTEGER NOT NULL,
    risk TEXT NOT NULL,
    monitoring TEXT NOT NULL,
    complete INTEGER NOT NULL CHECK (complete IN (0, 1)),
    next_due_at TEXT NOT NULL,
    -- Why this version was made (an amendment) or why it was marked entered in error, by whom and when.
    change_reason TEXT,
    changed_by INTEGER REFERENCES staff (id),
    changed_at TEXT
);
CREATE INDEX obs_set_patient ON obs_set (patient_id, taken_at);
CREATE INDEX obs_set_versions ON obs_set (set_id);

CREATE TABLE scale2 (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    target_low INTEGER NOT NULL,
    target_high INTEGER NOT NULL,
    reason TEXT NOT NULL,
    prescribed_by INTEGER NOT NULL REFERENCES staff (id),
    prescribed_at TEXT NOT NULL,
    ended_by INTEGER REFERENCES staff (id),
    ended_at TEXT,
    end_reason TEXT
);
CREATE INDEX scale2_patient ON scale2 (patient_id, ended_at);

CREATE TABLE escalation (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    place_code TEXT NOT NULL REFERENCES place (code),
    -- The set that raised it (its first version's id) and the version whose score it carries now.
    set_id INTEGER NOT NULL REFERENCES obs_set (id),
    version_id INTEGER NOT NULL REFERENCES obs_set (id),
    level TEXT NOT NULL CHECK (level IN ('ward', 'single-red', 'urgent', 'emergency')),
    score INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'closed', 'superseded')),
    raised_at TEXT NOT NULL,
    -- 0 first notice, 1 re-notified, 2 nurse in charge, 3 registrar.
    stage INTEGER NOT NULL,
    notified_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by INTEGER REFERENCES staff (id),
    reviewed_at TEXT,
    reviewed_by INTEGER REFERENCES staff (id),
    review_note TEXT,
    superseded_by INTEGER REFERENCES escalation (id),
    -- Set when the set behind it was corrected to a lower score or entered in error: the people responding see why.
    note TEXT
);
CREATE INDEX escalation_patient ON escalation (patient_id, state);
CREATE INDEX escalation_state ON escalation (state, place_code);

CREATE TABLE escalation_event (
    id INTEGER PRIMARY KEY,
    escalation_id INTEGER NOT NULL REFERENCES escalation (id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    what TEXT NOT NULL,
    note TEXT
);
CREATE INDEX escalation_event_escalation ON escalation_event (escalation_id, id);
