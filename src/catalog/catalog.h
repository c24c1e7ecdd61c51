#pragma once
// Catalog stage: the SQLite file that holds every probe set, network, run, space and
// concept embedding. It is the source of truth; FAISS indexes are caches rebuilt from it.
// The schema lives in sql/NNN_*.sql and is migrated on open (PRAGMA user_version).
// Nothing here depends on LibTorch.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace n2v {

enum class Task { kSegmentation, kClassification };
const char* to_string(Task task);        // "segmentation" / "classification"
const char* short_name(Task task);       // "seg" / "cls"
Task parse_task(const std::string& text);  // accepts both forms; throws kInvalidArgument

// What a space holds: a network layer's concept embeddings (learned, with a task) or reference
// vectors (WordNet, word vectors: no run, no task).
enum class SpaceKind { kNetwork, kReference };
const char* to_string(SpaceKind kind);  // "network" / "reference" (the catalog's space.kind)
SpaceKind parse_space_kind(const std::string& text);  // throws kInvalidArgument

// A space is what queries address: (network, layer, task) -> "alexnet.conv5.seg".
// Ids are URL-safe: [A-Za-z0-9_-] parts joined by '.'. `layer` is the layer as the model
// names it; its id part is layer_id(layer) (the run keeps the model's own spelling).
std::string space_id(const std::string& network, const std::string& layer, Task task);
// Throws kInvalidArgument unless `name` is a valid id part (network or layer name).
void check_id_part(const std::string& name, const char* what);
// A layer as the model names it ("layer4.1.conv2", "encoder.layers.encoder_layer_11",
// "features.29") -> its URL-safe id part: '.' becomes '-', any other character outside
// [A-Za-z0-9_-] becomes '_', and a result over 64 characters is cut to 55 and given '-' and
// the 8 hex digits of the name's FNV-1a hash (so two long names stay apart). A valid id
// part maps to itself. Throws kInvalidArgument for an empty name. Two layers of one network
// with the same id part are refused (ingest, Catalog::write_ingest).
std::string layer_id(const std::string& layer);
// The stored id of a space named with the model's spelling of its layer:
// "resnet50.layer4.1.conv2.seg" -> "resnet50.layer4-1-conv2.seg". Text that is not
// <network>.<layer...>.<seg|cls> (reference ids, stored ids) comes back unchanged, so every
// reader accepts either spelling.
std::string canonical_space_id(const std::string& text);

// ---- What one ingest writes (all in one transaction) ----

struct ProbeSetRecord {
  std::string name;        // directory base name, e.g. "broden1_227"
  std::string path;        // absolute path at ingest time
  int image_count = 0;     // rows in index.csv
  int mask_height = 0, mask_width = 0;
  std::vector<std::string> categories;  // index.csv category columns
  // ProbeSet::content_hash() (schema version 5): the probe set's identity across machines;
  // "" when unknown (matched by path then).
  std::string content_hash;
};

struct ConceptRecord {
  int number = 0;          // BRODEN label number
  std::string name;
  std::string category;    // primary category
  std::string categories;  // raw "object(3);part(1)"
  int frequency = 0;
  double coverage = 0;
  std::string syns;
};

struct ProbeImageRecord {
  int row = 0;             // position in index.csv (0-based data row)
  std::string path;
  std::string split;       // "train" / "val"
};

// One of a filter's top images (schema version 6, sql/006_filter_top_images.sql): a probe
// image where the filter fires most (NetDissect's ranking: by the max of its activation map
// over the image), with the map thresholded at T_k, height x width bits packed as
// PredictedMaskRecord's.
struct FilterTopImageRecord {
  int filter = 0;
  int rank = 0;       // 0: the largest max activation
  int image_row = 0;  // ProbeImageRecord::row
  float max_activation = 0;
  int height = 0, width = 0;
  std::vector<uint8_t> map;
};

