#include "ingest/ingest.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "activations/activations.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/process.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "common/version.h"
#include "model/network.h"
#include "probe/annotations.h"
#include "probe/probe_set.h"
#include "training/training.h"

namespace n2v {
namespace {


std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void log_line(const std::string& text) {
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

Preprocessing choose_preprocessing(const Network& network, const IngestOptions& o) {
  Preprocessing p = network.default_preprocessing();
  if (o.input_size) p.height = p.width = *o.input_size;
  if (o.channel_order) p.channel_order = *o.channel_order;
  if (o.scale) p.scale = *o.scale;
  if (o.mean) p.mean = *o.mean;
  if (o.std) p.std = *o.std;
  // Round trip through JSON: the same validation as a stored run.
  return Preprocessing::from_json(p.to_json());
}

nlohmann::json params_json(const IngestOptions& o, const SegmentationOptions& seg,
                           const ClassificationOptions& cls, int threads) {
  nlohmann::json j;
  j["tasks"] = nlohmann::json::array();
  for (Task t : o.tasks) j["tasks"].push_back(to_string(t));
  j["tau"] = o.tau;
  j["seed"] = o.seed;
  j["max_images"] = o.max_images;
  j["skip_bad"] = o.skip_bad;
  j["threads"] = threads;
  j["activation_batch"] = o.activation_batch;
  j["top_images"] = o.top_images;
  j["placement"] = to_string(o.placement);
  j["precision"] = to_string(o.precision);
  j["allocator"] = active_allocator();  // tcmalloc unless NET2VEC_ALLOCATOR=system (common/process.h)
  j["segmentation"] = {{"epochs", seg.sgd.epochs},       {"batch_size", seg.sgd.batch_size},
                       {"lr", seg.sgd.lr},               {"momentum", seg.sgd.momentum},
                       {"loss", seg.log_loss ? "log" : "linear"},
                       {"bias", seg.bias},               {"subsets", seg.subsets},
                       {"align_corners", seg.align_corners},
                       {"kernel", to_string(seg.kernel)},
                       {"min_train_images", seg.min_train_images},
                       {"mask_threshold", 0.5},          {"single_filter_threshold", 0.5},
                       {"alpha", "1 - mean concept pixel fraction over X_train,c"}};
  j["classification"] = {{"epochs", cls.sgd.epochs},   {"batch_size", cls.sgd.batch_size},
                         {"lr", cls.sgd.lr},           {"momentum", cls.sgd.momentum},
                         {"budget", cls.authors_budget ? "authors: ceil(2 min(P, N) / batch) steps per concept per epoch"
                                                       : "ceil(N_train / batch) steps per concept per epoch"},
                         {"features", cls.authors_budget ? "raw pooled" : "pooled, centred on the train mean, / RMS norm"},
                         {"subsets", cls.subsets},     {"min_train_images", cls.min_train_images},
                         {"sampling", "balanced: batch/2 positives + batch/2 negatives"},
                         {"accuracy", "balanced (mean of TPR and TNR) on val"}};
  // docs/METHOD.md, "Intervals and chance"; seeded by `seed`.
  j["score_stats"] = {{"resamples", o.stats.resamples},
                      {"permutations", o.stats.permutations},
                      {"interval", "95 % percentile bootstrap over the val images"},
                      {"chance", "p = (1 + #{null >= observed}) / (R + 1), val masks or labels permuted"}};
  return j;
}

double mean_of(const std::vector<ConceptEmbedding>& e, float ConceptEmbedding::*field) {
  if (e.empty()) return 0;
  double s = 0;
  for (const auto& c : e) s += c.*field;
  return s / e.size();
}

SpaceRecord to_space_record(const std::string& id, Task task,
                            const std::vector<ConceptEmbedding>& embeddings,
                            const ProbeActivations& acts) {
  SpaceRecord space;
  space.id = id;
  space.task = task;
  for (const ConceptEmbedding& e : embeddings) {
    EmbeddingRecord r;
    r.concept_number = e.concept_number;
    r.train_count = e.train_count;
    r.val_count = e.val_count;
    r.weights = e.weights;
    r.bias = e.bias;
    r.alpha = e.alpha;
    if (task == Task::kSegmentation) {
      r.set_iou_train = e.score_train;
      r.set_iou_val = e.score_val;
    } else {
      r.accuracy_train = e.score_train;
      r.accuracy_val = e.score_val;
    }
    r.best_filter = e.best_filter;
    if (e.best_filter >= 0) {
      r.best_filter_train = e.best_filter_train;
      r.best_filter_val = e.best_filter_val;
    }
    for (const auto& [f, score] : e.subsets) r.subsets.push_back({f, score});
    r.filter_iou_val = e.filter_iou_val;
    auto stats = [](const ScoreStats& st) {
      auto opt = [](float v) { return std::isnan(v) ? std::nullopt : std::optional<float>(v); };
      return ScoreStatsRecord{opt(st.low), opt(st.high), opt(st.p), opt(st.null_mean)};
    };
    r.score_val_stats = stats(e.score_stats);
    if (e.best_filter >= 0) r.best_filter_val_stats = stats(e.best_filter_stats);
    for (const ImageIou& i : e.image_iou)
      r.image_iou.push_back({static_cast<int>(acts.rows[i.image]), i.learned, i.single, i.learned_inter,
                             i.learned_union, i.single_inter, i.single_union});
    for (const PredictedMask& m : e.decile_masks)
      r.predicted_masks.push_back(
          {static_cast<int>(acts.rows[m.image]), e.mask_height, e.mask_width, m.learned, m.single});
    space.embeddings.push_back(std::move(r));
  }
  return space;
}

}  // namespace

std::string list_layers(const std::string& model_path, std::optional<DeviceKind> device, std::optional<int> input_size) {
  std::unique_ptr<Network> network = load_network(model_path, resolve_device(device));
  Preprocessing prep = network->default_preprocessing();
  if (input_size) prep.height = prep.width = *input_size;
  prep = Preprocessing::from_json(prep.to_json());
  std::ostringstream out;
  out << model_path << ": " << network->layers().size() << " layers at " << prep.channels << " x " << prep.height
      << " x " << prep.width << " input (--layer takes the first column; the space id uses the second)\n";
  for (const LayerShape& s : layer_shapes(*network, prep)) {
    out << "  " << s.name << "  " << layer_id(s.name) << "  ";
    if (!s.problem.empty()) {
      out << "unusable: " << s.problem << "\n";
      continue;
    }
    out << s.k << " x " << s.h << " x " << s.w;
    if (s.h == 1 && s.w == 1) out << "  (classification only)";
    out << "\n";
  }
  return out.str();
}

IngestSummary run_ingest(const IngestOptions& o) {
  auto t_start = Clock::now();
  IngestSummary summary;
  const std::string started = utc_now();

  check_id_part(o.network, "network name");
  N2V_CHECK(!o.layers.empty(), kInvalidArgument, "no layer named: ingest needs at least one");
  // Layers keep the model's spelling ("layer4.1.conv2") in the run; their spaces use
  // layer_id(). Two layers with one id would overwrite each other's spaces.
  for (size_t i = 0; i < o.layers.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      N2V_CHECK(layer_id(o.layers[i]) != layer_id(o.layers[j]), kInvalidArgument,
                (o.layers[i] == o.layers[j] ? "layer '" + o.layers[i] + "' is named twice"
                                            : "layers '" + o.layers[j] + "' and '" + o.layers[i] +
                                                  "' both map to the space id part '" + layer_id(o.layers[i]) +
                                                  "' (docs/MODELS.md, \"Layer names\"); ingest them under two --network names"));
  N2V_CHECK(!o.tasks.empty(), kInvalidArgument, "no task named: ingest needs seg, cls or both");
  check_tau(o.tau);
  N2V_CHECK(o.epochs >= 0 && o.cls_epochs >= 0, kInvalidArgument, "epochs must be >= 0, got " << o.epochs << " and " << o.cls_epochs);
  N2V_CHECK(o.batch_size >= 2, kInvalidArgument, "the batch size must be >= 2, got " << o.batch_size);
  N2V_CHECK(o.lr > 0 && o.cls_lr > 0, kInvalidArgument, "learning rates must be positive");
  N2V_CHECK(o.max_images >= 0, kInvalidArgument, "the image limit must be >= 0, got " << o.max_images);
  N2V_CHECK(o.top_images >= 0, kInvalidArgument, "top images per filter must be >= 0, got " << o.top_images);

  // Open the catalog first: a bad --db fails before any expensive work.
  Catalog catalog = Catalog::open(o.db_path, Catalog::Mode::kReadWrite);

  const DeviceKind device = resolve_device(o.device);
  const int threads = configure_threads(o.threads);

  auto t0 = Clock::now();
  ProbeOptions probe_options;
  probe_options.skip_bad = o.skip_bad;
  probe_options.max_images = o.max_images;
  ProbeSet probe = ProbeSet::open(o.probe_dir, probe_options);
  log_line("probe set " + o.probe_dir + ": " + std::to_string(probe.images().size()) + " images, " +
           std::to_string(probe.labels().size()) + " labels, categories " +
           std::to_string(probe.categories().size()));

  std::unique_ptr<Network> network = load_network(o.model_path, device);
  // What --reproduce checks the model file against (sql/008_run_model_hash.sql).
  const std::string model_sha256 = sha256_file(o.model_path);
  {
    std::vector<std::string> available = network->layers();
    for (const std::string& layer : o.layers) {
      if (std::find(available.begin(), available.end(), layer) != available.end()) continue;
      std::string list;
      for (const auto& l : available) list += (list.empty() ? "" : ", ") + l;
      N2V_THROW(kNotFound, "layer '" << layer << "' is not in " << o.model_path
                                      << "; available: " << list);
    }
  }
  const Preprocessing prep = choose_preprocessing(*network, o);
  // One zero image through the network: a layer that is not N x K x H x W, or a 1 x 1 layer
  // asked to segment, stops here rather than after the pass over the probe images.
  const bool segment = std::find(o.tasks.begin(), o.tasks.end(), Task::kSegmentation) != o.tasks.end();
  for (const LayerShape& shape : layer_shapes(*network, prep, o.layers)) {
    N2V_CHECK(shape.problem.empty(), kUnsupported, shape.problem);
    N2V_CHECK(!(segment && shape.h == 1 && shape.w == 1), kInvalidArgument,
              "layer '" << shape.name << "' of " << o.model_path << " is " << shape.k
                        << " x 1 x 1 (one value per filter, e.g. a fully connected layer): segmentation needs "
                           "spatial maps; probe it by classification only with --tasks cls");
  }

  std::vector<size_t> rows(probe.images().size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  ProbeAnnotations annotations;
  {
    Progress progress("masks", static_cast<int64_t>(rows.size()), "images");
    annotations = collect_annotations(probe, rows, o.skip_bad, [&] { progress.advance(); });
  }
  summary.timings.emplace_back("probe set and masks", seconds_since(t0));

  ActivationOptions act_options;
  act_options.preprocessing = prep;
  act_options.tau = o.tau;
  act_options.batch_size = o.activation_batch;
  act_options.skip_bad = o.skip_bad;
  act_options.cache_dir = o.cache_dir;
  act_options.placement = o.placement;
  act_options.precision = o.precision;
  act_options.top_images = o.top_images;
  ActivationTimings act_timings;
  std::vector<ProbeActivations> layer_acts =
      extract_activations(*network, probe, annotations.rows, o.layers, act_options, &act_timings);
  filter_images(annotations, layer_acts.front().kept);
  network.reset();  // free the model before training
  log_line(std::string("device ") + to_string(device) + ": forward in " + to_string(o.precision) + ", activations " +
           (layer_acts.front().device_bits ? "kept on the device" : "through host memory") + ", segmentation kernel " +
           to_string(resolve_kernel(o.seg_kernel, device)) + ", malloc " + active_allocator());
  summary.timings.emplace_back("activations", act_timings.forward_seconds);
  summary.timings.emplace_back("thresholds", act_timings.threshold_seconds);
  summary.timings.emplace_back("binarize", act_timings.binarize_seconds);
  if (o.top_images > 0) summary.timings.emplace_back("top images", act_timings.top_images_seconds);

  SegmentationOptions seg;
  seg.sgd = {o.epochs, o.batch_size, o.lr, o.momentum};
  seg.log_loss = o.log_loss;
  seg.bias = o.seg_bias;
  seg.align_corners = o.align_corners;
  if (o.seg_subsets) seg.subsets = *o.seg_subsets;
  seg.min_train_images = o.min_train_images;
  seg.seed = o.seed;
  seg.stats = o.stats;
  seg.device = device;
  seg.kernel = o.seg_kernel;
  ClassificationOptions cls;
  cls.sgd = {o.cls_epochs, o.batch_size, o.cls_lr, o.momentum};
  cls.authors_budget = o.cls_authors_budget;
  if (o.cls_subsets) cls.subsets = *o.cls_subsets;
  cls.min_train_images = o.min_train_images;
  cls.seed = o.seed;
  cls.stats = o.stats;
  cls.device = device;

  // What every layer's record shares: the probe set, its concepts and images.
  namespace fs = std::filesystem;
  IngestRecord shared;
  shared.probe.path = fs::absolute(o.probe_dir).lexically_normal().string();
  if (!shared.probe.path.empty() && shared.probe.path.back() == '/') shared.probe.path.pop_back();
  shared.probe.name = fs::path(shared.probe.path).filename().string();
  shared.probe.image_count = static_cast<int>(probe.images().size());
  shared.probe.mask_height = annotations.mask_height;
  shared.probe.mask_width = annotations.mask_width;
  for (const Category& c : probe.categories()) shared.probe.categories.push_back(c.name);
  shared.probe.content_hash = probe.content_hash();  // shards on other machines: same set, same hash
  for (const Label& l : probe.labels()) {
    ConceptRecord c;
    c.number = l.number;
    c.name = l.name;
    c.category = l.category;
    for (const auto& [cat, n] : l.category_counts)
      c.categories += (c.categories.empty() ? "" : ";") + cat + "(" + std::to_string(n) + ")";
    c.frequency = l.frequency;
    c.coverage = l.coverage;
    c.syns = l.syns;
    shared.concepts.push_back(std::move(c));
  }
  for (size_t i = 0; i < probe.images().size(); ++i) {
    const ProbeImage& img = probe.images()[i];
    shared.images.push_back({static_cast<int>(i), img.path, to_string(img.split)});
  }
  const size_t shared_timings = summary.timings.size();

  for (size_t l = 0; l < o.layers.size(); ++l) {
    const std::string& layer = o.layers[l];
    const ProbeActivations& acts = layer_acts[l];
    const std::string prefix_layer = o.layers.size() > 1 ? layer + " " : "";
    IngestRecord record = shared;
    for (Task task : o.tasks) {
      TrainingTimings tt;
      std::vector<ConceptEmbedding> embeddings =
          task == Task::kSegmentation ? train_segmentation(acts, annotations, seg, &tt)
                                      : train_classification(acts, annotations, cls, &tt);
      const std::string id = space_id(o.network, layer, task);
      const std::string prefix = prefix_layer + short_name(task);
      if (task == Task::kSegmentation)
        summary.timings.emplace_back(prefix + " single filters", tt.single_filter_seconds);
      summary.timings.emplace_back(prefix + " training", tt.train_seconds);
      summary.timings.emplace_back(prefix + " evaluation", tt.eval_seconds);
      summary.timings.emplace_back(prefix + " filter subsets", tt.subset_seconds);
      summary.timings.emplace_back(prefix + " intervals and chance", tt.stats_seconds);
      if (embeddings.empty()) {
        log_line(std::string("warning: no concept qualifies for ") + to_string(task) +
                 " (each needs train and val images" +
                 (task == Task::kClassification ? ", positive and negative" : " with pixel masks") +
                 "); space " + id + " not written");
        continue;
      }
      SpaceSummary s;
      s.id = id;
      s.task = task;
      s.concepts = static_cast<int>(embeddings.size());
      s.mean_train = mean_of(embeddings, &ConceptEmbedding::score_train);
      s.mean_val = mean_of(embeddings, &ConceptEmbedding::score_val);
      s.mean_single_val = mean_of(embeddings, &ConceptEmbedding::best_filter_val);
      summary.spaces.push_back(s);
      record.spaces.push_back(to_space_record(id, task, embeddings, acts));
    }
    N2V_CHECK(!record.spaces.empty(), kInvalidArgument,
              "probe set " << o.probe_dir << " has no usable concept: every concept needs "
                           << "images in both the train and the val split");

    RunRecord& run = record.run;
    run.network = o.network;
    run.model_path = fs::absolute(o.model_path).lexically_normal().string();
    run.model_sha256 = model_sha256;
    run.layer = layer;
    run.device = to_string(device);
    run.software_version = kVersion;
    run.seed = static_cast<int64_t>(o.seed);
    run.tau = o.tau;
    run.params_json = params_json(o, seg, cls, threads).dump();
    run.preprocessing_json = prep.to_json();
    run.started_at = started;
    run.images_used = acts.n;
    run.images_skipped = static_cast<int>(probe.skipped().size());
    run.filter_count = acts.k;
    run.act_height = acts.h;
    run.act_width = acts.w;
    run.thresholds = acts.thresholds;
    run.top_images_per_filter = o.top_images;
    for (int f = 0; f < static_cast<int>(acts.top_images.size()); ++f)
      for (size_t r = 0; r < acts.top_images[f].size(); ++r) {
        const TopImage& t = acts.top_images[f][r];
        run.top_images.push_back({f, static_cast<int>(r), static_cast<int>(acts.rows[t.image]), t.max_activation,
                                  acts.h, acts.w, t.map});
      }

    // The run's timings: the shared stages and this layer's own.
    nlohmann::json timings = nlohmann::json::object();
    for (size_t i = 0; i < summary.timings.size(); ++i) {
      const auto& [stage, secs] = summary.timings[i];
      if (i < shared_timings || stage.rfind(prefix_layer, 0) == 0) timings[stage] = secs;
    }
    auto t_write = Clock::now();
    run.finished_at = utc_now();
    run.timings_json = timings.dump();
    LayerSummary ls;
    ls.layer = layer;
    ls.run_id = catalog.write_ingest(record);
    ls.filters = acts.k;
    ls.act_height = acts.h;
    ls.act_width = acts.w;
    summary.layers.push_back(ls);
    summary.timings.emplace_back(prefix_layer + "catalog write", seconds_since(t_write));
  }

  summary.images_used = layer_acts.front().n;
  summary.images_skipped = static_cast<int>(probe.skipped().size());
  summary.total_seconds = seconds_since(t_start);
  for (const SkippedRow& s : probe.skipped())
    log_line("skipped " + s.file + (s.line ? ":" + std::to_string(s.line) : "") + ": " + s.reason);
  return summary;
}

std::string format_summary(const IngestSummary& s) {
  std::ostringstream out;
  char buf[256];
  out << "net2vec-ingest: " << s.images_used << " images used, " << s.images_skipped
      << " skipped\n";
  for (const LayerSummary& l : s.layers)
    out << "  layer " << l.layer << ": " << l.filters << " filters at " << l.act_height << "x"
        << l.act_width << ", run " << l.run_id << "\n";
  for (const SpaceSummary& sp : s.spaces) {
    const bool seg = sp.task == Task::kSegmentation;
    std::snprintf(buf, sizeof buf,
                  "  %-32s %4d concepts   mean %s val: single filter %.3f, all filters %.3f "
                  "(train %.3f)\n",
                  sp.id.c_str(), sp.concepts, seg ? "set IoU" : "bal. acc.", sp.mean_single_val,
                  sp.mean_val, sp.mean_train);
    out << buf;
  }
  out << "  time per stage:\n";
  for (const auto& [stage, secs] : s.timings) {
    std::snprintf(buf, sizeof buf, "    %-26s %10.2f s\n", stage.c_str(), secs);
    out << buf;
  }
  std::snprintf(buf, sizeof buf, "    %-26s %10.2f s\n", "total", s.total_seconds);
  out << buf;
  return out.str();
}

}  // namespace n2v
