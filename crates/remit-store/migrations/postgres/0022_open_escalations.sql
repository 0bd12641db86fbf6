-- Each patient's open or acknowledged escalations, newest last. Recording a set asks for the patient's latest (to
-- carry it forward or supersede it): through `escalation_patient` that was a probe for each of the two states and a
-- sort; this is the end of one range. On SQLite the probe and the sort each built a temporary b-tree on every set.
CREATE INDEX escalation_open ON escalation (patient_id, id) WHERE state IN ('open', 'acknowledged');
