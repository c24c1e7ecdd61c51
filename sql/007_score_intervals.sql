-- net2vec catalog, schema version 7: how far each val score can be trusted (issue 21).
--
-- For the learned weights' val score (set IoU or balanced accuracy) and the best single
-- filter's, ingest stores a 95 % percentile bootstrap interval over the val images and a
-- p-value against chance with the mean of its null distribution (docs/METHOD.md, "Intervals
-- and chance"). The run's params JSON records the resamples and permutations used.
-- NULL: not computed (ingested before version 7, turned off, or no best filter).
ALTER TABLE embedding ADD COLUMN score_val_low REAL;
ALTER TABLE embedding ADD COLUMN score_val_high REAL;
ALTER TABLE embedding ADD COLUMN score_val_p REAL;
ALTER TABLE embedding ADD COLUMN score_val_null_mean REAL;
ALTER TABLE embedding ADD COLUMN best_filter_val_low REAL;
ALTER TABLE embedding ADD COLUMN best_filter_val_high REAL;
ALTER TABLE embedding ADD COLUMN best_filter_val_p REAL;
ALTER TABLE embedding ADD COLUMN best_filter_val_null_mean REAL;

-- Set IoU over a resample of images is sum(intersection) / sum(union), which the per-image
-- IoU alone cannot give: each val image's intersection and union in mask pixels, learned
-- weights and best single filter. NULL: ingested before version 7.
ALTER TABLE image_iou ADD COLUMN learned_inter REAL;
ALTER TABLE image_iou ADD COLUMN learned_union REAL;
ALTER TABLE image_iou ADD COLUMN single_inter REAL;
ALTER TABLE image_iou ADD COLUMN single_union REAL;
