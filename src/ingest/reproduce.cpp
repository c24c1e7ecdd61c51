// `net2vec-ingest --reproduce`: a stored run re-run from its recorded parameters and compared
// with what the catalog holds (issue 21 part 3; docs/METHOD.md, "Reproducing a run").

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/sha256.h"
#include "ingest/ingest.h"
#include "probe/probe_set.h"

namespace n2v {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The options a run was made with, from its record: params JSON, preprocessing, device.
IngestOptions options_of(const IngestRecord& rec, const std::string& db_path) {
  const RunRecord& run = rec.run;
  N2V_CHECK(!run.params_json.empty(), kUnsupported,
            "run of " << run.network << "." << run.layer << " recorded no parameters: it cannot be reproduced");
  const json p = json::parse(run.params_json, nullptr, false);
  N2V_CHECK(p.is_object(), kCorrupt, "run of " << run.network << "." << run.layer << ": its params are not JSON");
  IngestOptions o;
  o.probe_dir = rec.probe.path;
  o.model_path = run.model_path;
  o.network = run.network;
  o.db_path = db_path;
  o.layers = {run.layer};
  o.tasks.clear();
  for (const json& t : p.value("tasks", json::array())) o.tasks.push_back(parse_task(t.get<std::string>()));
  o.device = parse_device(run.device);
  o.tau = run.tau;
  o.seed = static_cast<uint64_t>(run.seed);
  o.max_images = p.value("max_images", 0);
  o.skip_bad = p.value("skip_bad", false);
  o.threads = p.value("threads", 0);
  o.activation_batch = p.value("activation_batch", o.activation_batch);
  if (p.contains("placement")) o.placement = parse_placement(p["placement"].get<std::string>());
  if (p.contains("precision")) o.precision = parse_precision(p["precision"].get<std::string>());
  o.top_images = p.value("top_images", 0);
  if (p.contains("segmentation")) {
    const json& s = p["segmentation"];
    o.epochs = s.value("epochs", o.epochs);
    o.batch_size = s.value("batch_size", o.batch_size);
    o.lr = s.value("lr", o.lr);
    o.momentum = s.value("momentum", o.momentum);
    o.log_loss = s.value("loss", std::string("linear")) == "log";
    o.seg_bias = s.value("bias", false);
    o.align_corners = s.value("align_corners", false);
    if (s.contains("subsets")) o.seg_subsets = s["subsets"].get<std::vector<int>>();
    if (s.contains("kernel")) o.seg_kernel = parse_segmentation_kernel(s["kernel"].get<std::string>());
    o.min_train_images = s.value("min_train_images", o.min_train_images);
  }
  if (p.contains("classification")) {
    const json& c = p["classification"];
    o.cls_epochs = c.value("epochs", o.cls_epochs);
    o.cls_lr = c.value("lr", o.cls_lr);
    o.cls_authors_budget = c.value("budget", std::string()).rfind("authors", 0) == 0;
    if (c.contains("subsets")) o.cls_subsets = c["subsets"].get<std::vector<int>>();
  }
  if (p.contains("score_stats")) {
    o.stats.resamples = p["score_stats"].value("resamples", o.stats.resamples);
    o.stats.permutations = p["score_stats"].value("permutations", o.stats.permutations);
  } else {
    o.stats = {0, 0};  // a run from before intervals had none
  }
  if (!run.preprocessing_json.empty()) {
    const Preprocessing prep = Preprocessing::from_json(run.preprocessing_json);
    if (prep.height == prep.width) o.input_size = prep.height;
    o.channel_order = prep.channel_order;
    o.scale = prep.scale;
    o.mean = prep.mean;
    o.std = prep.std;
  }
  return o;
}

// The recorded inputs must be where and what they were: a moved or changed file is an error
// naming the recorded path and the hash it should have.
void check_inputs(const IngestRecord& rec, const std::string& space) {
  const RunRecord& run = rec.run;
  N2V_CHECK(fs::is_regular_file(run.model_path), kNotFound,
            "space " << space << ": the model file recorded by its run, " << run.model_path
                     << ", is missing (expected SHA-256 "
                     << (run.model_sha256.empty() ? std::string("not recorded") : run.model_sha256)
                     << "); put it back at that path to reproduce the run");
  if (!run.model_sha256.empty()) {
    const std::string got = sha256_file(run.model_path);
    N2V_CHECK(got == run.model_sha256, kInvalidArgument,
              "space " << space << ": the model file " << run.model_path << " has SHA-256 " << got
                       << " but its run recorded " << run.model_sha256 << ": it is not the model that run used");
  }
  N2V_CHECK(fs::is_directory(rec.probe.path), kNotFound,
            "space " << space << ": the probe set recorded by its run, " << rec.probe.path
                     << ", is missing (expected content hash "
                     << (rec.probe.content_hash.empty() ? std::string("not recorded") : rec.probe.content_hash)
                     << "); put it back at that path to reproduce the run");
  if (!rec.probe.content_hash.empty()) {
    const std::string got = ProbeSet::content_hash(rec.probe.path);
    N2V_CHECK(got == rec.probe.content_hash, kInvalidArgument,
              "space " << space << ": the probe set " << rec.probe.path << " has content hash " << got
                       << " but its run recorded " << rec.probe.content_hash << ": its index or labels changed");
  }
}

void note(ReproduceReport::Difference& d, double a, double b, const std::string& where) {
  const bool both_nan = std::isnan(a) && std::isnan(b);
  const double diff = both_nan ? 0.0 : std::isnan(a) != std::isnan(b) ? INFINITY : std::abs(a - b);
  ++d.compared;
  if (diff > d.largest || (d.where.empty() && diff > 0)) {
    d.largest = diff;
    d.where = where;
  }
}

double value_of(const std::optional<float>& v) { return v ? static_cast<double>(*v) : NAN; }

void compare_spaces(const SpaceRecord& a, const SpaceRecord& b, const std::vector<ConceptRecord>& concepts,
                    ReproduceReport& r) {
  auto name_of = [&](int number) {
    for (const ConceptRecord& c : concepts)
      if (c.number == number) return c.name;
    return std::to_string(number);
  };
  for (const EmbeddingRecord& e : a.embeddings) {
    const auto it = std::find_if(b.embeddings.begin(), b.embeddings.end(),
                                 [&](const EmbeddingRecord& x) { return x.concept_number == e.concept_number; });
    const std::string where = a.id + " '" + name_of(e.concept_number) + "'";
    if (it == b.embeddings.end()) {
      r.missing.push_back(where);
      continue;
    }
    const EmbeddingRecord& f = *it;
    for (size_t k = 0; k < std::max(e.weights.size(), f.weights.size()); ++k)
      note(r.weights, k < e.weights.size() ? e.weights[k] : NAN, k < f.weights.size() ? f.weights[k] : NAN,
           where + " w_" + std::to_string(k));
    note(r.weights, e.bias, f.bias, where + " bias");
    const std::pair<const char*, std::pair<std::optional<float>, std::optional<float>>> scores[] = {
        {"set_iou_train", {e.set_iou_train, f.set_iou_train}},
        {"set_iou_val", {e.set_iou_val, f.set_iou_val}},
        {"accuracy_train", {e.accuracy_train, f.accuracy_train}},
        {"accuracy_val", {e.accuracy_val, f.accuracy_val}},
        {"best_filter_train", {e.best_filter_train, f.best_filter_train}},
        {"best_filter_val", {e.best_filter_val, f.best_filter_val}},
        {"score_val_low", {e.score_val_stats.low, f.score_val_stats.low}},
        {"score_val_high", {e.score_val_stats.high, f.score_val_stats.high}},
        {"score_val_p", {e.score_val_stats.p, f.score_val_stats.p}},
        {"best_filter_val_p", {e.best_filter_val_stats.p, f.best_filter_val_stats.p}}};
    for (const auto& [what, pair] : scores) note(r.scores, value_of(pair.first), value_of(pair.second), where + " " + what);
    for (const SubsetScore& s : e.subsets)
      for (const SubsetScore& t : f.subsets)
        if (s.filters == t.filters) note(r.scores, s.score, t.score, where + " F=" + std::to_string(s.filters));
    r.best_filter_changed += e.best_filter != f.best_filter;
  }
}

std::string temp_catalog_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/net2vec-reproduce-XXXXXX";
  N2V_CHECK(mkdtemp(pattern.data()) != nullptr, kIo, "cannot create a temporary folder like " << pattern);
  return pattern;
}

