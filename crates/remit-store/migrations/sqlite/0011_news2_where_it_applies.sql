-- NEWS2 only where it applies, escalations that a worse score raises again, grades that escalation routes name,
-- and observations recorded as not done.

-- A grade or team the policy pack's escalation routes name (specialty-registrar, critical-care-outreach).
ALTER TABLE staff ADD COLUMN grade TEXT;

-- Pregnancy as recorded on the patient's record (NEWS2 does not apply in pregnancy or up to six weeks after birth),
-- until a date (inclusive) or, for a pregnancy, until recorded otherwise.
ALTER TABLE patient ADD COLUMN pregnancy TEXT CHECK (pregnancy IN ('pregnant', 'postpartum'));
ALTER TABLE patient ADD COLUMN pregnancy_until TEXT;

-- Why NEWS2 did not apply to a set ('under-16', 'pregnant', 'postpartum'): it was recorded, not scored.
ALTER TABLE obs_set ADD COLUMN not_scored TEXT CHECK (not_scored IN ('under-16', 'pregnant', 'postpartum'));

-- 0 for an escalation raised by a set that NEWS2 did not score (the registered nurse judges it).
ALTER TABLE escalation ADD COLUMN scored INTEGER NOT NULL DEFAULT 1;
-- What the escalation says beyond its score: why there is none, or what was missing from its set.
ALTER TABLE escalation ADD COLUMN about TEXT;
-- The clock of the wait in progress (for acknowledgement, or for review once acknowledged) starts at notified_at,
-- and stage counts the steps taken along that wait's cascade.

-- Observations that were due and not done, with the reason: the patient stays overdue and the nurse is told.
CREATE TABLE obs_missed (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    at TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES staff (id),
    reason TEXT NOT NULL
);
CREATE INDEX obs_missed_patient ON obs_missed (patient_id, at);

-- Escalations already acknowledged wait for review on a clock of their own from their acknowledgement.
UPDATE escalation SET stage = 0, notified_at = acknowledged_at WHERE state = 'acknowledged' AND acknowledged_at IS NOT NULL;
