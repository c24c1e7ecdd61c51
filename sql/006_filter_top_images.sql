-- net2vec catalog, schema version 6: each filter's top images (NetDissect's view of a unit).
--
-- NetDissect shows a unit by the probe images where it fires most: images ranked by the
-- maximum of the unit's activation map over the image, the largest first, each with the map
-- thresholded at the unit's threshold. Ingest (--top-images N, 0 = off) keeps, per filter k
-- of the run's layer, the N images of the probe pass with the largest max_p a_k(p) (ties:
-- the earlier index.csv row first) and the map A_k > T_k at the activation map's size
-- (act_height x act_width; NetDissect upsamples the map before thresholding, we store what
-- training sees). Maps are bit-packed row-major like predicted_mask: bit j of byte i is
-- position 8i + j, ceil(height * width / 8) bytes. The rows belong to the run (seg and cls
-- spaces of one layer share them) and go with it.

-- N as ingest was asked for it; 0: off; NULL: ingested before version 6.
ALTER TABLE run ADD COLUMN top_images INTEGER CHECK (top_images IS NULL OR top_images >= 0);

CREATE TABLE filter_top_image (
  run_id          INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  filter          INTEGER NOT NULL CHECK (filter >= 0),
  rank            INTEGER NOT NULL CHECK (rank >= 0),  -- 0: the image where the filter fires most
  probe_image_id  INTEGER NOT NULL REFERENCES probe_image(id),
  max_activation  REAL NOT NULL,                      -- max over the map's positions of a_k
  height          INTEGER NOT NULL CHECK (height > 0),
  width           INTEGER NOT NULL CHECK (width > 0),
  map             BLOB NOT NULL,                      -- a_k > T_k, bit-packed
  PRIMARY KEY (run_id, filter, rank)
) WITHOUT ROWID;
