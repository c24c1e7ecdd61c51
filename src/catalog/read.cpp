// Reading: every reader of spaces, vectors, embeddings, scores, images, masks and runs, each
// on a pooled read-only connection (Impl::reader) and, where it reads twice, in one
// transaction, so that a concurrent writer's commit is wholly before or after it.

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/detail/codec.h"
#include "catalog/detail/impl.h"
#include "catalog/detail/sqlite.h"
#include "common/error.h"

namespace n2v {

using detail::Connection;
using detail::decode_embedding;
using detail::decode_run;
using detail::decode_vector;
using detail::kEmbeddingSelect;
using detail::kRunColumns;
using detail::packed_mask_bytes;
using detail::Stmt;
using detail::Transaction;

namespace {
constexpr const char* kSpaceSelect =
    "SELECT s.id, s.network, s.layer, s.kind, s.task, s.dim, s.run_id, s.created_at,"
    " (SELECT count(*) FROM embedding e WHERE e.space_id = s.id), s.source,"
    " (SELECT r.layer FROM run r WHERE r.id = s.run_id),"
    " (SELECT p.name FROM run r JOIN probe_set p ON p.id = r.probe_set_id WHERE r.id = s.run_id) FROM space s";

SpaceInfo read_space_row(const Stmt& stmt) {
  SpaceInfo info;
  info.id = stmt.text(0);
  info.network = stmt.text(1);
  info.layer = stmt.text(2);
  info.kind = parse_space_kind(stmt.text(3));  // the schema CHECKs network or reference
  if (!stmt.is_null(4)) info.task = parse_task(stmt.text(4));  // NULL: reference space
  info.dim = stmt.int32(5);
  info.run_id = stmt.is_null(6) ? 0 : stmt.int64(6);
  info.created_at = stmt.text(7);
  info.concept_count = stmt.int32(8);
  info.source = stmt.text(9);  // NULL reads as ""
  info.model_layer = stmt.text(10);
  info.probe_set = stmt.text(11);  // NULL (reference space) reads as ""
  return info;
}

std::optional<SpaceInfo> read_space(const Connection& conn, const std::string& id) {
  Stmt stmt = conn.prepare(std::string(kSpaceSelect) + " WHERE s.id = ?1");
  stmt.bind_text(1, id);
  if (!stmt.step()) return std::nullopt;
  return read_space_row(stmt);
}
}  // namespace

std::vector<SpaceInfo> Catalog::spaces() const {
  const Impl::Reader conn = impl_->reader();
  Stmt stmt = conn->prepare(std::string(kSpaceSelect) + " ORDER BY s.id");
  std::vector<SpaceInfo> result;
  while (stmt.step()) result.push_back(read_space_row(stmt));
  return result;
}

std::optional<SpaceInfo> Catalog::space(const std::string& name) const {
  const Impl::Reader conn = impl_->reader();
  return read_space(*conn, canonical_space_id(name));
}

std::vector<ConceptVector> Catalog::vectors(const std::string& space_name) const {
  std::optional<SpaceVectors> space = space_vectors(space_name);
  if (!space) impl_->throw_no_space(canonical_space_id(space_name));
  return std::move(space->vectors);
}

std::optional<SpaceVectors> Catalog::space_vectors(const std::string& space_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  // One read transaction: the space's record and its rows come from the same snapshot.
  Transaction tx(*conn, "BEGIN");
  std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) return std::nullopt;
  Stmt stmt = conn->prepare(
      "SELECT c.number, c.name, c.category, e.vector FROM embedding e"
      " JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?1 ORDER BY c.number");
  stmt.bind_text(1, space_id);
  std::vector<ConceptVector> result;
  while (stmt.step()) {
    ConceptVector v;
    v.concept_number = stmt.int32(0);
    v.name = stmt.text(1);
    v.category = stmt.text(2);
    const std::string_view blob = stmt.blob(3);
    N2V_CHECK(blob.size() == static_cast<size_t>(info->dim) * 4, kCorrupt,
              "catalog " << impl_->path << ": space " << space_id << ", concept '" << v.name
                         << "': vector of " << blob.size() << " bytes for dim " << info->dim);
    v.weights = decode_vector(blob);
    result.push_back(std::move(v));
  }
  tx.commit();
  return SpaceVectors{std::move(*info), std::move(result)};
}

