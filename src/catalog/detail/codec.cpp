#include "catalog/detail/codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "catalog/detail/sqlite.h"
#include "common/error.h"

namespace n2v::detail {

// ---- Vector BLOBs: little-endian float32, whatever the host ----

std::vector<unsigned char> encode_vector(const std::vector<float>& values) {
  std::vector<unsigned char> bytes(values.size() * 4);
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      const auto bits = std::bit_cast<uint32_t>(values[i]);
      for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<unsigned char>(bits >> (8 * b));
    }
  }
  return bytes;
}

std::vector<float> decode_vector(std::string_view bytes) {
  std::vector<float> values(bytes.size() / 4);
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * 4);
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b)
        bits |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[4 * i + b])) << (8 * b);
      values[i] = std::bit_cast<float>(bits);
    }
  }
  return values;
}

std::vector<std::string> id_parts(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = id.find('.', start);
    parts.push_back(id.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) parts.clear();
  return parts;
}

bool valid_json(const std::string& text) { return text.empty() || nlohmann::json::accept(text); }

size_t packed_mask_bytes(const PredictedMaskRecord& m) { return packed_mask_bytes(m.height, m.width); }

size_t packed_mask_bytes(int height, int width) {
  return (static_cast<size_t>(std::max(height, 0)) * static_cast<size_t>(std::max(width, 0)) + 7) / 8;
}

// ---- Rows ----

EmbeddingRecord decode_embedding(const Stmt& stmt, int dim, const std::string& path, const std::string& space_id) {
  const size_t bytes = static_cast<size_t>(dim) * 4;
  const std::string_view blob = stmt.blob(4), filter_blob = stmt.blob(14);  // NULL reads as empty
  N2V_CHECK(blob.size() == bytes && (filter_blob.empty() || filter_blob.size() == bytes), kCorrupt,
            "catalog " << path << ": space " << space_id << ", concept '" << stmt.text(15) << "': weights of "
                       << blob.size() << " bytes and filter IoUs of " << filter_blob.size() << " bytes for dim "
                       << dim);
  EmbeddingRecord e;
  e.concept_number = stmt.int32(1);
  e.train_count = stmt.int32(2);
  e.val_count = stmt.int32(3);
  e.weights = decode_vector(blob);
  e.bias = static_cast<float>(stmt.real(5));
  e.alpha = static_cast<float>(stmt.real(6));
  e.set_iou_train = stmt.opt_float(7);
  e.set_iou_val = stmt.opt_float(8);
  e.accuracy_train = stmt.opt_float(9);
  e.accuracy_val = stmt.opt_float(10);
  e.best_filter = stmt.int32(11);
  e.best_filter_train = stmt.opt_float(12);
  e.best_filter_val = stmt.opt_float(13);
  e.filter_iou_val = decode_vector(filter_blob);
  auto stats = [&](int first) {
    return ScoreStatsRecord{stmt.opt_float(first), stmt.opt_float(first + 1), stmt.opt_float(first + 2),
                            stmt.opt_float(first + 3)};
  };
  e.score_val_stats = stats(17);
  e.best_filter_val_stats = stats(21);
  return e;
}

RunRecord decode_run(const Connection& conn, const Stmt& stmt, int64_t run_id) {
  RunRecord run;
  run.network = stmt.text(0);
  run.model_path = stmt.text(1);
  run.layer = stmt.text(2);
  run.device = stmt.text(3);
  run.software_version = stmt.text(4);
  run.seed = stmt.int64(5);
  run.tau = stmt.real(6);
  run.params_json = stmt.text(7);  // NULL reads as "" (and is written back as NULL)
  run.preprocessing_json = stmt.text(8);
  run.timings_json = stmt.text(9);
  run.started_at = stmt.text(10);
  run.finished_at = stmt.text(11);
  run.images_used = stmt.int32(12);
  run.images_skipped = stmt.int32(13);
  run.filter_count = stmt.int32(14);
  run.act_height = stmt.int32(15);
  run.act_width = stmt.int32(16);
  if (!stmt.is_null(17)) run.top_images_per_filter = stmt.int32(17);
  run.model_sha256 = stmt.text(18);  // NULL (before schema version 8) reads as ""
  Stmt thresholds = conn.prepare("SELECT value FROM threshold WHERE run_id = ?1 ORDER BY filter");
  thresholds.bind_int(1, run_id);
  while (thresholds.step()) run.thresholds.push_back(static_cast<float>(thresholds.real(0)));
  return run;
}

std::vector<TopImageRow> read_top_images(const Connection& conn, const std::string& path, int64_t run_id, int filter) {
  Stmt stmt = conn.prepare(
      "SELECT t.filter, t.rank, p.row, t.max_activation, t.height, t.width, t.map, p.path, p.split"
      " FROM filter_top_image t JOIN probe_image p ON p.id = t.probe_image_id"
      " WHERE t.run_id = ?1 AND (?2 < 0 OR t.filter = ?2) ORDER BY t.filter, t.rank");
  stmt.bind_int(1, run_id).bind_int(2, filter);
  std::vector<TopImageRow> out;
  while (stmt.step()) {
    const std::string_view map = stmt.blob(6);
    TopImageRow row{{stmt.int32(0), stmt.int32(1), stmt.int32(2), static_cast<float>(stmt.real(3)), stmt.int32(4),
                     stmt.int32(5), {map.begin(), map.end()}},
                    stmt.text(7), stmt.text(8)};
    const FilterTopImageRecord& r = row.record;
    N2V_CHECK(r.map.size() == packed_mask_bytes(r.height, r.width), kCorrupt,
              "catalog " << path << ": run " << run_id << ", filter " << r.filter << ", top image " << r.rank
                         << ": map of " << r.map.size() << " bytes is not " << r.height << " x " << r.width << " bits");
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace n2v::detail
