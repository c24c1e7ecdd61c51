-- net2vec catalog, schema version 5: probe sets identified by content.
--
-- Catalog shards written on different machines (net2vec merge, docs/SCALE.md) see the same
-- probe set at different paths. Ingest records a hash of its index.csv, label.csv and
-- category files; a probe set with the same hash is the same probe set, whatever its path,
-- so shards probed with it share its concepts and images. NULL: ingested before version 5
-- (such a probe set is matched by path, as before).
ALTER TABLE probe_set ADD COLUMN content_hash TEXT;
CREATE INDEX probe_set_by_hash ON probe_set(content_hash);
