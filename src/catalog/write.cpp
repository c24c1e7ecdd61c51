// Writing: write_ingest (validation, then one transaction of rows) and reference spaces.

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "catalog/catalog.h"
#include "catalog/detail/codec.h"
#include "catalog/detail/impl.h"
#include "catalog/detail/sqlite.h"
#include "common/error.h"

namespace n2v {

using detail::encode_vector;
using detail::fault_point;
using detail::id_parts;
using detail::packed_mask_bytes;
using detail::Stmt;
using detail::Transaction;
using detail::valid_json;

void detail::fault_point(int64_t rows_written, bool before_commit) {
  static const int64_t after = [] {
    const char* value = std::getenv("NET2VEC_FAULT");
    constexpr std::string_view kAfter = "catalog-write-after-";
    if (value == nullptr) return int64_t{-1};
    if (std::string_view(value) == "catalog-write-before-commit") return int64_t{-2};
    if (std::string_view(value).substr(0, kAfter.size()) != kAfter) return int64_t{-1};
    return static_cast<int64_t>(std::strtoll(value + kAfter.size(), nullptr, 10));
  }();
  if (after != -1 && (before_commit ? after == -2 : after == rows_written)) std::raise(SIGKILL);
}

// ---- Validation: everything write_ingest can check before touching the file ----

void Catalog::Impl::validate(const IngestRecord& record) {
  const RunRecord& run = record.run;
  N2V_CHECK(!record.probe.path.empty(), kInvalidArgument, "ingest record: empty probe set path");
  check_id_part(run.network, "network name");
  N2V_CHECK(!run.layer.empty(), kInvalidArgument, "ingest record: empty layer name");
  N2V_CHECK(run.filter_count > 0, kInvalidArgument,
            "ingest record: filter count must be positive, got " << run.filter_count);
  N2V_CHECK(run.thresholds.size() == static_cast<size_t>(run.filter_count), kInvalidArgument,
            "ingest record: " << run.thresholds.size() << " thresholds for " << run.filter_count
                              << " filters");
  for (size_t k = 0; k < run.thresholds.size(); ++k)
    N2V_CHECK(std::isfinite(run.thresholds[k]), kInvalidArgument,
              "ingest record: threshold of filter " << k << " is " << run.thresholds[k]);
  const std::pair<const char*, const std::string*> json_fields[] = {
      {"params", &run.params_json},
      {"preprocessing", &run.preprocessing_json},
      {"timings", &run.timings_json}};
  for (const auto& [name, text] : json_fields)
    N2V_CHECK(valid_json(*text), kInvalidArgument,
              "ingest record: run " << name << " is not valid JSON: " << *text);

  N2V_CHECK(!run.top_images_per_filter || *run.top_images_per_filter >= 0, kInvalidArgument,
            "ingest record: top images per filter must be >= 0, got " << *run.top_images_per_filter);
  std::unordered_set<int> rows;
  for (const ProbeImageRecord& image : record.images) {
    N2V_CHECK(image.row >= 0 && rows.insert(image.row).second, kInvalidArgument,
              "ingest record: probe image row " << image.row << " is negative or repeated");
    N2V_CHECK(image.split == "train" || image.split == "val", kInvalidArgument,
              "ingest record: probe image row " << image.row << " has split '" << image.split
                                                << "' (expected train or val)");
  }
  {
    // (filter, rank) once each, ranks below N, and an image at most once per filter.
    std::unordered_set<int64_t> ranks, images;
    const int n = run.top_images_per_filter.value_or(0);
    for (const FilterTopImageRecord& t : run.top_images) {
      const std::string what = "ingest record: top image " + std::to_string(t.rank) + " of filter " + std::to_string(t.filter);
      N2V_CHECK(t.filter >= 0 && t.filter < run.filter_count && t.rank >= 0 && t.rank < n, kInvalidArgument,
                what << " is out of range (" << run.filter_count << " filters, " << n << " images each)");
      N2V_CHECK(ranks.insert(int64_t{t.filter} * n + t.rank).second, kInvalidArgument, what << " is given twice");
      N2V_CHECK(rows.count(t.image_row) != 0 && images.insert((int64_t{t.filter} << 32) | uint32_t(t.image_row)).second,
                kInvalidArgument, what << ": image row " << t.image_row << " is not a probe image, or repeated");
      N2V_CHECK(!std::isnan(t.max_activation), kInvalidArgument, what << ": max activation is NaN");
      N2V_CHECK(t.height > 0 && t.width > 0 && t.map.size() == packed_mask_bytes(t.height, t.width), kInvalidArgument,
                what << ": map of " << t.map.size() << " bytes is not " << t.height << " x " << t.width << " bits");
    }
  }

  std::unordered_map<int, const ConceptRecord*> concepts;
  for (const ConceptRecord& c : record.concepts) {
    N2V_CHECK(concepts.emplace(c.number, &c).second, kInvalidArgument,
              "ingest record: concept number " << c.number << " appears twice");
  }

  N2V_CHECK(!record.spaces.empty(), kInvalidArgument, "ingest record: no spaces to write");
  std::unordered_set<std::string> space_ids;
  for (const SpaceRecord& space : record.spaces) {
    N2V_CHECK(space_ids.insert(space.id).second, kInvalidArgument,
              "ingest record: space '" << space.id << "' appears twice");
    const std::vector<std::string> parts = id_parts(space.id);
    N2V_CHECK(!parts.empty() && parts[2] == short_name(space.task), kInvalidArgument,
              "ingest record: space id '" << space.id << "' is not <network>.<layer>."
                                          << short_name(space.task));
    check_id_part(parts[0], "network name");
    check_id_part(parts[1], "layer name");

    std::unordered_set<int> seen_concepts;
    for (const EmbeddingRecord& e : space.embeddings) {
      const auto it = concepts.find(e.concept_number);
      N2V_CHECK(it != concepts.end(), kInvalidArgument,
                "space " << space.id << ": concept number " << e.concept_number
                         << " is not among the probe set's concepts");
      const std::string& name = it->second->name;
      N2V_CHECK(seen_concepts.insert(e.concept_number).second, kInvalidArgument,
                "space " << space.id << ": concept '" << name << "' has two embeddings");
      N2V_CHECK(e.weights.size() == static_cast<size_t>(run.filter_count), kInvalidArgument,
                "space " << space.id << ", concept '" << name << "': vector has "
                         << e.weights.size() << " values but the layer has " << run.filter_count
                         << " filters");
      for (size_t k = 0; k < e.weights.size(); ++k)
        N2V_CHECK(std::isfinite(e.weights[k]), kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': weight " << k << " is "
                           << e.weights[k]);
      N2V_CHECK(std::isfinite(e.bias) && std::isfinite(e.alpha), kInvalidArgument,
                "space " << space.id << ", concept '" << name << "': bias " << e.bias << " / alpha "
                         << e.alpha << " not finite");
      N2V_CHECK(e.filter_iou_val.empty() ||
                    e.filter_iou_val.size() == static_cast<size_t>(run.filter_count),
                kInvalidArgument,
                "ingest record: space " << space.id << ", concept " << e.concept_number << ": "
                                        << e.filter_iou_val.size() << " filter IoUs but the layer has "
                                        << run.filter_count << " filters");
      N2V_CHECK(e.best_filter >= -1 && e.best_filter < run.filter_count, kInvalidArgument,
                "space " << space.id << ", concept '" << name << "': best filter " << e.best_filter
                         << " out of range");
      std::unordered_set<int> sizes;
      for (const SubsetScore& s : e.subsets)
        N2V_CHECK(s.filters > 0 && sizes.insert(s.filters).second, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': subset size " << s.filters
                           << " is not positive or repeated");
      for (const ScoreStatsRecord* st : {&e.score_val_stats, &e.best_filter_val_stats}) {
        const bool ordered = !(st->low && st->high) || std::isnan(*st->low) || *st->low <= *st->high;
        const bool p_ok = !st->p || std::isnan(*st->p) || (*st->p > 0 && *st->p <= 1);
        N2V_CHECK(ordered && p_ok, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': interval ["
                           << st->low.value_or(NAN) << ", " << st->high.value_or(NAN) << "] or p "
                           << st->p.value_or(NAN) << " out of order or range");
      }
      std::unordered_set<int> iou_rows;
      for (const ImageIouRecord& iou : e.image_iou) {
        N2V_CHECK(rows.count(iou.image_row) != 0, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': image row " << iou.image_row
                           << " is not among the probe images");
        N2V_CHECK(iou_rows.insert(iou.image_row).second, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': image row " << iou.image_row
                           << " appears twice");
      }
      std::unordered_set<int> mask_rows;
      for (const PredictedMaskRecord& m : e.predicted_masks) {
        const size_t bytes = packed_mask_bytes(m);
        N2V_CHECK(m.height > 0 && m.width > 0 && m.learned.size() == bytes && m.single.size() == bytes,
                  kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': predicted masks of image row "
                           << m.image_row << " are not " << m.height << " x " << m.width << " bits");
        N2V_CHECK(rows.count(m.image_row) != 0 && mask_rows.insert(m.image_row).second, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': predicted masks of image row "
                           << m.image_row << " (not a probe image, or given twice)");
      }
    }
  }
}

// ---- write_ingest ----

int64_t Catalog::write_ingest(const IngestRecord& record) {
  std::lock_guard lock(impl_->mutex);
  N2V_CHECK(impl_->mode == Mode::kReadWrite, kInvalidArgument,
            "catalog " << impl_->path << " is open read-only");
  Impl::validate(record);
  return impl_->write(record);
}

int64_t Catalog::Impl::write(const IngestRecord& record) {
  rows_written = 0;
  // IMMEDIATE takes the write lock now (waiting up to busy_timeout for another writer)
  // instead of failing half-way at the first write.
  Transaction tx(*this, "BEGIN IMMEDIATE");
  const int64_t run_id = write_rows(record);
  fault_point(rows_written, true);
  tx.commit();
  return run_id;
}

// One ingest's rows, in this order: each step needs the row ids of the ones before it.
int64_t Catalog::Impl::write_rows(const IngestRecord& record) {
  check_layer_spelling(record);
  const int64_t probe_set_id = upsert_probe_set(record.probe);
  // Upserts keep concept and image ids stable, so other spaces' rows stay attached.
  const RowIds concept_ids = upsert_concepts(probe_set_id, record.concepts);
  const RowIds image_ids = upsert_images(probe_set_id, record.images);
  const int64_t network_id = upsert_network(record.run);
  const int64_t run_id = insert_run(record.run, network_id, probe_set_id);
  insert_top_images(record.run, run_id, image_ids);
  replace_spaces(record.spaces, run_id, record.run.filter_count, concept_ids, image_ids);
  // Runs whose spaces were all replaced (their thresholds cascade).
  exec("DELETE FROM run WHERE id NOT IN (SELECT run_id FROM space WHERE run_id IS NOT NULL)",
       "deleting orphaned runs");
  return run_id;
}

void Catalog::Impl::check_layer_spelling(const IngestRecord& record) {
  const RunRecord& run = record.run;
  // Two spellings of a layer with one id part ("a.b" and "a-b"): replacing the other one's
  // space would lose it silently, so refuse, naming both.
  Stmt owner = prepare("SELECT r.layer FROM space s JOIN run r ON r.id = s.run_id WHERE s.id = ?1");
  for (const SpaceRecord& space : record.spaces) {
    owner.reset().bind_text(1, space.id);
    if (owner.step() && owner.text(0) != run.layer)
      N2V_THROW(kInvalidArgument, "layer '" << run.layer << "' and layer '" << owner.text(0) << "' of network '"
                                            << run.network << "' both map to space id '" << space.id
                                            << "' (" << path << " holds the second); ingest one of them "
                                            << "under another --network name");
  }
}

int64_t Catalog::Impl::upsert_probe_set(const ProbeSetRecord& probe) {
  // replace: a stray non-UTF-8 byte in a CSV header must not abort the ingest.
  const std::string categories =
      nlohmann::json(probe.categories).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The same content is the same probe set wherever it lies (shards of other machines); a
  // probe set without a hash is matched by path.
  int64_t probe_set_id = 0;
  if (!probe.content_hash.empty()) {
    Stmt find = prepare("SELECT id FROM probe_set WHERE content_hash = ?1 ORDER BY id LIMIT 1");
    find.bind_text(1, probe.content_hash);
    if (find.step()) probe_set_id = find.int64(0);
  }
  before_insert();
  if (probe_set_id != 0) {
    prepare(
        "UPDATE probe_set SET name = ?2, image_count = ?3, mask_height = ?4, mask_width = ?5,"
        " categories = ?6, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1")
        .bind_int(1, probe_set_id)
        .bind_text(2, probe.name)
        .bind_int(3, probe.image_count)
        .bind_int(4, probe.mask_height)
        .bind_int(5, probe.mask_width)
        .bind_text(6, categories)
        .run();
    return probe_set_id;
  }
  return prepare(
             "INSERT INTO probe_set(name, path, image_count, mask_height, mask_width, categories, content_hash)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
             " ON CONFLICT(path) DO UPDATE SET name = excluded.name,"
             " image_count = excluded.image_count, mask_height = excluded.mask_height,"
             " mask_width = excluded.mask_width, categories = excluded.categories,"
             " content_hash = coalesce(excluded.content_hash, content_hash),"
             " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
             " RETURNING id")
      .bind_text(1, probe.name)
      .bind_text(2, probe.path)
      .bind_int(3, probe.image_count)
      .bind_int(4, probe.mask_height)
      .bind_int(5, probe.mask_width)
      .bind_text(6, categories)
      .bind_text_or_null(7, probe.content_hash)
      .run_returning_id();
}

Catalog::Impl::RowIds Catalog::Impl::upsert_concepts(int64_t probe_set_id,
                                                     const std::vector<ConceptRecord>& concepts) {
  RowIds concept_ids;
  Stmt stmt = prepare(
      "INSERT INTO concept(probe_set_id, number, name, category, categories, frequency,"
      " coverage, syns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
      " ON CONFLICT(probe_set_id, number) DO UPDATE SET name = excluded.name,"
      " category = excluded.category, categories = excluded.categories,"
      " frequency = excluded.frequency, coverage = excluded.coverage, syns = excluded.syns"
      " RETURNING id");
  for (const ConceptRecord& c : concepts) {
    before_insert();
    concept_ids[c.number] = stmt.reset()
                                .bind_int(1, probe_set_id)
                                .bind_int(2, c.number)
                                .bind_text(3, c.name)
                                .bind_text(4, c.category)
                                .bind_text(5, c.categories)
                                .bind_int(6, c.frequency)
                                .bind_real(7, c.coverage)
                                .bind_text(8, c.syns)
                                .run_returning_id();
  }
  return concept_ids;
}

Catalog::Impl::RowIds Catalog::Impl::upsert_images(int64_t probe_set_id,
                                                   const std::vector<ProbeImageRecord>& images) {
  RowIds image_ids;
  Stmt stmt = prepare(
      "INSERT INTO probe_image(probe_set_id, row, path, split) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT(probe_set_id, row) DO UPDATE SET path = excluded.path,"
      " split = excluded.split RETURNING id");
  for (const ProbeImageRecord& image : images) {
    before_insert();
    image_ids[image.row] = stmt.reset()
                               .bind_int(1, probe_set_id)
                               .bind_int(2, image.row)
                               .bind_text(3, image.path)
                               .bind_text(4, image.split)
                               .run_returning_id();
  }
  return image_ids;
}

int64_t Catalog::Impl::upsert_network(const RunRecord& run) {
  before_insert();
  return prepare(
             "INSERT INTO network(name, model_path) VALUES (?1, ?2)"
             " ON CONFLICT(name) DO UPDATE SET model_path = excluded.model_path,"
             " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') RETURNING id")
      .bind_text(1, run.network)
      .bind_text(2, run.model_path)
      .run_returning_id();
}

// The run and its thresholds.
int64_t Catalog::Impl::insert_run(const RunRecord& run, int64_t network_id, int64_t probe_set_id) {
  before_insert();
  Stmt insert =
      prepare(
          "INSERT INTO run(network_id, probe_set_id, model_path, layer, device,"
          " software_version, seed, tau, params, preprocessing, timings, started_at,"
          " finished_at, images_used, images_skipped, filter_count, act_height, act_width, top_images,"
          " model_sha256)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
          " ?17, ?18, ?19, ?20) RETURNING id");
  insert
          .bind_int(1, network_id)
          .bind_int(2, probe_set_id)
          .bind_text(3, run.model_path)
          .bind_text(4, run.layer)
          .bind_text(5, run.device)
          .bind_text(6, run.software_version)
          .bind_int(7, run.seed)
          .bind_real(8, run.tau)
          .bind_text_or_null(9, run.params_json)
          .bind_text_or_null(10, run.preprocessing_json)
          .bind_text_or_null(11, run.timings_json)
          .bind_text(12, run.started_at)
          .bind_text(13, run.finished_at)
          .bind_int(14, run.images_used)
          .bind_int(15, run.images_skipped)
          .bind_int(16, run.filter_count)
          .bind_int(17, run.act_height)
          .bind_int(18, run.act_width)
          .bind_text_or_null(20, run.model_sha256);
  if (run.top_images_per_filter) insert.bind_int(19, *run.top_images_per_filter);  // else NULL: not recorded
  const int64_t run_id = insert.run_returning_id();
  Stmt stmt = prepare("INSERT INTO threshold(run_id, filter, value) VALUES (?1, ?2, ?3)");
  for (size_t k = 0; k < run.thresholds.size(); ++k) {
    before_insert();
    stmt.reset()
        .bind_int(1, run_id)
        .bind_int(2, static_cast<int64_t>(k))
        .bind_real(3, run.thresholds[k])
        .run();
  }
  return run_id;
}

// Each filter's top images (the run's, shared by its spaces).
void Catalog::Impl::insert_top_images(const RunRecord& run, int64_t run_id, const RowIds& image_ids) {
  Stmt stmt = prepare(
      "INSERT INTO filter_top_image(run_id, filter, rank, probe_image_id, max_activation, height, width, map)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  for (const FilterTopImageRecord& t : run.top_images) {
    before_insert();
    stmt.reset()
        .bind_int(1, run_id)
        .bind_int(2, t.filter)
        .bind_int(3, t.rank)
        .bind_int(4, image_ids.at(t.image_row))
        .bind_real(5, t.max_activation)
        .bind_int(6, t.height)
        .bind_int(7, t.width)
        .bind_blob(8, t.map.data(), t.map.size())
        .run();
  }
}

// Each space: the old one deleted, the new one inserted with its embeddings, their subset
// scores, per-image IoUs and predicted masks (statements prepared once for all spaces).
void Catalog::Impl::replace_spaces(const std::vector<SpaceRecord>& spaces, int64_t run_id, int dim,
                                   const RowIds& concept_ids, const RowIds& image_ids) {
  Stmt delete_space = prepare("DELETE FROM space WHERE id = ?1");
  Stmt insert_space = prepare(
      "INSERT INTO space(id, network, layer, task, kind, run_id, dim)"
      " VALUES (?1, ?2, ?3, ?4, 'network', ?5, ?6)");
  Stmt insert_embedding = prepare(
      "INSERT INTO embedding(space_id, concept_id, vector, bias, alpha, train_count,"
      " val_count, set_iou_train, set_iou_val, accuracy_train, accuracy_val, best_filter,"
      " best_filter_train, best_filter_val, filter_iou_val, score_val_low, score_val_high, score_val_p,"
      " score_val_null_mean, best_filter_val_low, best_filter_val_high, best_filter_val_p,"
      " best_filter_val_null_mean)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
      " ?21, ?22, ?23)");
  Stmt insert_subset =
      prepare("INSERT INTO subset_score(embedding_id, filters, score) VALUES (?1, ?2, ?3)");
  Stmt insert_iou = prepare(
      "INSERT INTO image_iou(embedding_id, probe_image_id, learned, single, learned_inter, learned_union,"
      " single_inter, single_union) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  Stmt insert_mask = prepare(
      "INSERT INTO predicted_mask(embedding_id, probe_image_id, height, width, learned, single)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (const SpaceRecord& space : spaces) {
    // The old space and, through ON DELETE CASCADE, its embeddings, subset scores and
    // image IoUs: a replaced space never keeps rows of concepts the new one lacks.
    delete_space.reset().bind_text(1, space.id).run();
    const std::vector<std::string> parts = id_parts(space.id);
    before_insert();
    insert_space.reset()
        .bind_text(1, space.id)
        .bind_text(2, parts[0])
        .bind_text(3, parts[1])
        .bind_text(4, to_string(space.task))
        .bind_int(5, run_id)
        .bind_int(6, dim)
        .run();
    for (const EmbeddingRecord& e : space.embeddings) {
      const std::vector<unsigned char> blob = encode_vector(e.weights);
      const std::vector<unsigned char> filter_blob = encode_vector(e.filter_iou_val);
      before_insert();
      insert_embedding.reset()
          .bind_text(1, space.id)
          .bind_int(2, concept_ids.at(e.concept_number))
          .bind_blob(3, blob.data(), blob.size())
          .bind_real(4, e.bias)
          .bind_real(5, e.alpha)
          .bind_int(6, e.train_count)
          .bind_int(7, e.val_count)
          .bind_opt(8, e.set_iou_train)
          .bind_opt(9, e.set_iou_val)
          .bind_opt(10, e.accuracy_train)
          .bind_opt(11, e.accuracy_val)
          .bind_int(12, e.best_filter)
          .bind_opt(13, e.best_filter_train)
          .bind_opt(14, e.best_filter_val);
      if (filter_blob.empty())
        insert_embedding.bind_null(15);
      else
        insert_embedding.bind_blob(15, filter_blob.data(), filter_blob.size());
      insert_embedding.bind_opt(16, e.score_val_stats.low)
          .bind_opt(17, e.score_val_stats.high)
          .bind_opt(18, e.score_val_stats.p)
          .bind_opt(19, e.score_val_stats.null_mean)
          .bind_opt(20, e.best_filter_val_stats.low)
          .bind_opt(21, e.best_filter_val_stats.high)
          .bind_opt(22, e.best_filter_val_stats.p)
          .bind_opt(23, e.best_filter_val_stats.null_mean);
      insert_embedding.run();
      const int64_t embedding_id = sqlite3_last_insert_rowid(db.get());
      for (const SubsetScore& s : e.subsets) {
        before_insert();
        insert_subset.reset()
            .bind_int(1, embedding_id)
            .bind_int(2, s.filters)
            .bind_opt(3, s.score)
            .run();
      }
      for (const ImageIouRecord& iou : e.image_iou) {
        before_insert();
        insert_iou.reset()
            .bind_int(1, embedding_id)
            .bind_int(2, image_ids.at(iou.image_row))
            .bind_opt(3, iou.learned)
            .bind_opt(4, iou.single)
            .bind_opt(5, iou.learned_inter)
            .bind_opt(6, iou.learned_union)
            .bind_opt(7, iou.single_inter)
            .bind_opt(8, iou.single_union)
            .run();
      }
      for (const PredictedMaskRecord& m : e.predicted_masks) {
        before_insert();
        insert_mask.reset()
            .bind_int(1, embedding_id)
            .bind_int(2, image_ids.at(m.image_row))
            .bind_int(3, m.height)
            .bind_int(4, m.width)
            .bind_blob(5, m.learned.data(), m.learned.size())
            .bind_blob(6, m.single.data(), m.single.size())
            .run();
      }
    }
  }
}

// ---- Reference spaces ----

void Catalog::write_reference_space(
    const std::string& id, const std::string& source_description, int dim,
    const std::vector<std::pair<std::string, std::vector<float>>>& vectors_by_concept_name) {
  std::lock_guard lock(impl_->mutex);
  N2V_CHECK(impl_->mode == Mode::kReadWrite, kInvalidArgument,
            "catalog " << impl_->path << " is open read-only");
  check_id_part(id, "reference space id");
  N2V_CHECK(dim > 0, kInvalidArgument,
            "reference space " << id << ": dimension must be positive, got " << dim);
  std::unordered_set<std::string> names;
  for (const auto& [name, vector] : vectors_by_concept_name) {
    N2V_CHECK(names.insert(name).second, kInvalidArgument,
              "reference space " << id << ": concept '" << name << "' appears twice");
    N2V_CHECK(vector.size() == static_cast<size_t>(dim), kInvalidArgument,
              "reference space " << id << ", concept '" << name << "': vector has "
                                 << vector.size() << " values, the space has dimension " << dim);
    for (size_t k = 0; k < vector.size(); ++k)
      N2V_CHECK(std::isfinite(vector[k]), kInvalidArgument,
                "reference space " << id << ", concept '" << name << "': value " << k << " is "
                                   << vector[k]);
  }

  Transaction tx(*impl_, "BEGIN IMMEDIATE");
  impl_->rows_written = 0;
  impl_->write_reference_rows(id, source_description, dim, vectors_by_concept_name, "");
  // (No run can be orphaned: the id, one id part, never names a network space.)
  fault_point(impl_->rows_written, true);
  tx.commit();
}

void Catalog::Impl::write_reference_rows(const std::string& id, const std::string& source, int dim,
                                         const std::vector<std::pair<std::string, std::vector<float>>>& vectors,
                                         const std::string& created_at) {
  // The concept row each name is attached to: the lowest id of that name.
  Stmt find_concept = prepare("SELECT min(id) FROM concept WHERE name = ?1");
  std::vector<int64_t> concept_ids;
  concept_ids.reserve(vectors.size());
  for (const auto& entry : vectors) {
    find_concept.reset().bind_text(1, entry.first);
    N2V_CHECK(find_concept.step() && !find_concept.is_null(0), kInvalidArgument,
              "reference space " << id << ": no concept named '" << entry.first << "' in catalog " << path);
    concept_ids.push_back(find_concept.int64(0));
  }
  // The old space and, by cascade, its embeddings (and any scores a network space had).
  prepare("DELETE FROM space WHERE id = ?1").bind_text(1, id).run();
  prepare(
      "INSERT INTO space(id, network, layer, task, kind, run_id, dim, source, created_at)"
      " VALUES (?1, ?1, '', NULL, 'reference', NULL, ?2, ?3,"
      " coalesce(?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))")
      .bind_text(1, id)
      .bind_int(2, dim)
      .bind_text(3, source)
      .bind_text_or_null(4, created_at)
      .run();
  Stmt insert = prepare(
      "INSERT INTO embedding(space_id, concept_id, vector, bias, alpha, train_count,"
      " val_count, best_filter) VALUES (?1, ?2, ?3, 0, 0, 0, 0, -1)");
  for (size_t i = 0; i < vectors.size(); ++i) {
    before_insert();
    const std::vector<unsigned char> blob = encode_vector(vectors[i].second);
    insert.reset().bind_text(1, id).bind_int(2, concept_ids[i]).bind_blob(3, blob.data(), blob.size()).run();
  }
}

}  // namespace n2v