struct RunRecord {
  std::string network;        // user-given network name ("alexnet")
  std::string model_path;     // model file
  // SHA-256 of the model file, lowercase hex (schema version 8); "" when not recorded.
  std::string model_sha256;
  std::string layer;
  std::string device;         // "cpu" / "cuda"
  std::string software_version;
  int64_t seed = 0;
  double tau = 0.005;
  std::string params_json;         // every hyperparameter, as given
  std::string preprocessing_json;  // Preprocessing::to_json()
  std::string timings_json;        // seconds per stage
  std::string started_at, finished_at;  // ISO 8601 UTC
  int images_used = 0, images_skipped = 0;
  int filter_count = 0, act_height = 0, act_width = 0;
  std::vector<float> thresholds;   // T_k per filter, size filter_count
  // --top-images N (schema version 6): 0 off; nullopt when not recorded (an older catalog).
  std::optional<int> top_images_per_filter;
  std::vector<FilterTopImageRecord> top_images;  // by filter, then rank
};

// Per-image IoU of one val image (eq. 3) for the learned weights and the best filter.
struct ImageIouRecord {
  int image_row = 0;  // ProbeImageRecord::row
  float learned = 0, single = 0;
  // Intersection and union in mask pixels (schema version 7): set IoU over any subset of the
  // images is sum(inter) / sum(union). Unset: ingested before version 7.
  std::optional<float> learned_inter, learned_union, single_inter, single_union;
};

// How far a val score can be trusted (schema version 7, sql/007_score_intervals.sql): a 95 %
// bootstrap interval over the val images and a p-value against chance with the null's mean
// (docs/METHOD.md, "Intervals and chance"). Unset: not computed (ingested before version 7,
// turned off, or no best filter).
struct ScoreStatsRecord {
  std::optional<float> low, high, p, null_mean;
  bool computed() const { return low.has_value() || p.has_value(); }
};

// The masks predicted on one val image (schema version 4, sql/004_predicted_masks.sql):
// learned weights and best single filter, height x width, bit-packed row-major (bit j of
// byte i = pixel 8i + j). Ingest stores them for the images at the deciles (Figure 8).
struct PredictedMaskRecord {
  int image_row = 0;  // ProbeImageRecord::row
  int height = 0, width = 0;
  std::vector<uint8_t> learned, single;
};

struct SubsetScore {
  int filters = 0;   // F
  float score = 0;   // val set IoU (segmentation) or val balanced accuracy (classification)
};

struct EmbeddingRecord {
  int concept_number = 0;
  int train_count = 0, val_count = 0;   // images of the concept in each split
  std::vector<float> weights;           // w, size = filter_count
  float bias = 0;
  float alpha = 0;                      // segmentation loss weight (eq. 4); 0 for cls
  // Segmentation: set IoU with learned weights; classification: balanced accuracy.
  std::optional<float> set_iou_train, set_iou_val;
  std::optional<float> accuracy_train, accuracy_val;
  int best_filter = -1;                 // best single filter (chosen on train)
  std::optional<float> best_filter_train, best_filter_val;  // its IoU / accuracy
  // The val score's (set_iou_val or accuracy_val) and best_filter_val's interval and p.
  ScoreStatsRecord score_val_stats, best_filter_val_stats;
  std::vector<SubsetScore> subsets;     // the F sweep
  // Segmentation: val set IoU of every single filter k (size filter_count); empty otherwise.
  std::vector<float> filter_iou_val;
  std::vector<ImageIouRecord> image_iou;  // segmentation only: every val image
  // Segmentation only: the decile images' predicted masks. Written by write_ingest; read
  // by Catalog::predicted_masks (embedding() leaves it empty).
  std::vector<PredictedMaskRecord> predicted_masks;
};

struct SpaceRecord {
  std::string id;        // space_id(network, layer, task)
  Task task = Task::kSegmentation;
  std::vector<EmbeddingRecord> embeddings;
};

struct IngestRecord {
  ProbeSetRecord probe;
  std::vector<ConceptRecord> concepts;     // every label of the probe set
  std::vector<ProbeImageRecord> images;    // rows referenced by image_iou
  RunRecord run;
  std::vector<SpaceRecord> spaces;         // one per task
};

// ---- What queries read ----

