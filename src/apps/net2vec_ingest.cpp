// net2vec-ingest: learns Net2Vec concept embeddings for one network layer from a probe set
// in BRODEN format and stores them in a catalog. Option parsing only; see src/ingest.

#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/process.h"
#include "common/progress.h"
#include "common/text.h"
#include "ingest/ingest.h"

namespace {

// The library's messages name an option's field ("tau", "placement"); the command line names
// the flag it came from: "--quantile: tau ... must be in (0, 1), got 2".
template <typename F>
auto for_flag(const char* flag, F&& f) {
  try {
    return f();
  } catch (const n2v::Error& e) {
    throw n2v::Error(e.code(), std::string(flag) + ": " + e.message(), e.file(), e.line());
  }
}

std::array<float, 3> parse_triple(const std::string& text, const char* what) {
  std::vector<std::string> parts = n2v::split(text, ',');
  N2V_CHECK(parts.size() == 3, kInvalidArgument, what << " takes three comma-separated numbers, got '" << text << "'");
  std::array<float, 3> out{};
  for (int i = 0; i < 3; ++i) {
    auto v = n2v::parse_double(parts[i]);
    N2V_CHECK(v, kInvalidArgument, what << ": '" << parts[i] << "' is not a number");
    out[i] = static_cast<float>(*v);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  n2v::reexec_with_process_settings(argv);  // passive OpenMP waiting, tcmalloc (common/process.h)
  // On glibc's malloc (NET2VEC_ALLOCATOR=system, or no tcmalloc): keep the tensors of tens of
  // MB that training allocates per step on the heap rather than mmap/munmap each time (larger
  // ones still are). tcmalloc's mallopt does nothing.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  n2v::IngestOptions o;
  CLI::App app{
      "net2vec-ingest: learn Net2Vec concept embeddings (Fong & Vedaldi, CVPR 2018) for one\n"
      "layer of a network, probed with a BRODEN-format dataset, and store them in a catalog.\n\n"
      "For every concept it learns a weight vector over the layer's filters by segmentation\n"
      "(thresholded activations, sigmoid, set IoU; paper 3.1) and by classification (spatially\n"
      "averaged activations; paper 3.2), scores the best single filter and top-F filter\n"
      "subsets, and writes them as spaces <network>.<layer>.seg / .cls. Re-ingesting a space\n"
      "replaces it in one transaction."};
  app.get_formatter()->column_width(34);

  std::string device = "auto", placement = n2v::to_string(o.placement), precision = n2v::to_string(o.precision),
              seg_kernel = n2v::to_string(o.seg_kernel);
  std::string tasks = "seg,cls", seg_subsets, cls_subsets, mean, stdev, progress = "auto";
  bool quiet = false;
  bool list = false;
  app.add_flag("--list-layers", list,
               "Print every layer of --model with its space id part and its K x H x W for one image at the "
               "model's input size (or --input-size), then exit; needs no probe set");
  app.add_option("--probe", o.probe_dir, "Probe set directory in BRODEN format (index.csv, label.csv, images/)");
  app.add_option("--model", o.model_path,
                 "Network: a TorchScript file whose forward returns a dict of named layers "
                 "(tools/net2vec-export makes them from any torchvision model or nn.Module) or a "
                 ".safetensors file of a built-in architecture (tools/nsfwjs/convert.mjs); see docs/MODELS.md "
                 "(required, except with --reproduce, which reads it from the run)");
  std::string layers;
  app.add_option("--layer", layers,
                 "Layer to probe as the model names it, e.g. conv5 or layer4.1.conv2 (--list-layers shows "
                 "them); several comma-separated (conv4,conv5) share one pass over the images and get a run "
                 "and spaces each. The space id writes the layer URL-safe: dots become '-' "
                 "(resnet50.layer4-1-conv2.seg); queries accept either spelling");
  app.add_option("--network", o.network, "Name of the network in the catalog, e.g. alexnet");
  app.add_option("--db", o.db_path, "Catalog file (SQLite); created if absent");
  std::string reproduce, into;
  app.add_option("--reproduce", reproduce,
                 "Re-run the run behind this space of --db from its recorded parameters, model file and probe set "
                 "(checked against their recorded SHA-256 and content hash) and report the largest differences in "
                 "thresholds, weights and scores (docs/METHOD.md, \"Reproducing a run\")");
  app.add_option("--into", into, "With --reproduce: the catalog to write the re-run into (default: a temporary one, removed)");
  app.add_option("--tasks", tasks, "Comma-separated: seg (segmentation), cls (classification)")
      ->capture_default_str();
  app.add_option("--device", device, "auto | cpu | cuda")->capture_default_str();
  app.add_option("--placement", placement,
                 "Where activations are thresholded and kept: host (copied to memory batch by batch), "
                 "device (left on the network's device: the GPU path), auto (device on CUDA)")
      ->capture_default_str();
  app.add_option("--precision", precision,
                 "The forward's arithmetic: float32, float16 or bfloat16 (reduced precision changes some "
                 "thresholded bits; docs/GPU.md)")
      ->capture_default_str();
  app.add_option("--seg-kernel", seg_kernel,
                 "Segmentation kernel: sparse (host-built index lists, fastest on a CPU), dense (maps "
                 "unpacked on the device, the GPU's), auto (dense on CUDA)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads for LibTorch (0 = all cores)")->capture_default_str();
  app.add_option("--quantile", o.tau, "tau: each filter's threshold T_k has P(a_k > T_k) = tau")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "Segmentation epochs (paper: 30)")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Images per concept per SGD step (paper: 64)")
      ->capture_default_str();
  app.add_option("--lr", o.lr, "Segmentation learning rate (paper: 1e-4), SGD momentum 0.9")
      ->capture_default_str();
  app.add_option("--cls-epochs", o.cls_epochs, "Classification epochs")->capture_default_str();
  app.add_option("--cls-lr", o.cls_lr,
                 "Classification learning rate (SGD, momentum 0.9), on pooled features divided by the RMS norm of the train rows")
      ->capture_default_str();
  std::string cls_budget = "ours";
  app.add_option("--cls-budget", cls_budget,
                 "ours: ceil(N_train / batch) balanced steps per concept per epoch on centred, scaled features; "
                 "authors: one balanced pass of 2 min(P, N) images per concept per epoch on raw features, "
                 "lr 1e-4 unless --cls-lr is given (docs/METHOD.md)")
      ->capture_default_str();
  app.add_option("--seg-subsets", seg_subsets,
                 "Filter counts F to retrain segmentation with (top-F by |w|); '' for none. "
                 "Default: the paper's 1,2,4,8,16,32,64,128,160,192,224");
  app.add_option("--cls-subsets", cls_subsets,
                 "Filter counts F for classification; default: the paper's "
                 "1,2,3,5,10,15,20,25,30,35,40,45,50,80,100,128");
  app.add_flag("--log-loss", o.log_loss, "Use the log (cross-entropy) form of eq. 4 instead of the "
                                        "linear form as printed (and as the authors' code does)");
  app.add_flag("--seg-bias", o.seg_bias, "Learn a bias in segmentation (eq. 2 has none)");
  app.add_flag("--align-corners", o.align_corners,
               "Upsample thresholded maps with bilinear align_corners = true, as the authors' PyTorch did "
               "(default: false, today's PyTorch)");
  app.add_option("--min-train-images", o.min_train_images,
                 "Leave out concepts in fewer train images than this")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Random seed (shuffles, sampling)")->capture_default_str();
  app.add_option("--resamples", o.stats.resamples,
                 "Bootstrap resamples of the val images for each score's 95 % interval; 0: none "
                 "(docs/METHOD.md, \"Intervals and chance\")")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--permutations", o.stats.permutations,
                 "Permutations of the val masks or labels for each score's p-value against chance; 0: none")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--max-images", o.max_images, "Use only the first N rows of index.csv (0 = all)")
      ->capture_default_str();
  app.add_flag("--skip-bad", o.skip_bad,
               "Skip rows with a missing or corrupt image or mask, or malformed values, and report "
               "how many; by default the first one stops the run");
  app.add_option("--cache-dir", o.cache_dir,
                 "Accepted and ignored: activations are no longer cached on disk between the passes (the "
                 "top-quantile candidates are kept in memory with their positions)");
  app.add_option("--activation-batch", o.activation_batch, "Images per network forward pass")
      ->capture_default_str();
  app.add_option("--top-images", o.top_images,
                 "Per filter, store the N probe images where it fires most (ranked by the max of its "
                 "activation map, as NetDissect, then by its mean where maxima tie, as under ReLU6) with the "
                 "map thresholded at T_k, for the filter page; "
                 "0 = off (docs/CATALOG.md gives the catalog bytes this adds)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--input-size", o.input_size, "Network input size (square); default: the model's");
  app.add_option("--channel-order", o.channel_order, "RGB or BGR; default: the model's");
  app.add_option("--scale", o.scale, "Pixel scale before mean/std (e.g. 0.00392157 = 1/255)");
  app.add_option("--mean", mean, "Per-channel mean, e.g. 0.485,0.456,0.406");
  app.add_option("--std", stdev, "Per-channel std, e.g. 0.229,0.224,0.225");
  app.add_option("--progress", progress, "auto | bar | lines | none")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "No progress output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    o.device = for_flag("--device", [&] { return n2v::parse_device(device); });
    if (list) {
      N2V_CHECK(!o.model_path.empty(), kInvalidArgument, "--list-layers needs --model");
      std::fputs(n2v::list_layers(o.model_path, o.device, o.input_size).c_str(), stdout);
      return 0;
    }
    using Mode = n2v::Progress::Mode;
    if (quiet || progress == "none") n2v::Progress::set_default_mode(Mode::kQuiet);
    else if (progress == "bar") n2v::Progress::set_default_mode(Mode::kBar);
    else if (progress == "lines") n2v::Progress::set_default_mode(Mode::kLines);
    else N2V_CHECK(progress == "auto", kInvalidArgument, "--progress: auto, bar, lines or none, got '" << progress << "'");
    if (!reproduce.empty()) {
      N2V_CHECK(!o.db_path.empty(), kInvalidArgument, "--reproduce needs --db, the catalog holding the space");
      n2v::ReproduceOptions r;
      r.space = reproduce;
      r.db_path = o.db_path;
      r.into = into;
      r.threads = o.threads;
      std::fputs(n2v::format_reproduce(n2v::reproduce_run(r)).c_str(), stdout);
      return 0;
    }
    N2V_CHECK(into.empty(), kInvalidArgument, "--into goes with --reproduce");
    const std::pair<const char*, bool> required[] = {
        {"--model", !o.model_path.empty()}, {"--probe", !o.probe_dir.empty()}, {"--layer", !layers.empty()}, {"--network", !o.network.empty()},
        {"--db", !o.db_path.empty()}};
    for (const auto& [flag, given] : required)
      N2V_CHECK(given, kInvalidArgument, flag << " is required (run with --help for the options)");
    for (const std::string& l : n2v::split(layers, ',')) o.layers.emplace_back(n2v::trim(l));
    o.tasks.clear();
    for (const std::string& t : n2v::split(tasks, ','))
      o.tasks.push_back(for_flag("--tasks", [&] { return n2v::parse_task(std::string(n2v::trim(t))); }));
    o.placement = for_flag("--placement", [&] { return n2v::parse_placement(placement); });
    o.precision = for_flag("--precision", [&] { return n2v::parse_precision(precision); });
    o.seg_kernel = for_flag("--seg-kernel", [&] { return n2v::parse_segmentation_kernel(seg_kernel); });
    for_flag("--quantile", [&] { n2v::check_tau(o.tau); });
    if (app.count("--seg-subsets")) o.seg_subsets = n2v::parse_int_list(seg_subsets, "--seg-subsets");
    if (app.count("--cls-subsets")) o.cls_subsets = n2v::parse_int_list(cls_subsets, "--cls-subsets");
    N2V_CHECK(cls_budget == "ours" || cls_budget == "authors", kInvalidArgument,
              "--cls-budget must be ours or authors, got '" << cls_budget << "'");
    o.cls_authors_budget = cls_budget == "authors";
    if (o.cls_authors_budget && !app.count("--cls-lr")) o.cls_lr = 1e-4;
    if (!mean.empty()) o.mean = parse_triple(mean, "--mean");
    if (!stdev.empty()) o.std = parse_triple(stdev, "--std");

    n2v::IngestSummary summary = n2v::run_ingest(o);
    std::fputs(n2v::format_summary(summary).c_str(), stdout);
    return 0;
  } catch (const n2v::Error& e) {
    std::fprintf(stderr, "net2vec-ingest: error: %s\n", e.message().c_str());
    return n2v::exit_code(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net2vec-ingest: internal error: %s\n", e.what());
    return 1;
  }
}
