-- Revalidation: CPD says whether it was participatory (learning with others) and how it was done, and a registrant
-- records the rest of what their regulator asks (practice hours outside the roster, feedback, reflective accounts,
-- the reflective discussion, the confirmation). `with_whom` names the other registrant or the confirmer, as given.
ALTER TABLE cpd_entry ADD COLUMN participatory INTEGER NOT NULL DEFAULT 0 CHECK (participatory IN (0, 1));
ALTER TABLE cpd_entry ADD COLUMN method TEXT CHECK (method IN ('course', 'study-day', 'e-learning', 'conference',
    'workshop', 'reading', 'shadowing', 'supervision', 'other'));

CREATE TABLE revalidation_evidence (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    kind TEXT NOT NULL CHECK (kind IN ('practice-hours', 'feedback', 'reflective-account', 'reflective-discussion',
        'confirmation')),
    done_on TEXT NOT NULL,
    minutes INTEGER NOT NULL DEFAULT 0 CHECK (minutes >= 0),
    note TEXT NOT NULL,
    with_whom TEXT,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX revalidation_evidence_staff ON revalidation_evidence (staff_id, done_on);
