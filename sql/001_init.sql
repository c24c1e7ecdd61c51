-- net2vec catalog, schema version 1.
--
-- The catalog is the source of truth for every probe set, network, run, space and concept
-- embedding; FAISS indexes and server caches are rebuilt from it. Catalog::open runs each
-- sql/NNN_*.sql with NNN > PRAGMA user_version in its own transaction and then sets
-- user_version = NNN, so a file is always at exactly one schema version.
--
-- Conventions:
--   * Vectors (embedding.vector) are BLOBs of little-endian IEEE-754 float32, 4 * dim bytes,
--     in filter order. Little-endian is fixed (not "host order") so files move between
--     machines; sqlite3 users can decode them with e.g. numpy.frombuffer(blob, '<f4').
--   * Scalar scores are REAL (float32 values widen to double exactly, so they read back
--     bit-exact). NULL means "not measured" (e.g. set IoU of a classification space).
--   * JSON columns hold the text as the ingest gave it; NULL when it gave none.
--   * Times are ISO 8601 UTC text ("2026-01-31T12:00:00Z").
--   * Rows that belong to a space (embeddings, their subset scores and per-image IoUs) go
--     with it through ON DELETE CASCADE, so replacing a space is one DELETE + inserts.

-- 'N2VC': tells a net2vec catalog from any other SQLite file.
PRAGMA application_id = 1311921731;

-- A BRODEN-format probe set. Keyed by its path: the same directory ingested twice is the
-- same probe set (its rows are upserted), a copy elsewhere is another one.
CREATE TABLE probe_set (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  path         TEXT NOT NULL UNIQUE,
  image_count  INTEGER NOT NULL CHECK (image_count >= 0),
  mask_height  INTEGER NOT NULL CHECK (mask_height >= 0),
  mask_width   INTEGER NOT NULL CHECK (mask_width >= 0),
  categories   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(categories)),  -- JSON array
  updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- A label of a probe set (label.csv). Concept ids are stable across re-ingests (upsert on
-- (probe_set_id, number)), so embeddings of other spaces keep pointing at the same rows.
CREATE TABLE concept (
  id            INTEGER PRIMARY KEY,
  probe_set_id  INTEGER NOT NULL REFERENCES probe_set(id) ON DELETE CASCADE,
  number        INTEGER NOT NULL,          -- BRODEN label number
  name          TEXT NOT NULL,
  category      TEXT NOT NULL,             -- primary category
  categories    TEXT NOT NULL DEFAULT '',  -- raw label.csv cell, "object(3);part(1)"
  frequency     INTEGER NOT NULL DEFAULT 0,
  coverage      REAL NOT NULL DEFAULT 0,
  syns          TEXT NOT NULL DEFAULT '',
  UNIQUE (probe_set_id, number)
);
CREATE INDEX concept_by_name ON concept(name);

-- An image of a probe set, as far as stored results refer to it (image_iou).
CREATE TABLE probe_image (
  id            INTEGER PRIMARY KEY,
  probe_set_id  INTEGER NOT NULL REFERENCES probe_set(id) ON DELETE CASCADE,
  row           INTEGER NOT NULL CHECK (row >= 0),  -- 0-based data row of index.csv
  path          TEXT NOT NULL,
  split         TEXT NOT NULL CHECK (split IN ('train', 'val')),
  UNIQUE (probe_set_id, row)
);

