// Shards (docs/SCALE.md): reading a whole catalog back as the records that would write it
// again, and merging shards into this catalog in one transaction.

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/detail/codec.h"
#include "catalog/detail/impl.h"
#include "catalog/detail/sqlite.h"
#include "common/error.h"

namespace n2v {

using detail::decode_embedding;
using detail::decode_run;
using detail::fault_point;
using detail::kEmbeddingSelect;
using detail::kRunColumnCount;
using detail::kRunColumns;
using detail::Stmt;
using detail::Transaction;

std::vector<IngestRecord> Catalog::ingest_records() const {
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");  // one snapshot for every read below
  std::vector<IngestRecord> out;
  Stmt runs = conn->prepare("SELECT " + std::string(kRunColumns) +
                            ", r.id, p.id, p.name, p.path, p.image_count, p.mask_height, p.mask_width,"
                            " p.categories, p.content_hash"
                            " FROM run r JOIN network n ON n.id = r.network_id"
                            " JOIN probe_set p ON p.id = r.probe_set_id ORDER BY r.id");
  while (runs.step()) {
    constexpr int c = kRunColumnCount;  // the columns after the run's
    IngestRecord rec;
    const int64_t run_id = runs.int64(c);
    rec.run = decode_run(*conn, runs, run_id);
    for (detail::TopImageRow& row : detail::read_top_images(*conn, impl_->path, run_id))
      rec.run.top_images.push_back(std::move(row.record));
    const RunRecord& run = rec.run;
    const int64_t probe_set_id = runs.int64(c + 1);
    rec.probe.name = runs.text(c + 2);
    rec.probe.path = runs.text(c + 3);
    rec.probe.image_count = runs.int32(c + 4);
    rec.probe.mask_height = runs.int32(c + 5);
    rec.probe.mask_width = runs.int32(c + 6);
    for (const auto& category : nlohmann::json::parse(runs.text(c + 7), nullptr, false))
      if (category.is_string()) rec.probe.categories.push_back(category.get<std::string>());
    rec.probe.content_hash = runs.text(c + 8);

    Stmt concepts = conn->prepare(
        "SELECT number, name, category, categories, frequency, coverage, syns FROM concept"
        " WHERE probe_set_id = ?1 ORDER BY number");
    concepts.bind_int(1, probe_set_id);
    while (concepts.step())
      rec.concepts.push_back({concepts.int32(0), concepts.text(1), concepts.text(2), concepts.text(3),
                              concepts.int32(4), concepts.real(5), concepts.text(6)});
    Stmt images = conn->prepare("SELECT row, path, split FROM probe_image WHERE probe_set_id = ?1 ORDER BY row");
    images.bind_int(1, probe_set_id);
    while (images.step()) rec.images.push_back({images.int32(0), images.text(1), images.text(2)});

    Stmt spaces = conn->prepare("SELECT id, task FROM space WHERE run_id = ?1 ORDER BY id");
    spaces.bind_int(1, run_id);
    while (spaces.step()) {
      SpaceRecord space;
      space.id = spaces.text(0);
      space.task = parse_task(spaces.text(1));
      Stmt embeddings = conn->prepare(std::string(kEmbeddingSelect) + " ORDER BY c.number");
      embeddings.bind_text(1, space.id);
      std::unordered_map<int64_t, size_t> at;  // embedding id -> index
      while (embeddings.step()) {
        at[embeddings.int64(0)] = space.embeddings.size();
        space.embeddings.push_back(decode_embedding(embeddings, run.filter_count, impl_->path, space.id));
      }
      Stmt subsets = conn->prepare(
          "SELECT e.id, s.filters, s.score FROM subset_score s JOIN embedding e ON e.id = s.embedding_id"
          " WHERE e.space_id = ?1 ORDER BY e.id, s.filters");
      subsets.bind_text(1, space.id);
      while (subsets.step())
        space.embeddings[at.at(subsets.int64(0))].subsets.push_back(
            {subsets.int32(1), subsets.opt_float(2).value_or(NAN)});
      Stmt ious = conn->prepare(
          "SELECT e.id, p.row, i.learned, i.single, i.learned_inter, i.learned_union, i.single_inter,"
          " i.single_union FROM image_iou i JOIN embedding e ON e.id = i.embedding_id"
          " JOIN probe_image p ON p.id = i.probe_image_id WHERE e.space_id = ?1 ORDER BY e.id, p.row");
      ious.bind_text(1, space.id);
      while (ious.step())
        space.embeddings[at.at(ious.int64(0))].image_iou.push_back(
            {ious.int32(1), ious.opt_float(2).value_or(NAN), ious.opt_float(3).value_or(NAN), ious.opt_float(4),
             ious.opt_float(5), ious.opt_float(6), ious.opt_float(7)});
      Stmt masks = conn->prepare(
          "SELECT e.id, p.row, m.height, m.width, m.learned, m.single FROM predicted_mask m"
          " JOIN embedding e ON e.id = m.embedding_id JOIN probe_image p ON p.id = m.probe_image_id"
          " WHERE e.space_id = ?1 ORDER BY e.id, p.row");
      masks.bind_text(1, space.id);
      while (masks.step()) {
        const std::string_view learned = masks.blob(4), single = masks.blob(5);
        space.embeddings[at.at(masks.int64(0))].predicted_masks.push_back(
            {masks.int32(1), masks.int32(2), masks.int32(3), {learned.begin(), learned.end()},
             {single.begin(), single.end()}});
      }
      rec.spaces.push_back(std::move(space));
    }
    if (!rec.spaces.empty()) out.push_back(std::move(rec));
  }
  tx.commit();
  return out;
}

std::vector<Catalog::ReferenceSpaceRecord> Catalog::reference_space_records() const {
  std::vector<ReferenceSpaceRecord> out;
  for (const SpaceInfo& info : spaces()) {
    if (!is_reference(info)) continue;
    ReferenceSpaceRecord r{info.id, info.source, info.created_at, info.dim, {}};
    for (ConceptVector& v : vectors(info.id)) r.vectors_by_concept_name.emplace_back(v.name, std::move(v.weights));
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// A shard, readable at this net2vec's schema version: the file itself, or a migrated copy
// in a temporary folder (removed with this object) when it is older. The shard file is
// never written.
class ShardCopy {
 public:
  explicit ShardCopy(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    N2V_CHECK(fs::is_regular_file(path, ec), kNotFound, "shard " << path << " not found");
    // The version without Catalog::open, which refuses an older file read-only.
    int version = -1;
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
      sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(raw);
    if (version <= 0 || version >= Catalog::latest_schema_version()) {
      // Current, newer (kUnsupported) or not a catalog (kCorrupt): Catalog::open says which.
      Catalog::open(path, Catalog::Mode::kReadOnly);
      path_ = path;
      return;
    }
    // Older: copy the file and its WAL (a finished shard has no writer) and migrate the copy.
    dir_ = (fs::temp_directory_path() / ("net2vec-merge-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(reinterpret_cast<uintptr_t>(this))))
               .string();
    fs::create_directories(dir_);
    path_ = dir_ + "/shard.db";
    fs::copy_file(path, path_, fs::copy_options::overwrite_existing);
    if (fs::exists(path + "-wal", ec)) fs::copy_file(path + "-wal", path_ + "-wal", fs::copy_options::overwrite_existing);
    Catalog::open(path_, Catalog::Mode::kReadWrite);  // migrates
  }
  ~ShardCopy() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  ShardCopy(const ShardCopy&) = delete;
  ShardCopy& operator=(const ShardCopy&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_, dir_;
};

}  // namespace

Catalog::MergeReport Catalog::merge(const std::vector<std::string>& shard_paths, OnConflict on_conflict) {
  std::lock_guard lock(impl_->mutex);
  N2V_CHECK(impl_->mode == Mode::kReadWrite, kInvalidArgument, "catalog " << impl_->path << " is open read-only");
  MergeReport report;
  impl_->rows_written = 0;
  Transaction tx(*impl_, "BEGIN IMMEDIATE");
  // What the target holds of a space: its run's identity, or a reference space's.
  Stmt network_space = impl_->prepare(
      "SELECT n.name, r.layer, r.started_at, r.finished_at FROM space s JOIN run r ON r.id = s.run_id"
      " JOIN network n ON n.id = r.network_id WHERE s.id = ?1");
  Stmt reference_space = impl_->prepare("SELECT created_at, source, kind FROM space WHERE id = ?1");
  enum class Fate { kAdd, kReplace, kUnchanged, kKeep };
  auto decide = [&](const std::string& id, const std::string& shard, bool same, bool shard_newer) {
    if (same) return Fate::kUnchanged;
    N2V_CHECK(on_conflict == OnConflict::kNewer, kInvalidArgument,
              "space " << id << " of shard " << shard << " is already in " << impl_->path
                       << " from another run (--on-conflict error; newer keeps the later one)");
    return shard_newer ? Fate::kReplace : Fate::kKeep;
  };
  auto count = [&](Fate fate, const std::string& id) {
    switch (fate) {
      case Fate::kAdd: ++report.spaces_added; report.added.push_back(id); break;
      case Fate::kReplace: ++report.spaces_replaced; report.replaced.push_back(id); break;
      case Fate::kUnchanged: ++report.spaces_unchanged; break;
      case Fate::kKeep: ++report.spaces_kept; report.kept.push_back(id); break;
    }
  };
  for (const std::string& path : shard_paths) {
    const ShardCopy copy(path);
    const Catalog shard = Catalog::open(copy.path(), Mode::kReadOnly);
    for (IngestRecord& record : shard.ingest_records()) {
      std::vector<SpaceRecord> keep;
      for (SpaceRecord& space : record.spaces) {
        Fate fate = Fate::kAdd;
        network_space.reset().bind_text(1, space.id);
        if (network_space.step()) {
          const bool same = network_space.text(0) == record.run.network && network_space.text(1) == record.run.layer &&
                            network_space.text(2) == record.run.started_at &&
                            network_space.text(3) == record.run.finished_at;
          fate = decide(space.id, path, same, record.run.finished_at > network_space.text(3));
        } else {
          reference_space.reset().bind_text(1, space.id);
          if (reference_space.step()) fate = decide(space.id, path, false, true);  // a reference space of that id
        }
        count(fate, space.id);
        if (fate == Fate::kAdd || fate == Fate::kReplace) keep.push_back(std::move(space));
      }
      if (keep.empty()) continue;
      record.spaces = std::move(keep);
      Impl::validate(record);
      impl_->write_rows(record);
    }
    for (const ReferenceSpaceRecord& r : shard.reference_space_records()) {
      // The rule write_reference_space applies: a hand-edited shard must not bring in an id
      // that breaks a URL or a header (network spaces: validate() above).
      try {
        check_id_part(r.id, "reference space id");
      } catch (const Error& e) {
        N2V_THROW(kInvalidArgument, "shard " << path << ": " << e.message());
      }
      Fate fate = Fate::kAdd;
      reference_space.reset().bind_text(1, r.id);
      if (reference_space.step()) {
        const bool same = parse_space_kind(reference_space.text(2)) == SpaceKind::kReference && reference_space.text(0) == r.created_at &&
                          reference_space.text(1) == r.source;
        fate = decide(r.id, path, same, r.created_at > reference_space.text(0));
      }
      count(fate, r.id);
      if (fate == Fate::kAdd || fate == Fate::kReplace)
        impl_->write_reference_rows(r.id, r.source, r.dim, r.vectors_by_concept_name, r.created_at);
    }
    ++report.shards;
  }
  fault_point(impl_->rows_written, true);
  tx.commit();
  return report;
}

}  // namespace n2v
