-- Escalations are found by the set that raised them when that set is corrected.
CREATE INDEX escalation_set ON escalation (set_id);