struct SpaceInfo {
  std::string id, network, layer;  // layer: id part
  SpaceKind kind = SpaceKind::kNetwork;
  // The layer as the model names it (the run's layer, e.g. "layer4.1.conv2"); "" for a
  // reference space.
  std::string model_layer;
  // Network spaces only: a reference space (WordNet, word vectors) has no task (the column
  // is NULL).
  std::optional<Task> task;
  int dim = 0, concept_count = 0;
  int64_t run_id = 0;  // 0 for reference spaces
  std::string created_at;
  // Reference spaces: where the vectors came from (file, format, counts); "" for network
  // spaces (their origin is the run). Reference spaces have network == id and layer == "".
  std::string source;
  // Network spaces: the name of the probe set their run measured them on; "" for reference.
  std::string probe_set;
};

inline bool is_reference(const SpaceInfo& space) { return space.kind == SpaceKind::kReference; }

// The probe set a network space was measured on, and a concept's per-image val IoU there
// with each image's path (segmentation spaces; empty for classification and reference).
struct ProbeImageScore {
  int row = 0;            // index.csv data row (0-based)
  std::string path;       // relative to the probe set's images/
  std::optional<float> learned, single;  // IoU of the learned weights / best single filter
};

struct ConceptImages {
  std::string probe_name, probe_path;  // "" for a reference space
  std::string probe_hash;              // ProbeSetRecord::content_hash ("" before schema version 5)
  int concept_number = 0;
  std::vector<ProbeImageScore> images;  // by row
};

// A concept of a space with everything stored about it but the per-image IoU
// (Catalog::concept_scores: the analyses and listings read a whole space at once).
struct ScoredConcept {
  std::string name, category;
  EmbeddingRecord embedding;  // image_iou left empty
};

struct ConceptVector {
  int concept_number = 0;
  std::string name, category;
  std::vector<float> weights;
};

// A space's record and its vectors read in one transaction: a concurrent writer's commit is
// wholly before or wholly after both (the record's dim always matches the vectors).
struct SpaceVectors {
  SpaceInfo info;
  std::vector<ConceptVector> vectors;
};

// Thread-safe: reads run concurrently, each on a read-only connection of a small pool (one
// per concurrent reader) and each on one committed snapshot; writes are serialised.
class Catalog {
 public:
  enum class Mode { kReadOnly, kReadWrite };
  // Opens (kReadWrite: creating if absent) and migrates to the newest schema.
  // Throws kNotFound (read-only, missing file), kCorrupt (not a catalog / damaged),
  // kUnsupported (written by a newer net2vec).
  static Catalog open(const std::string& path, Mode mode = Mode::kReadWrite);
  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;
  ~Catalog();

  int schema_version() const;
  const std::string& path() const;  // as opened

  // A number that changes whenever a transaction that changed the file commits, from this
  // Catalog or any other connection or process (SQLite's PRAGMA data_version on a connection
  // of its own). Caches of catalog content compare it instead of re-reading rows: a few
  // microseconds, no table read. Thread-safe.
  uint64_t generation() const;
  static int latest_schema_version();

  // Writes one ingest in a single transaction: upserts the probe set, its concepts and
  // images, the network and run; replaces each named space (its old embeddings, scores and
  // orphaned run go with it). On any error nothing is changed.
  // Returns the new run id.
  int64_t write_ingest(const IngestRecord& record);