-- A network, by the name the user gave it; model_path is the latest file ingested under
-- that name (each run keeps its own).
CREATE TABLE network (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  model_path  TEXT NOT NULL,
  updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- One ingest: activations of one layer of one network over one probe set, and everything
-- needed to reproduce it. A run lives as long as some space refers to it.
CREATE TABLE run (
  id                INTEGER PRIMARY KEY,
  network_id        INTEGER NOT NULL REFERENCES network(id),
  probe_set_id      INTEGER NOT NULL REFERENCES probe_set(id),
  model_path        TEXT NOT NULL,
  layer             TEXT NOT NULL,      -- the layer as the model names it
  device            TEXT NOT NULL,
  software_version  TEXT NOT NULL,
  seed              INTEGER NOT NULL,
  tau               REAL NOT NULL,
  params            TEXT CHECK (params IS NULL OR json_valid(params)),
  preprocessing     TEXT CHECK (preprocessing IS NULL OR json_valid(preprocessing)),
  timings           TEXT CHECK (timings IS NULL OR json_valid(timings)),
  started_at        TEXT NOT NULL,
  finished_at       TEXT NOT NULL,
  images_used       INTEGER NOT NULL CHECK (images_used >= 0),
  images_skipped    INTEGER NOT NULL CHECK (images_skipped >= 0),
  filter_count      INTEGER NOT NULL CHECK (filter_count > 0),  -- K
  act_height        INTEGER NOT NULL,
  act_width         INTEGER NOT NULL
);
CREATE INDEX run_by_network ON run(network_id);

-- T_k, the per-filter activation threshold of a run (top tau quantile).
CREATE TABLE threshold (
  run_id  INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  filter  INTEGER NOT NULL CHECK (filter >= 0),
  value   REAL NOT NULL,
  PRIMARY KEY (run_id, filter)
) WITHOUT ROWID;

-- What queries address: (network, layer, task) -> "alexnet.conv5.seg". kind 'network'
-- spaces come from a run; 'reference' spaces (WordNet / GloVe, for comparisons) have none.
CREATE TABLE space (
  id          TEXT PRIMARY KEY,
  network     TEXT NOT NULL,   -- id part: the network name (or the reference source)
  layer       TEXT NOT NULL,   -- id part: the layer (URL-safe form)
  task        TEXT NOT NULL CHECK (task IN ('segmentation', 'classification')),
  kind        TEXT NOT NULL DEFAULT 'network' CHECK (kind IN ('network', 'reference')),
  run_id      INTEGER REFERENCES run(id),
  dim         INTEGER NOT NULL CHECK (dim > 0),
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  CHECK ((kind = 'network') = (run_id IS NOT NULL))
);
CREATE INDEX space_by_run ON space(run_id);

-- A concept embedding: the weights w (and bias) over the dim filters of the space's layer,
-- with the scores of eq. 3 / the balanced accuracy and the best single filter's.
CREATE TABLE embedding (
  id                 INTEGER PRIMARY KEY,
  space_id           TEXT NOT NULL REFERENCES space(id) ON DELETE CASCADE,
  concept_id         INTEGER NOT NULL REFERENCES concept(id),
  vector             BLOB NOT NULL,      -- float32 LE x dim
  bias               REAL NOT NULL,
  alpha              REAL NOT NULL,      -- segmentation loss weight (eq. 4); 0 for cls
  train_count        INTEGER NOT NULL,   -- images of the concept in each split
  val_count          INTEGER NOT NULL,
  set_iou_train      REAL,               -- segmentation: set IoU of the learned weights
  set_iou_val        REAL,
  accuracy_train     REAL,               -- classification: balanced accuracy
  accuracy_val       REAL,
  best_filter        INTEGER NOT NULL,   -- best single filter (chosen on train); -1: none
  best_filter_train  REAL,               -- its IoU / accuracy
  best_filter_val    REAL,
  UNIQUE (space_id, concept_id)          -- also the "embeddings of a space" index
);

-- The F sweep: the score of the embedding restricted to its top-F filters.
CREATE TABLE subset_score (
  embedding_id  INTEGER NOT NULL REFERENCES embedding(id) ON DELETE CASCADE,
  filters       INTEGER NOT NULL CHECK (filters > 0),  -- F
  score         REAL,     -- val set IoU (segmentation) or val balanced accuracy (cls)
  PRIMARY KEY (embedding_id, filters)
) WITHOUT ROWID;

-- Segmentation only: IoU on every val image of the concept, learned weights vs best filter.
-- The biggest table (~concepts x val images); WITHOUT ROWID keeps it to one b-tree.
CREATE TABLE image_iou (
  embedding_id    INTEGER NOT NULL REFERENCES embedding(id) ON DELETE CASCADE,
  probe_image_id  INTEGER NOT NULL REFERENCES probe_image(id),
  learned         REAL,   -- NULL: undefined (empty union)
  single          REAL,
  PRIMARY KEY (embedding_id, probe_image_id)
) WITHOUT ROWID;

-- What `sqlite3 catalog.db` users (and the demo) read.
CREATE VIEW space_summary AS
SELECT s.id, s.network, s.layer, s.task, s.dim,
       (SELECT count(*) FROM embedding e WHERE e.space_id = s.id) AS concept_count,
       s.created_at
FROM space s;

CREATE VIEW embedding_summary AS
SELECT e.space_id, c.name AS concept, c.category, e.train_count, e.val_count,
       e.set_iou_val, e.accuracy_val, e.best_filter, e.best_filter_val
FROM embedding e JOIN concept c ON c.id = e.concept_id;
