-- A set's later versions are found by `set_id`, which is NULL on every first version: most rows. Indexing only the
-- rows that have one spares every recorded set an index entry that no query reads (`set_id = $1` implies it is not
-- NULL, so both databases use the partial index for it).
DROP INDEX obs_set_versions;
CREATE INDEX obs_set_versions ON obs_set (set_id) WHERE set_id IS NOT NULL;