// The run behind `space` as the catalog would write it again. A catalog of an older schema
// cannot be opened read-only: it is merged into a temporary catalog in `dir` (net2vec
// merge migrates a copy of it), so the user's file is never written.
IngestRecord stored_run(const std::string& db_path, const std::string& space, const std::string& given_space,
                        const std::string& dir) {
  auto find = [&](const Catalog& catalog) {
    const std::optional<SpaceInfo> info = catalog.space(space);
    N2V_CHECK(info, kNotFound, "catalog " << db_path << " has no space '" << given_space << "'");
    N2V_CHECK(!is_reference(*info), kInvalidArgument, "space " << space << " is a reference space: it has no run to reproduce");
    for (IngestRecord& rec : catalog.ingest_records())
      for (const SpaceRecord& s : rec.spaces)
        if (s.id == space) return std::move(rec);
    N2V_THROW(kInternal, "space " << space << " has no run in " << db_path);
  };
  try {
    return find(Catalog::open(db_path, Catalog::Mode::kReadOnly));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
  }
  Catalog migrated = Catalog::open(dir + "/migrated.db");
  migrated.merge({db_path});  // kUnsupported again for a newer file, naming it
  return find(migrated);
}

}  // namespace

bool ReproduceReport::identical() const {
  return thresholds.largest == 0 && weights.largest == 0 && scores.largest == 0 && best_filter_changed == 0 &&
         missing.empty();
}

