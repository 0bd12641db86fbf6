-- The pregnancy enquiry's answer in full, including "no possibility of pregnancy" (the Society of Radiographers'
-- inclusive pregnancy status guidance), which the older `pregnancy` column's constraint does not allow: that column
-- keeps the nearest older answer for history, this one is read.
ALTER TABLE imaging_request ADD COLUMN pregnancy_answer TEXT;
UPDATE imaging_request SET pregnancy_answer = pregnancy WHERE pregnancy IS NOT NULL;

-- DRLs compared the way they are set: each projection's DAP (JSON, mGy·cm², in the order of the projections) where
-- the DRL is per projection, and the projections found above it.
ALTER TABLE imaging_exposure ADD COLUMN projection_dap TEXT;
ALTER TABLE imaging_exposure ADD COLUMN drl_per TEXT;
ALTER TABLE imaging_exposure ADD COLUMN drl_over TEXT;
