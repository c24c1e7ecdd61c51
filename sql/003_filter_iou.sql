-- net2vec catalog, schema version 3: the val set IoU of every single filter.
--
-- Segmentation computes IoU_set(c; M_k, val) for every filter k to pick the best one; the
-- paper (section 5.2, Figure 9) correlates the whole vector with max(w, 0), and per-filter
-- views need it. Stored like the weight vector: little-endian float32, dim values, filter
-- order; NULL for classification and reference spaces.
ALTER TABLE embedding ADD COLUMN filter_iou_val BLOB;
