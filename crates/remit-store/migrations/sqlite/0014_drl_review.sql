-- An exposure above its diagnostic reference level is reviewed by an IR(ME)R practitioner, who says what the review
-- found; until then it stays on the department's "above the DRL" worklist.
ALTER TABLE imaging_exposure ADD COLUMN drl_reviewed_by INTEGER REFERENCES staff (id);
ALTER TABLE imaging_exposure ADD COLUMN drl_reviewed_at TEXT;
ALTER TABLE imaging_exposure ADD COLUMN drl_review TEXT;