ReproduceReport reproduce_run(const ReproduceOptions& given) {
  const std::string space = canonical_space_id(given.space);
  N2V_CHECK(given.into.empty() || fs::absolute(given.into) != fs::absolute(given.db_path), kInvalidArgument,
            "--into " << given.into << " is the catalog being reproduced: give another file");
  const std::string dir = temp_catalog_dir();
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } remove_dir{dir};
  const IngestRecord original = stored_run(given.db_path, space, given.space, dir);
  check_inputs(original, space);

  ReproduceReport r;
  r.space = space;
  r.into = given.into.empty() ? dir + "/reproduced.db" : given.into;
  IngestOptions o = options_of(original, r.into);
  if (given.threads > 0) o.threads = given.threads;
  r.options = o;
  run_ingest(o);
  const Catalog again = Catalog::open(r.into, Catalog::Mode::kReadOnly);
  const std::vector<IngestRecord> records = again.ingest_records();
  const IngestRecord* rerun = nullptr;
  for (const IngestRecord& rec : records)
    if (rec.run.network == original.run.network && rec.run.layer == original.run.layer) rerun = &rec;
  N2V_CHECK(rerun, kInternal, "the re-run wrote no run of " << original.run.network << "." << original.run.layer);
  for (size_t k = 0; k < std::max(original.run.thresholds.size(), rerun->run.thresholds.size()); ++k)
    note(r.thresholds, k < original.run.thresholds.size() ? original.run.thresholds[k] : NAN,
         k < rerun->run.thresholds.size() ? rerun->run.thresholds[k] : NAN, "T_" + std::to_string(k));
  for (const SpaceRecord& a : original.spaces) {
    const auto it = std::find_if(rerun->spaces.begin(), rerun->spaces.end(), [&](const SpaceRecord& s) { return s.id == a.id; });
    if (it == rerun->spaces.end()) {
      r.missing.push_back(a.id);
      continue;
    }
    r.spaces.push_back(a.id);
    compare_spaces(a, *it, original.concepts, r);
  }
  if (given.into.empty()) r.into.clear();  // the temporary folder goes with remove_dir
  return r;
}

std::string format_reproduce(const ReproduceReport& r) {
  std::ostringstream out;
  out << "reproduced " << r.space << " (spaces of its run:";
  for (const std::string& s : r.spaces) out << " " << s;
  out << ") " << (r.into.empty() ? "in a temporary catalog (removed)" : "into " + r.into) << "\n";
  out << "largest absolute differences, original vs re-run:\n";
  auto line = [&](const char* what, const ReproduceReport::Difference& d) {
    out << "  " << what << ": " << d.largest << (d.where.empty() ? "" : " (" + d.where + ")") << " over "
        << d.compared << " values\n";
  };
  line("thresholds T_k     ", r.thresholds);
  line("weights and biases ", r.weights);
  line("scores             ", r.scores);
  out << "  best single filter changed for " << r.best_filter_changed << " concepts\n";
  for (const std::string& m : r.missing) out << "  missing from the re-run: " << m << "\n";
  out << (r.identical() ? "identical: yes\n" : "identical: no (docs/METHOD.md, \"Reproducing a run\", says what may differ)\n");
  return out.str();
}

}  // namespace n2v
