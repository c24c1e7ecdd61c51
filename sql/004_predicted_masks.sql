-- net2vec catalog, schema version 4: the predicted masks of the decile images (Figure 8).
--
-- The paper shows, for a concept, one val image at each decile of the non-zero part of the
-- per-image IoU distribution with the mask predicted by the learned weights and by the best
-- single filter. Ingest picks those images (at most 20 a concept: the deciles of either
-- distribution, src/common/deciles.h) and stores both masks here, at the probe set's mask
-- size: sigmoid(eq. 2) > 1/2 (learned) and S(I(A_k > T_k)) > 1/2 (single). Each mask is
-- bit-packed row-major, bit j of byte i = pixel 8i + j, ceil(height * width / 8) bytes.
-- Rows go with their embedding (a replaced space drops its masks).
CREATE TABLE predicted_mask (
  embedding_id    INTEGER NOT NULL REFERENCES embedding(id) ON DELETE CASCADE,
  probe_image_id  INTEGER NOT NULL REFERENCES probe_image(id),
  height          INTEGER NOT NULL CHECK (height > 0),
  width           INTEGER NOT NULL CHECK (width > 0),
  learned         BLOB NOT NULL,
  single          BLOB NOT NULL,
  PRIMARY KEY (embedding_id, probe_image_id)
) WITHOUT ROWID;