std::optional<EmbeddingRecord> Catalog::embedding(const std::string& space_name,
                                                  const std::string& concept_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  const std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) impl_->throw_no_space(space_id);
  // Names are unique in BRODEN; should a probe set repeat one, the lowest number wins.
  Stmt stmt = conn->prepare(std::string(kEmbeddingSelect) + " AND c.name = ?2 ORDER BY c.number LIMIT 1");
  stmt.bind_text(1, space_id).bind_text(2, concept_name);
  if (!stmt.step()) return std::nullopt;
  const int64_t embedding_id = stmt.int64(0);
  EmbeddingRecord e = decode_embedding(stmt, info->dim, impl_->path, space_id);

  Stmt subsets = conn->prepare(
      "SELECT filters, score FROM subset_score WHERE embedding_id = ?1 ORDER BY filters");
  subsets.bind_int(1, embedding_id);
  while (subsets.step())
    e.subsets.push_back({subsets.int32(0), subsets.opt_float(1).value_or(NAN)});

  Stmt ious = conn->prepare(
      "SELECT p.row, i.learned, i.single, i.learned_inter, i.learned_union, i.single_inter, i.single_union"
      " FROM image_iou i JOIN probe_image p ON p.id = i.probe_image_id WHERE i.embedding_id = ?1"
      " ORDER BY p.row");
  ious.bind_int(1, embedding_id);
  while (ious.step())
    e.image_iou.push_back({ious.int32(0), ious.opt_float(1).value_or(NAN), ious.opt_float(2).value_or(NAN),
                           ious.opt_float(3), ious.opt_float(4), ious.opt_float(5), ious.opt_float(6)});
  tx.commit();
  return e;
}

RunRecord Catalog::run(int64_t run_id) const {
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  Stmt stmt = conn->prepare("SELECT " + std::string(kRunColumns) +
                            " FROM run r JOIN network n ON n.id = r.network_id WHERE r.id = ?1");
  stmt.bind_int(1, run_id);
  N2V_CHECK(stmt.step(), kNotFound, "no run " << run_id << " in catalog " << impl_->path);
  RunRecord run = decode_run(*conn, stmt, run_id);
  tx.commit();
  return run;
}

std::vector<ScoredConcept> Catalog::concept_scores(const std::string& space_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  const std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) impl_->throw_no_space(space_id);
  Stmt stmt = conn->prepare(std::string(kEmbeddingSelect) + " ORDER BY c.number");
  stmt.bind_text(1, space_id);
  std::vector<ScoredConcept> out;
  std::unordered_map<int64_t, size_t> row_of_embedding;
  std::unordered_set<std::string> names;
  while (stmt.step()) {
    ScoredConcept sc;
    sc.name = stmt.text(15);
    if (!names.insert(sc.name).second) continue;  // a repeated name: the lowest number wins
    sc.category = stmt.text(16);
    sc.embedding = decode_embedding(stmt, info->dim, impl_->path, space_id);
    row_of_embedding[stmt.int64(0)] = out.size();
    out.push_back(std::move(sc));
  }
  Stmt subsets = conn->prepare(
      "SELECT s.embedding_id, s.filters, s.score FROM subset_score s JOIN embedding e ON e.id = s.embedding_id"
      " WHERE e.space_id = ?1 ORDER BY s.embedding_id, s.filters");
  subsets.bind_text(1, space_id);
  while (subsets.step()) {
    const auto it = row_of_embedding.find(subsets.int64(0));
    if (it != row_of_embedding.end())
      out[it->second].embedding.subsets.push_back({subsets.int32(1), subsets.opt_float(2).value_or(NAN)});
  }
  tx.commit();
  return out;
}

std::optional<ConceptImages> Catalog::concept_images(const std::string& space_name,
                                                     const std::string& concept_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  if (!read_space(*conn, space_id)) impl_->throw_no_space(space_id);
  Stmt stmt = conn->prepare(
      "SELECT e.id, c.number, p.name, p.path, p.content_hash FROM embedding e JOIN concept c ON c.id = e.concept_id"
      " JOIN space s ON s.id = e.space_id LEFT JOIN run r ON r.id = s.run_id"
      " LEFT JOIN probe_set p ON p.id = r.probe_set_id"
      " WHERE e.space_id = ?1 AND c.name = ?2 ORDER BY c.number LIMIT 1");
  stmt.bind_text(1, space_id).bind_text(2, concept_name);
  if (!stmt.step()) return std::nullopt;
  ConceptImages out;
  const int64_t embedding_id = stmt.int64(0);
  out.concept_number = stmt.int32(1);
  out.probe_name = stmt.text(2);  // NULL (reference space) reads as ""
  out.probe_path = stmt.text(3);
  out.probe_hash = stmt.text(4);
  Stmt images = conn->prepare(
      "SELECT p.row, p.path, i.learned, i.single FROM image_iou i"
      " JOIN probe_image p ON p.id = i.probe_image_id WHERE i.embedding_id = ?1 ORDER BY p.row");
  images.bind_int(1, embedding_id);
  while (images.step())
    out.images.push_back({images.int32(0), images.text(1), images.opt_float(2), images.opt_float(3)});
  tx.commit();
  return out;
}

