-- A patient's sets are read newest first, `ORDER BY taken_at DESC, id DESC` (the chart, the board's latest and
-- previous set). With the id in the index that order is a backward walk of it; without it PostgreSQL read and sorted
-- every set of the patient to find the newest few (SQLite's index already ended with the row id).
DROP INDEX obs_set_patient;
CREATE INDEX obs_set_patient ON obs_set (patient_id, taken_at, id);