  std::vector<SpaceInfo> spaces() const;
  std::optional<SpaceInfo> space(const std::string& id) const;
  std::vector<ConceptVector> vectors(const std::string& space_id) const;  // kNotFound if none
  std::optional<SpaceVectors> space_vectors(const std::string& space_id) const;  // nullopt if none
  std::optional<EmbeddingRecord> embedding(const std::string& space_id,
                                           const std::string& concept_name) const;
  RunRecord run(int64_t run_id) const;
  // Every concept of a space with its scores, F sweep, single-filter IoUs and weights, in
  // two reads (catalog order; duplicate names: the lowest number only). kNotFound for an
  // unknown space.
  std::vector<ScoredConcept> concept_scores(const std::string& space_id) const;
  // A concept's val images with their IoU and the probe set they belong to; nullopt when the
  // space has no such concept (kNotFound when there is no such space).
  std::optional<ConceptImages> concept_images(const std::string& space_id, const std::string& concept_name) const;
  // One image of the space's probe set by index.csv row (only rows with a stored per-image
  // IoU are known), or nullopt.
  struct ProbeImageRef {
    std::string probe_name, probe_path, path;
    std::string probe_hash;  // "" before schema version 5
  };
  std::optional<ProbeImageRef> probe_image(const std::string& space_id, int row) const;
  // The predicted masks stored for a concept of a space, by row (empty when none: a
  // classification or reference space, or a catalog ingested before schema version 4);
  // kNotFound when the space has no such concept.
  std::vector<PredictedMaskRecord> predicted_masks(const std::string& space_id,
                                                   const std::string& concept_name) const;
  // A filter's top images as the space's run stored them (by rank, with each image's path
  // and split); per_filter is the run's N (nullopt: a catalog ingested before schema version
  // 6, or a reference space). kNotFound for an unknown space.
  struct FilterTopImages {
    std::optional<int> per_filter;
    std::optional<float> threshold;  // the filter's T_k (the maps show a_k > T_k)
    std::string probe_name, probe_path, probe_hash;
    struct Image {
      FilterTopImageRecord record;
      std::string path, split;
    };
    std::vector<Image> images;
  };
  FilterTopImages filter_top_images(const std::string& space_id, int filter) const;

  // ---- Reference spaces (schema version 2; see sql/002_reference_spaces.sql) ----

  // Writes reference space `id` (kind "reference", no run, no task) in one transaction,
  // replacing any space with that id (its rows go by cascade). `id` is one id part
  // ([A-Za-z0-9_-], e.g. "wordnet", "glove-100d"), so it never collides with a network space.
  // A vector belongs to a concept NAME: it is stored once, attached to the concept row with
  // the lowest id of that name, so vectors(id) returns one row per name (with that row's
  // number and category). Throws kInvalidArgument for a bad id, dim <= 0, a vector of
  // another size or with a non-finite value, a name given twice, or a name that no concept
  // of the catalog has; nothing is changed then.
  void write_reference_space(
      const std::string& id, const std::string& source_description, int dim,
      const std::vector<std::pair<std::string, std::vector<float>>>& vectors_by_concept_name);

  // Distinct names of all concepts of all probe sets, sorted (byte order).
  std::vector<std::string> concept_names() const;

  // ---- Shards (net2vec merge; docs/SCALE.md) ----

  // Every run of this catalog as the IngestRecord that would write it again (its probe
  // set, all the probe set's concepts and referenced images, the run with its thresholds,
  // its spaces with every score), in run order; and every reference space.
  struct ReferenceSpaceRecord {
    std::string id, source, created_at;
    int dim = 0;
    std::vector<std::pair<std::string, std::vector<float>>> vectors_by_concept_name;
  };
  std::vector<IngestRecord> ingest_records() const;
  std::vector<ReferenceSpaceRecord> reference_space_records() const;

  // Folds catalog shards into this catalog in ONE transaction: a kill or an error leaves it
  // as it was. Probe sets are matched by content hash (else path), concepts by (probe set,
  // number), networks by name. A space the target already has from the same run (same
  // network, layer, start and finish times) is left alone, so merging a shard twice changes
  // nothing; from another run it is replaced when the shard's run finished later (kNewer)
  // and kept otherwise, or the merge fails with kInvalidArgument naming the space and the
  // shard (kError). Reference spaces alike, by creation time and source. Shards of an older
  // schema are migrated in a temporary copy (the shard file is never written); a newer one
  // is kUnsupported, a file that is not a catalog kCorrupt, naming the shard.
  enum class OnConflict { kNewer, kError };
  struct MergeReport {
    int shards = 0;
    int spaces_added = 0, spaces_replaced = 0, spaces_unchanged = 0, spaces_kept = 0;
    std::vector<std::string> added, replaced, kept;  // space ids
  };
  MergeReport merge(const std::vector<std::string>& shard_paths, OnConflict on_conflict = OnConflict::kNewer);

  // Test hook: make write_ingest fail (throw kInternal) after this many row inserts,
  // to show that a failure mid-transaction leaves the previous content intact. -1: off.
  void fail_after_rows_for_testing(int64_t rows);

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace n2v
