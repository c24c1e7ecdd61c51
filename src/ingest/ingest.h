#pragma once
// Ingest stage: the whole pipeline behind net2vec-ingest.
//   probe set -> annotations -> network activations -> training -> one catalog transaction
// Torch-free header; the binary only parses options and calls run_ingest.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "activations/activations.h"
#include "catalog/catalog.h"
#include "model/network.h"
#include "training/training.h"

namespace n2v {

struct IngestOptions {
  std::string probe_dir, model_path, network, db_path;
  // One or more layers, all extracted in one pass over the images; each gets its own run
  // and spaces (<network>.<layer>.seg|cls), written in its own transaction.
  std::vector<std::string> layers;
  std::vector<Task> tasks{Task::kSegmentation, Task::kClassification};
  // Unset ("auto"): CUDA when LibTorch sees a GPU, else the CPU (resolve_device).
  std::optional<DeviceKind> device;
  int threads = 0;              // LibTorch intra-op threads; 0 = all cores
  double tau = 0.005;           // top quantile for the thresholds T_k
  uint64_t seed = 1;
  int max_images = 0;           // 0 = all rows of index.csv
  bool skip_bad = false;
  std::string cache_dir;        // ignored: no activation cache on disk any more (kept for callers)
  int activation_batch = 32;
  // Per filter, the probe images where it fires most (NetDissect's ranking, by the max of
  // the activation map), stored with their thresholded maps; 0: off. NetDissect shows 10.
  int top_images = 10;
  // GPU path knobs (docs/GPU.md): where the maps are thresholded, the forward's arithmetic
  // and the segmentation kernel. kAuto: device and dense on CUDA, host and sparse on the CPU.
  Placement placement = Placement::kAuto;
  Precision precision = Precision::kFloat32;
  SegmentationKernel seg_kernel = SegmentationKernel::kAuto;

  // Segmentation (paper 3.1.2 defaults).
  int epochs = 30;
  int batch_size = 64;
  double lr = 1e-4;
  double momentum = 0.9;
  bool log_loss = false;
  bool seg_bias = false;
  bool align_corners = false;  // bilinear upsampling as the authors' PyTorch did
  std::optional<std::vector<int>> seg_subsets;  // unset: the paper's list
  int min_train_images = 1;

  // Classification (paper 3.2).
  int cls_epochs = 30;
  double cls_lr = 1.0;
  bool cls_authors_budget = false;  // the authors' classification budget (training.h)
  std::optional<std::vector<int>> cls_subsets;  // unset: the paper's list

  // Intervals and chance levels of every val score (--resamples, --permutations).
  ScoreStatsOptions stats;

  // Preprocessing overrides (unset: what the model file declares, else ImageNet defaults
  // at the probe images' size).
  std::optional<int> input_size;
  std::optional<std::string> channel_order;
  std::optional<float> scale;
  std::optional<std::array<float, 3>> mean, std;
};

struct SpaceSummary {
  std::string id;
  Task task = Task::kSegmentation;
  int concepts = 0;
  double mean_train = 0, mean_val = 0;        // set IoU or balanced accuracy, learned weights
  double mean_single_val = 0;                 // best single filter
};

struct LayerSummary {
  std::string layer;
  int64_t run_id = 0;
  int filters = 0, act_height = 0, act_width = 0;
};

struct IngestSummary {
  std::vector<LayerSummary> layers;
  int images_used = 0, images_skipped = 0;
  std::vector<SpaceSummary> spaces;
  std::vector<std::pair<std::string, double>> timings;  // stage -> seconds
  double total_seconds = 0;
};

// Runs everything; throws n2v::Error on bad input. The catalog is only written at the end,
// in one transaction: an error or a kill at any point leaves it as it was.
IngestSummary run_ingest(const IngestOptions& options);

// `net2vec-ingest --list-layers`: every layer of the model file with its id part and its
// K x H x W for one image at the model's input size (or `input_size`), or why it is unusable.
std::string list_layers(const std::string& model_path, std::optional<DeviceKind> device = std::nullopt,
                        std::optional<int> input_size = std::nullopt);

// Human-readable summary (what net2vec-ingest prints at the end).
std::string format_summary(const IngestSummary& summary);

// `net2vec-ingest --reproduce SPACE --db F [--into G]` (src/ingest/reproduce.cpp; docs/METHOD.md,
// "Reproducing a run"): re-runs the run behind SPACE from its recorded parameters, model file
// and probe set into G (default: a temporary catalog, removed after) and compares thresholds,
// weights and scores with F's. A moved or changed model file or probe set is an error naming
// the recorded path and the hash it should have (kNotFound / kInvalidArgument).
struct ReproduceOptions {
  std::string space, db_path, into;
  int threads = 0;  // 0: the run's recorded thread count
};

struct ReproduceReport {
  struct Difference {
    double largest = 0;  // absolute; inf where one side has a value and the other none
    std::string where;   // what the largest is ("T_3", "net.conv.seg 'dog' w_12")
    int64_t compared = 0;
  };
  std::string space, into;  // into: "" when the catalog was temporary
  std::vector<std::string> spaces, missing;  // spaces compared; what the re-run lacks
  Difference thresholds, weights, scores;
  int best_filter_changed = 0;
  IngestOptions options;  // as recovered from the run
  bool identical() const;
};

ReproduceReport reproduce_run(const ReproduceOptions& options);
std::string format_reproduce(const ReproduceReport& report);

}  // namespace n2v
