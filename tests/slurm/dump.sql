-- Everything an ingest stores, keyed by names rather than row ids and without times, so that
-- two catalogs holding the same spaces print the same lines (after sort -u: shards repeat
-- the probe set, its concepts and the networks). Reals as %!.17g: exact round trip.
.mode list
.separator |
SELECT 'space', id, network, layer, task, kind, dim, concept_count FROM space_summary;
SELECT 'network', name, model_path FROM network;
SELECT 'probe_set', name, path, image_count, mask_height, mask_width, categories, content_hash
FROM probe_set;
SELECT 'concept', p.path, c.number, c.name, c.category, c.categories, c.frequency,
       printf('%!.17g', c.coverage), c.syns
FROM concept c JOIN probe_set p ON p.id = c.probe_set_id;
SELECT 'probe_image', p.path, i.row, i.path, i.split
FROM probe_image i JOIN probe_set p ON p.id = i.probe_set_id;
SELECT 'run', s.id, n.name, p.path, r.model_path, r.layer, r.device, r.software_version, r.seed,
       printf('%!.17g', r.tau), r.params, r.preprocessing, r.images_used, r.images_skipped,
       r.filter_count, r.act_height, r.act_width
FROM space s JOIN run r ON r.id = s.run_id JOIN network n ON n.id = r.network_id
     JOIN probe_set p ON p.id = r.probe_set_id;
SELECT 'threshold', s.id, t.filter, printf('%!.17g', t.value)
FROM space s JOIN threshold t ON t.run_id = s.run_id;
SELECT 'embedding', e.space_id, p.path, c.number, hex(e.vector), printf('%!.17g', e.bias),
       printf('%!.17g', e.alpha), e.train_count, e.val_count,
       printf('%!.17g', e.set_iou_train), printf('%!.17g', e.set_iou_val),
       printf('%!.17g', e.accuracy_train), printf('%!.17g', e.accuracy_val), e.best_filter,
       printf('%!.17g', e.best_filter_train), printf('%!.17g', e.best_filter_val),
       hex(e.filter_iou_val)
FROM embedding e JOIN concept c ON c.id = e.concept_id JOIN probe_set p ON p.id = c.probe_set_id;
SELECT 'subset_score', e.space_id, c.number, s.filters, printf('%!.17g', s.score)
FROM subset_score s JOIN embedding e ON e.id = s.embedding_id JOIN concept c ON c.id = e.concept_id;
SELECT 'image_iou', e.space_id, c.number, i.row, printf('%!.17g', x.learned),
       printf('%!.17g', x.single)
FROM image_iou x JOIN embedding e ON e.id = x.embedding_id JOIN concept c ON c.id = e.concept_id
     JOIN probe_image i ON i.id = x.probe_image_id;
SELECT 'predicted_mask', e.space_id, c.number, i.row, m.height, m.width, hex(m.learned),
       hex(m.single)
FROM predicted_mask m JOIN embedding e ON e.id = m.embedding_id
     JOIN concept c ON c.id = e.concept_id JOIN probe_image i ON i.id = m.probe_image_id;
