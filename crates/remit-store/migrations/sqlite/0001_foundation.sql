-- remit foundation schema (SQLite). Instants are RFC 3339 UTC text with microseconds (text order = time order);
-- dates are YYYY-MM-DD text; flags are 0/1 integers.

CREATE TABLE place (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ward', 'department'))
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    job_title TEXT NOT NULL,
    level INTEGER CHECK (level BETWEEN 1 AND 9),
    trainee INTEGER NOT NULL DEFAULT 0 CHECK (trainee IN (0, 1)),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    password_hash TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE staff_role (
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    role TEXT NOT NULL,
    PRIMARY KEY (staff_id, role)
);

CREATE TABLE staff_membership (
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    body TEXT NOT NULL,
    PRIMARY KEY (staff_id, body)
);

CREATE TABLE registration (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    regulator TEXT NOT NULL,
    number TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    annotations TEXT NOT NULL DEFAULT '',
    UNIQUE (regulator, number)
);
CREATE INDEX registration_staff ON registration (staff_id);

CREATE TABLE entitlement (
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    entitlement TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (staff_id, entitlement)
);

CREATE TABLE duty (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    place_code TEXT NOT NULL REFERENCES place (code),
    starts_at TEXT NOT NULL,
    ends_at TEXT
);
CREATE INDEX duty_staff ON duty (staff_id, starts_at);
CREATE INDEX duty_place ON duty (place_code, starts_at);

CREATE TABLE patient (
    id INTEGER PRIMARY KEY,
    nhs_number TEXT NOT NULL UNIQUE,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    place_code TEXT NOT NULL REFERENCES place (code),
    bed TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX patient_place ON patient (place_code);

CREATE TABLE competency (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    validity_months INTEGER NOT NULL CHECK (validity_months > 0)
);

CREATE TABLE competency_record (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    competency_id TEXT NOT NULL REFERENCES competency (id),
    signed_off_on TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    assessor_id INTEGER REFERENCES staff (id),
    evidence TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT,
    revoke_reason TEXT
);
CREATE INDEX competency_record_staff ON competency_record (staff_id, competency_id);

CREATE TABLE web_session (
    id_hash TEXT PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX web_session_staff ON web_session (staff_id);

CREATE TABLE api_token (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE sign_in_attempt (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    at TEXT NOT NULL,
    succeeded INTEGER NOT NULL CHECK (succeeded IN (0, 1))
);
CREATE INDEX sign_in_attempt_username ON sign_in_attempt (username, at);

-- The append-only audit log and the head of its hash chain (one row, updated in the same transaction as each
-- append, which also serialises appends).
CREATE TABLE audit_entry (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    decision TEXT NOT NULL,
    reasons TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
