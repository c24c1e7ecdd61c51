#pragma once
// Internal to src/catalog: how values are stored and read back. Vector BLOBs, space id parts,
// JSON and packed mask sizes; and the SELECT column lists with their decoders that more than
// one reader shares (read.cpp, and merge.cpp's ingest_records).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"

namespace n2v::detail {

class Stmt;
struct Connection;

// ---- Vector BLOBs: little-endian float32, whatever the host ----

std::vector<unsigned char> encode_vector(const std::vector<float>& values);
std::vector<float> decode_vector(std::string_view bytes);

// Splits "net.layer.seg" into its parts; empty when it does not have exactly three.
std::vector<std::string> id_parts(const std::string& id);

bool valid_json(const std::string& text);

// Bytes of one bit-packed predicted mask (sql/004_predicted_masks.sql).
size_t packed_mask_bytes(const PredictedMaskRecord& m);
// The same for any height x width bit map (filter_top_image.map).
size_t packed_mask_bytes(int height, int width);

// ---- Rows ----

// The embedding columns both readers select, in this order (then what each adds).
inline constexpr std::string_view kEmbeddingSelect =
    "SELECT e.id, c.number, e.train_count, e.val_count, e.vector, e.bias, e.alpha,"
    " e.set_iou_train, e.set_iou_val, e.accuracy_train, e.accuracy_val, e.best_filter,"
    " e.best_filter_train, e.best_filter_val, e.filter_iou_val, c.name, c.category,"
    " e.score_val_low, e.score_val_high, e.score_val_p, e.score_val_null_mean, e.best_filter_val_low,"
    " e.best_filter_val_high, e.best_filter_val_p, e.best_filter_val_null_mean FROM embedding e"
    " JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?1";

// Columns 1..14 and 17..24 of kEmbeddingSelect (not subsets or per-image IoU); vector sizes checked
// against the space's dimension, naming the concept.
EmbeddingRecord decode_embedding(const Stmt& stmt, int dim, const std::string& path, const std::string& space_id);

// The run columns both run readers select first, in this order (then what each adds).
inline constexpr std::string_view kRunColumns =
    "n.name, r.model_path, r.layer, r.device, r.software_version, r.seed, r.tau,"
    " r.params, r.preprocessing, r.timings, r.started_at, r.finished_at, r.images_used,"
    " r.images_skipped, r.filter_count, r.act_height, r.act_width, r.top_images, r.model_sha256";
inline constexpr int kRunColumnCount = 19;

// Columns 0..18 (kRunColumns) and the run's thresholds (not its top images: read_top_images).
RunRecord decode_run(const Connection& conn, const Stmt& stmt, int64_t run_id);

// A run's filter_top_image rows (all filters, or one when filter >= 0), by filter and rank,
// with each image's path and split; kCorrupt naming the catalog for a map of the wrong size.
struct TopImageRow {
  FilterTopImageRecord record;
  std::string path, split;
};
std::vector<TopImageRow> read_top_images(const Connection& conn, const std::string& path, int64_t run_id,
                                         int filter = -1);

}  // namespace n2v::detail
