-- X-ray requests from referral to report (IR(ME)R), exposure records, diagnoses and prescriptions.
CREATE TABLE imaging_request (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    department TEXT NOT NULL REFERENCES place (code),
    examination TEXT NOT NULL,
    region TEXT NOT NULL,
    clinical_info TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('referred', 'justified', 'rejected', 'returned', 'exposed', 'reported')),
    referrer_id INTEGER NOT NULL REFERENCES staff (id),
    referred_at TEXT NOT NULL,
    practitioner_id INTEGER REFERENCES staff (id),
    decided_at TEXT,
    -- The justification note, or the reason for a rejection.
    decision_note TEXT,
    pregnancy TEXT CHECK (pregnancy IN ('not-pregnant', 'could-be', 'is-pregnant', 'declined')),
    pregnancy_by INTEGER REFERENCES staff (id),
    pregnancy_at TEXT,
    -- Why the request was returned to the practitioner.
    returned_reason TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX imaging_request_status ON imaging_request (status, referred_at);
CREATE INDEX imaging_request_patient ON imaging_request (patient_id);

CREATE TABLE imaging_exposure (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL UNIQUE REFERENCES imaging_request (id),
    operator_id INTEGER NOT NULL REFERENCES staff (id),
    supervisor_id INTEGER REFERENCES staff (id),
    exposed_at TEXT NOT NULL,
    projections TEXT NOT NULL,
    kv INTEGER NOT NULL,
    mas_hundredths INTEGER NOT NULL,
    dap INTEGER NOT NULL,
    sid_cm INTEGER NOT NULL,
    repeats TEXT NOT NULL,
    drl_dap INTEGER NOT NULL,
    drl_exceeded INTEGER NOT NULL CHECK (drl_exceeded IN (0, 1))
);
CREATE INDEX imaging_exposure_operator ON imaging_exposure (operator_id, exposed_at);
CREATE INDEX imaging_exposure_drl ON imaging_exposure (drl_exceeded, exposed_at);

CREATE TABLE imaging_report (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL UNIQUE REFERENCES imaging_request (id),
    reporter_id INTEGER NOT NULL REFERENCES staff (id),
    reported_at TEXT NOT NULL,
    findings TEXT NOT NULL,
    conclusion TEXT NOT NULL
);

CREATE TABLE diagnosis (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    recorded_by INTEGER NOT NULL REFERENCES staff (id),
    recorded_at TEXT NOT NULL,
    text TEXT NOT NULL,
    snomed TEXT
);
CREATE INDEX diagnosis_patient ON diagnosis (patient_id);

CREATE TABLE prescription (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    prescriber_id INTEGER NOT NULL REFERENCES staff (id),
    prescribed_at TEXT NOT NULL,
    medicine TEXT NOT NULL,
    dose TEXT NOT NULL,
    route TEXT NOT NULL,
    frequency TEXT NOT NULL
);
CREATE INDEX prescription_patient ON prescription (patient_id);
