-- net2vec catalog, schema version 8: runs that can be reproduced (issue 21 part 3).
--
-- A run records the SHA-256 of its model file (lowercase hex) beside the probe set's content
-- hash (probe_set.content_hash, version 5), so `net2vec-ingest --reproduce SPACE` can tell
-- the same model from a changed or moved one before re-running the run's recorded parameters.
-- NULL: ingested before version 8 (such a run reproduces without the model check).
ALTER TABLE run ADD COLUMN model_sha256 TEXT;