std::vector<PredictedMaskRecord> Catalog::predicted_masks(const std::string& space_name,
                                                          const std::string& concept_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  Stmt stmt = conn->prepare(
      "SELECT e.id FROM embedding e JOIN concept c ON c.id = e.concept_id"
      " WHERE e.space_id = ?1 AND c.name = ?2 ORDER BY c.number LIMIT 1");
  stmt.bind_text(1, space_id).bind_text(2, concept_name);
  N2V_CHECK(stmt.step(), kNotFound,
            "no concept '" << concept_name << "' in space " << space_id << " of catalog " << impl_->path);
  Stmt masks = conn->prepare(
      "SELECT p.row, m.height, m.width, m.learned, m.single FROM predicted_mask m"
      " JOIN probe_image p ON p.id = m.probe_image_id WHERE m.embedding_id = ?1 ORDER BY p.row");
  masks.bind_int(1, stmt.int64(0));
  std::vector<PredictedMaskRecord> out;
  while (masks.step()) {
    const std::string_view learned = masks.blob(3), single = masks.blob(4);
    PredictedMaskRecord m{masks.int32(0), masks.int32(1), masks.int32(2), {learned.begin(), learned.end()},
                          {single.begin(), single.end()}};
    const size_t bytes = packed_mask_bytes(m);
    N2V_CHECK(m.learned.size() == bytes && m.single.size() == bytes, kCorrupt,
              "catalog " << impl_->path << ": predicted masks of '" << concept_name << "' in " << space_id
                         << ", row " << m.image_row << ", are not " << m.height << " x " << m.width << " bits");
    out.push_back(std::move(m));
  }
  tx.commit();
  return out;
}

Catalog::FilterTopImages Catalog::filter_top_images(const std::string& space_name, int filter) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  const std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) impl_->throw_no_space(space_id);
  FilterTopImages out;
  if (info->run_id == 0) return out;  // a reference space: no run, no images
  Stmt run = conn->prepare(
      "SELECT r.top_images, p.name, p.path, p.content_hash,"
      " (SELECT value FROM threshold WHERE run_id = r.id AND filter = ?2)"
      " FROM run r JOIN probe_set p ON p.id = r.probe_set_id WHERE r.id = ?1");
  run.bind_int(1, info->run_id).bind_int(2, filter);
  N2V_CHECK(run.step(), kCorrupt, "catalog " << impl_->path << ": space " << space_id << " names run "
                                             << info->run_id << ", which it lacks");
  if (!run.is_null(0)) out.per_filter = run.int32(0);
  out.probe_name = run.text(1);
  out.probe_path = run.text(2);
  out.probe_hash = run.text(3);
  out.threshold = run.opt_float(4);
  for (detail::TopImageRow& row : detail::read_top_images(*conn, impl_->path, info->run_id, filter))
    out.images.push_back({std::move(row.record), std::move(row.path), std::move(row.split)});
  tx.commit();
  return out;
}

std::optional<Catalog::ProbeImageRef> Catalog::probe_image(const std::string& space_name, int row) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Stmt stmt = conn->prepare(
      "SELECT p.name, p.path, i.path, p.content_hash FROM space s JOIN run r ON r.id = s.run_id"
      " JOIN probe_set p ON p.id = r.probe_set_id"
      " JOIN probe_image i ON i.probe_set_id = p.id WHERE s.id = ?1 AND i.row = ?2");
  stmt.bind_text(1, space_id).bind_int(2, row);
  if (!stmt.step()) return std::nullopt;
  return ProbeImageRef{stmt.text(0), stmt.text(1), stmt.text(2), stmt.text(3)};
}

std::vector<std::string> Catalog::concept_names() const {
  const Impl::Reader conn = impl_->reader();
  Stmt stmt = conn->prepare("SELECT DISTINCT name FROM concept ORDER BY name");
  std::vector<std::string> names;
  while (stmt.step()) names.push_back(stmt.text(0));
  return names;
}

}  // namespace n2v
