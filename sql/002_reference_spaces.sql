-- net2vec catalog, schema version 2: reference spaces.
--
-- Reference spaces (kind 'reference': WordNet hypernym closures, GloVe / word2vec vectors)
-- come from outside any network. Version 1 already allowed kind = 'reference' with no run,
-- but required a task, which a reference space does not have. This migration
--   * makes space.task NULL exactly for reference spaces (NOT NULL for network spaces),
--   * adds space.source: where a reference space's vectors came from (NULL for network
--     spaces, whose origin is their run),
--   * adds kind and source to the space_summary view (its earlier columns are unchanged).
--
-- A reference space's id is one id part ("wordnet", "glove-100d"); network ids always have
-- three ("alexnet.conv5.seg"), so the two never collide. Its network column holds the id and
-- its layer column is ''. Its embedding rows hold one vector per distinct concept name,
-- attached to the concept row with the lowest id of that name; bias and alpha are 0, counts
-- 0, best_filter -1 and every score NULL.
--
-- SQLite cannot change a column constraint in place, so the table is rebuilt following
-- SQLite's procedure (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys
-- are off while migrations run (Catalog::open enables them afterwards and checks them with
-- PRAGMA foreign_key_check), so dropping the old table does not cascade to embedding, whose
-- REFERENCES space(id) then resolves to the new table. The view that reads space is dropped
-- first and recreated last.

CREATE TABLE space_v2 (
  id          TEXT PRIMARY KEY,
  network     TEXT NOT NULL,   -- id part: the network name (reference spaces: the id)
  layer       TEXT NOT NULL,   -- id part: the layer (URL-safe form); '' for reference spaces
  task        TEXT CHECK (task IN ('segmentation', 'classification')),  -- NULL: reference
  kind        TEXT NOT NULL DEFAULT 'network' CHECK (kind IN ('network', 'reference')),
  run_id      INTEGER REFERENCES run(id),
  dim         INTEGER NOT NULL CHECK (dim > 0),
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  source      TEXT,            -- reference spaces: where the vectors came from; else NULL
  CHECK ((kind = 'network') = (run_id IS NOT NULL)),
  CHECK ((kind = 'network') = (task IS NOT NULL))
);

-- Version 1 could only hold network spaces in practice (a reference row would have needed
-- a task); should one exist, its task is dropped to satisfy the new rule.
INSERT INTO space_v2(id, network, layer, task, kind, run_id, dim, created_at)
SELECT id, network, layer, CASE WHEN kind = 'network' THEN task END, kind, run_id, dim,
       created_at
FROM space;

DROP VIEW space_summary;
DROP TABLE space;
ALTER TABLE space_v2 RENAME TO space;
CREATE INDEX space_by_run ON space(run_id);

CREATE VIEW space_summary AS
SELECT s.id, s.network, s.layer, s.task, s.dim,
       (SELECT count(*) FROM embedding e WHERE e.space_id = s.id) AS concept_count,
       s.created_at, s.kind, s.source
FROM space s;
