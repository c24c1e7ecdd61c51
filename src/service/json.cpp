// to_json for every service response, and request bodies from JSON (docs/API.md).

#include "service/json.h"

#include "service/queries.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/exit_codes.h"
#include "service/queries.h"

namespace n2v {
namespace {

// null for a missing or non-finite number.
Json num(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }
Json num(const std::optional<float>& v) { return v ? num(static_cast<double>(*v)) : Json(nullptr); }
Json num(const std::optional<double>& v) { return v ? num(*v) : Json(nullptr); }
Json opt(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }
Json floats(const std::vector<float>& v) {
  Json out = Json::array();
  for (float x : v) out.push_back(num(static_cast<double>(x)));
  return out;
}

Json task_json(const SpaceInfo& s) { return s.task ? Json(to_string(*s.task)) : Json(nullptr); }

// The keys that open every response about one space: which space, its kind and task, and
// what the response's scores mean.
Json space_header(const SpaceInfo& s, const std::optional<std::string>& metric) {
  return Json{{"space", s.id}, {"kind", to_string(s.kind)}, {"task", task_json(s)}, {"metric", opt(metric)}};
}

// `percentiles`: each hit's place among the space's concept-pair cosines (neighbours only).
Json hits_json(const std::vector<ConceptHit>& hits, bool percentiles = false) {
  Json out = Json::array();
  for (size_t i = 0; i < hits.size(); ++i) {
    Json hit = {{"rank", i + 1},
                {"number", hits[i].concept_number},
                {"name", hits[i].name},
                {"category", hits[i].category},
                {"score", num(hits[i].score)}};
    if (percentiles) hit["percentile"] = num(hits[i].percentile);
    out.push_back(std::move(hit));
  }
  return out;
}

// The space's concept-pair cosines (CosineBaseline) without the values themselves.
Json baseline_json(const std::shared_ptr<const CosineBaseline>& b) {
  if (!b) return nullptr;
  return {{"pairs", b->pairs}, {"sampled", b->sampled}, {"mean", num(b->mean)},
          {"p50", num(b->p50)},  {"p95", num(b->p95)},    {"p99", num(b->p99)}};
}

// A listed val score's 95 % interval, p against chance and the null's mean as
// <prefix>_interval ([low, high] | null), <prefix>_p, <prefix>_null_mean (docs/METHOD.md,
// "Intervals and chance"): a score is never listed without them; null: not computed.
void add_stats(Json& row, const std::string& prefix, const ScoreStatsRecord& st) {
  row[prefix + "_interval"] = interval_json(st);
  row[prefix + "_p"] = num(st.p);
  row[prefix + "_null_mean"] = num(st.null_mean);
}

Json filter_concepts_json(const std::vector<FilterConcept>& v) {
  Json out = Json::array();
  for (const FilterConcept& f : v) {
    Json row{{"number", f.concept_number},
             {"name", f.name},
             {"category", f.category},
             {"weight", num(f.weight)},
             {"share", num(f.share)},
             {"rank", f.rank},
             {"best", f.best},
             {"best_filter_val", num(f.best_filter_val)}};
    add_stats(row, "best_filter_val", f.best_filter_val_stats);
    out.push_back(std::move(row));
  }
  return out;
}

Json matrix_json(const std::vector<double>& v, int m) {
  Json out = Json::array();
  for (int i = 0; i < m; ++i) {
    Json row = Json::array();
    for (int j = 0; j < m; ++j) row.push_back(num(v[static_cast<size_t>(i) * m + j]));
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

Json interval_json(const ScoreStatsRecord& st) {
  return st.low && st.high && std::isfinite(*st.low) && std::isfinite(*st.high)
             ? Json::array({Json(*st.low), Json(*st.high)})
             : Json(nullptr);
}

Json to_json(const HealthResponse& r) {
  return {{"status", "ok"},
          {"version", r.version},
          {"schema_version", r.schema_version},
          {"spaces", r.spaces},
          {"index", r.index},
          {"generation", r.generation},
          {"cache", {{"spaces", r.cache.spaces},
                     {"bytes", r.cache.bytes},
                     {"budget_bytes", r.cache_budget},
                     {"loads", r.cache.loads},
                     {"evictions", r.cache.evictions}}}};
}

namespace {
// A stored JSON column as an object ({} when empty or not an object: runs written by tests).
Json stored_object(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_object() ? j : Json::object();
}

// What a network space was measured with (its run), for a reader to judge and reproduce it:
// the probe set, the input size, tau, the task's training settings and when and by what.
Json run_json(const SpaceInfo& s, const RunRecord& run) {
  const Json params = stored_object(run.params_json);
  const Json prep = stored_object(run.preprocessing_json);
  const Json training = s.task ? params.value(to_string(*s.task), Json::object()) : Json::object();
  const auto field = [](const Json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key] : Json(nullptr); };
  return {{"probe_set", s.probe_set.empty() ? Json(nullptr) : Json(s.probe_set)},
          {"input_size", prep.contains("height") && prep.contains("width") ? Json{prep["height"], prep["width"]} : Json(nullptr)},
          {"activation_size", {run.act_height, run.act_width}},
          {"tau", num(run.tau)},
          {"epochs", field(training, "epochs")},
          {"lr", field(training, "lr")},
          {"batch_size", field(training, "batch_size")},
          {"subsets", field(training, "subsets")},  // the F values of the F sweep ([]: it was off)
          {"seed", run.seed},
          {"images_used", run.images_used},
          {"images_skipped", run.images_skipped},
          {"device", run.device},
          {"software_version", run.software_version},
          {"model_sha256", run.model_sha256.empty() ? Json(nullptr) : Json(run.model_sha256)},  // schema 8; null before
          {"started_at", run.started_at},
          {"finished_at", run.finished_at}};
}
}  // namespace

Json to_json(const SpacesResponse& r) {
  Json out = Json::array();
  for (const SpaceInfo& s : r.spaces) {
    const bool ref = is_reference(s);
    const auto run = r.runs.find(s.run_id);
    out.push_back({{"id", s.id},
                   {"kind", to_string(s.kind)},
                   {"network", ref ? Json(nullptr) : Json(s.network)},
                   {"layer", ref ? Json(nullptr) : Json(s.layer)},
                   {"model_layer", ref ? Json(nullptr) : Json(s.model_layer)},
                   {"task", task_json(s)},
                   {"metric", opt(score_metric(s))},
                   {"dim", s.dim},
                   {"concept_count", s.concept_count},
                   {"run_id", ref ? Json(nullptr) : Json(s.run_id)},
                   {"created_at", s.created_at},
                   {"source", s.source.empty() ? Json(nullptr) : Json(s.source)},
                   {"run", ref || run == r.runs.end() ? Json(nullptr) : run_json(s, run->second)}});
  }
  return {{"spaces", out}};
}

Json to_json(const ConceptsResponse& r) {
  Json out = space_header(r.space, score_metric(r.space));
  out["dim"] = r.space.dim;
  out["category"] = opt(r.category);
  out["concept_count"] = r.concepts.size();
  Json rows = Json::array();
  for (const ConceptSummary& c : r.concepts) {
    Json row{{"number", c.concept_number}, {"name", c.name}, {"category", c.category}, {"score_val", num(c.score_val)}};
    add_stats(row, "score_val", c.score_val_stats);
    row["best_filter"] = c.best_filter;
    row["best_filter_val"] = num(c.best_filter_val);
    add_stats(row, "best_filter_val", c.best_filter_val_stats);
    row["l2_norm"] = num(c.l2_norm);
    rows.push_back(std::move(row));
  }
  out["concepts"] = std::move(rows);
  return out;
}

Json to_json(const NeighborsResponse& r) {
  Json out = space_header(r.space, "cosine");
  out["query"] = r.result.query.empty() ? Json(nullptr) : Json(r.result.query);
  out["category"] = opt(r.result.category);
  out["k"] = r.result.k;
  out["candidates"] = r.result.candidates;
  out["hits"] = hits_json(r.result.hits, /*percentiles=*/true);
  out["baseline"] = baseline_json(r.result.baseline);
  return out;
}

Json to_json(const AnalogyResponse& r) {
  const bool add = r.result.method == AnalogyMethod::kAdd;
  Json out = space_header(r.space, add ? "cosine" : "3cosmul");
  out["method"] = to_string(r.result.method);
  out["positive"] = r.result.positive;
  out["negative"] = r.result.negative;
  out["category"] = opt(r.result.category);
  out["k"] = r.result.k;
  out["candidates"] = r.result.candidates;
  out["hits"] = hits_json(r.result.hits);
  return out;
}

Json to_json(const ExamplesResponse& r) {
  Json out = space_header(r.space, "cosine");
  out["k"] = r.k;
  Json nearest = Json::array(), arithmetic = Json::array();
  for (const NeighborsResponse& n : r.nearest)
    nearest.push_back({{"query", n.result.query}, {"hits", hits_json(n.result.hits, /*percentiles=*/true)}});
  for (const AnalogyResponse& a : r.arithmetic)
    arithmetic.push_back({{"positive", a.result.positive}, {"negative", a.result.negative}, {"hits", hits_json(a.result.hits)}});
  out["nearest"] = std::move(nearest);
  out["arithmetic"] = std::move(arithmetic);
  out["missing"] = r.missing;
  return out;
}

namespace {
// A measure's reason for being null; null where it is a number.
Json why_undefined(const std::string& reason) { return reason.empty() ? Json(nullptr) : Json(reason); }
// One pair's permutation test; null where it did not run.
Json permutation_json(const PermutationTest& t) {
  if (t.permutations == 0) return nullptr;
  return {{"p_distance", num(t.p_distance)},
          {"null_distance", num(t.null_distance)},
          {"p_cka", num(t.p_cka)},
          {"null_cka", num(t.null_cka)},
          {"p_cka_unbiased", num(t.p_cka_unbiased)},
          {"null_cka_unbiased", num(t.null_cka_unbiased)}};
}
}  // namespace

Json to_json(const CompareResponse& r) {
  const SpaceComparison& c = r.comparison;
  Json spaces = Json::array();
  for (const SpaceInfo& s : r.spaces) spaces.push_back({{"id", s.id}, {"kind", to_string(s.kind)}, {"task", task_json(s)}});
  Json concepts = Json::array();
  for (int i = 0; i < c.shared(); ++i) concepts.push_back({{"name", c.concepts[i]}, {"category", c.categories[i]}});
  Json pairs = Json::array();
  for (size_t p = 0; p < c.pairs.size(); ++p) {
    const PairComparison& pair = c.pairs[p];
    Json categories = Json::array();
    for (const CategoryDistance& cd : pair.categories)
      categories.push_back({{"category", cd.category}, {"concept_count", cd.concepts}, {"mean", num(cd.mean)}});
    Json differing = Json::array();
    for (const auto& [ci, d] : r.differing[p])
      differing.push_back({{"name", c.concepts[ci]}, {"category", c.categories[ci]}, {"d", num(d)}});
    pairs.push_back({{"i", pair.i},
                     {"j", pair.j},
                     {"a", c.spaces[pair.i]},
                     {"b", c.spaces[pair.j]},
                     {"distance", num(pair.distance)},
                     {"distance_per_pair", num(pair.distance_per_pair)},
                     {"cka", num(pair.cka)},
                     {"cka_unbiased", num(pair.cka_unbiased)},
                     {"cka_undefined", why_undefined(pair.cka_undefined)},
                     {"cka_unbiased_undefined", why_undefined(pair.cka_unbiased_undefined)},
                     {"permutation", permutation_json(pair.permutation)},
                     {"categories", std::move(categories)},
                     {"per_concept", std::move(differing)}});
  }
  // Each concept left out, with why: the spaces that lack it and those where it is a zero vector.
  Json excluded = Json::array();
  for (const LeftOutConcept& left : c.excluded)
    excluded.push_back({{"name", left.name}, {"missing_from", left.missing_from}, {"zero_in", left.zero_in}});
  return {{"spaces", std::move(spaces)},
          {"metric", "d_ij"},
          {"precision", c.stats.double_precision ? "double" : "float"},
          {"concept_count", c.shared()},
          {"concepts", std::move(concepts)},
          {"excluded", std::move(excluded)},
          {"distance", matrix_json(c.distance, c.m)},
          {"distance_per_pair", matrix_json(c.distance_per_pair, c.m)},
          {"cka", matrix_json(c.cka, c.m)},
          {"cka_unbiased", matrix_json(c.cka_unbiased, c.m)},
          {"permutation_test",
           {{"permutations", c.permutations},
            {"seed", c.permutations > 0 ? Json(c.permutation_seed) : Json(nullptr)},
            {"skipped", why_undefined(c.permutation_skipped)}}},
          {"pairs", std::move(pairs)}};
}

namespace {
Json nonzero_json(const NonZeroStats& s) {
  return {{"images", s.images}, {"nonzero", s.nonzero}, {"mean", num(s.mean)}, {"sd", num(s.sd)}};
}
// `predicted`: whether the catalog holds the predicted masks of that image (Figure 8).
Json deciles_json(const std::vector<DecileExample>& deciles, const std::vector<int>& predicted_rows) {
  Json out = Json::array();
  for (const DecileExample& d : deciles)
    out.push_back({{"quantile", d.quantile},
                   {"iou", num(d.iou)},
                   {"row", d.row},
                   {"predicted", std::find(predicted_rows.begin(), predicted_rows.end(), d.row) != predicted_rows.end()}});
  return out;
}
}  // namespace

Json to_json(const ConceptResponse& r) {
  const ConceptReport& c = r.report;
  const bool seg = !is_reference(r.space) && r.space.task == Task::kSegmentation;
  // A reference space has no training: its counts, bias, alpha and ranks are undefined.
  const bool ref = is_reference(r.space);
  const auto defined = [&](const Json& v) { return ref ? Json(nullptr) : v; };
  Json out = space_header(r.space, score_metric(r.space));
  out["dim"] = c.dim;
  out["number"] = c.concept_number;
  out["name"] = c.name;
  out["category"] = c.category;
  out["train_count"] = defined(c.train_count);
  out["val_count"] = defined(c.val_count);
  out["bias"] = defined(num(c.bias));
  out["alpha"] = defined(num(c.alpha));
  // The val score's 95 % interval [low, high], p against chance and the null's mean (docs/
  // METHOD.md, "Intervals and chance"); null each: not computed (an older catalog).
  // val_q: p corrected for the space's many concepts (Benjamini-Hochberg; null where p is).
  const auto with_stats = [](Json score, const ScoreStatsRecord& st, double q) {
    score["val_interval"] = interval_json(st);
    score["val_p"] = num(st.p);
    score["val_q"] = num(q);
    score["val_null_mean"] = num(st.null_mean);
    return score;
  };
  out["learned"] = with_stats({{"train", num(seg ? c.set_iou_train : c.accuracy_train)},
                               {"val", num(seg ? c.set_iou_val : c.accuracy_val)}},
                              c.learned_val_stats, c.learned_val_q);
  out["best_filter"] = defined(c.best_filter);
  out["best_single"] = with_stats({{"train", num(c.best_filter_train)}, {"val", num(c.best_filter_val)}},
                                  c.best_filter_val_stats, c.best_filter_val_q);
  out["best_filter_rank"] = defined(c.best_filter_rank);
  out["single_over_learned"] = num(c.single_over_learned);
  Json subsets = Json::array();
  for (const SubsetScore& s : c.subsets) subsets.push_back({{"filters", s.filters}, {"score", num(s.score)}});
  out["subsets"] = std::move(subsets);
  out["image_count"] = c.image_count;
  // Per-image IoU exists for segmentation only: null elsewhere, like filter_iou_val.
  out["image_iou"] = r.image_iou.edges.empty() ? Json(nullptr)
                                               : Json{{"mean_learned", num(c.mean_image_iou_learned)},
                                                      {"mean_single", num(c.mean_image_iou_single)},
                                                      {"zero_learned", c.zero_iou_learned},
                                                      {"zero_single", c.zero_iou_single},
                                                      {"bins", r.image_iou.edges},
                                                      {"learned", r.image_iou.learned},
                                                      {"single", r.image_iou.single},
                                                      {"nonzero", {{"learned", nonzero_json(r.distribution.learned)},
                                                                   {"single", nonzero_json(r.distribution.single)}}},
                                                      {"deciles", {{"learned", deciles_json(r.distribution.learned_deciles, r.predicted_rows)},
                                                                   {"single", deciles_json(r.distribution.single_deciles, r.predicted_rows)}}}};
  out["l1_norm"] = num(c.l1_norm);
  out["l2_norm"] = num(c.l2_norm);
  out["filters_for_half"] = c.filters_for_half;
  out["filters_for_90"] = c.filters_for_90;
  Json top = Json::array();
  for (const FilterWeight& f : c.top_filters)
    top.push_back({{"filter", f.filter}, {"weight", num(f.weight)}, {"share", num(f.share)}, {"cumulative", num(f.cumulative)}});
  out["top_filters"] = std::move(top);
  out["weights"] = floats(c.weights);
  out["filter_iou_val"] = c.filter_iou_val.empty() ? Json(nullptr) : floats(c.filter_iou_val);
  return out;
}

Json to_json(const ConceptImagesResponse& r) {
  Json out = space_header(r.space, score_metric(r.space));
  out["name"] = r.name;
  out["number"] = r.images.concept_number;
  // The folder's name, not where it lay on the ingest machine (no server paths in answers).
  out["probe"] = r.images.probe_name.empty()
                     ? Json(nullptr)
                     : Json{{"name", r.images.probe_name},
                            {"path", std::filesystem::path(r.images.probe_path).filename().string()}};
  out["image_count"] = r.total;
  out["offset"] = r.offset;
  out["order"] = r.worst_first ? "worst" : "best";
  Json images = Json::array();
  for (const ProbeImageScore& s : r.images.images)
    images.push_back({{"row", s.row}, {"path", s.path}, {"learned", num(s.learned)}, {"single", num(s.single)}});
  out["images"] = std::move(images);
  return out;
}

namespace {
Json mean_se_json(const MeanSe& m) { return {{"n", m.n}, {"mean", num(m.mean)}, {"se", num(m.se)}}; }
Json binned_json(const std::vector<BinnedScores>& rows) {
  Json out = Json::array();
  for (const BinnedScores& b : rows) {
    Json bins = Json::array();
    for (const MeanSe& m : b.bins) bins.push_back(mean_se_json(m));
    out.push_back({{"category", b.category}, {"bins", std::move(bins)}});
  }
  return out;
}
}  // namespace

Json to_json(const AnalysesResponse& r) {
  Json out = space_header(r.space, score_metric(r.space));
  Json table1 = Json::array();
  for (const ShareRow& s : r.learned_vs_single)
    table1.push_back({{"category", s.category.empty() ? Json(nullptr) : Json(s.category)},
                      {"concept_count", s.concepts},
                      {"learned_at_least_single", s.learned_at_least_single},
                      {"share", num(s.share)},
                      {"with_intervals", s.with_intervals},
                      {"learned_interval_above", s.learned_above},
                      {"single_interval_above", s.single_above},
                      {"with_p", s.with_p},
                      {"learned_above_chance", s.learned_above_chance},
                      {"single_above_chance", s.single_above_chance}});
  out["learned_vs_single"] = std::move(table1);
  out["false_discovery_rate"] = kFalseDiscoveryRate;
  Json fig2 = Json::array();
  for (const CategoryScores& c : r.category_scores)
    fig2.push_back({{"category", c.category},
                    {"single", {{"train", mean_se_json(c.single_train)}, {"val", mean_se_json(c.single_val)}}},
                    {"learned", {{"train", mean_se_json(c.learned_train)}, {"val", mean_se_json(c.learned_val)}}}});
  out["category_scores"] = std::move(fig2);
  Json fig3 = Json::array();
  for (const SubsetCurve& c : r.subset_curves) {
    Json points = Json::array();
    for (size_t i = 0; i < c.filters.size(); ++i) {
      Json p = mean_se_json(c.score[i]);
      p["filters"] = c.filters[i];
      points.push_back(std::move(p));
    }
    fig3.push_back({{"category", c.category}, {"points", std::move(points)}});
  }
  out["subset_curves"] = std::move(fig3);
  const WeightIouCorrelation& w = r.correlation;
  Json per = Json::array();
  for (const ConceptCorrelation& c : w.concepts)
    per.push_back({{"number", c.concept_number}, {"name", c.name}, {"category", c.category}, {"n", c.c.n},
                   {"r", num(c.c.r)}, {"p", num(c.c.p)}});
  out["weight_iou_correlation"] = {{"alpha", w.alpha},
                                   {"defined", w.defined},
                                   {"significant", w.significant},
                                   {"share_significant", num(w.share_significant)},
                                   {"share_significant_positive", num(w.share_positive)},
                                   {"concepts", std::move(per)}};
  out["failures"] = {{"train_count_edges", r.failures.train_edges},
                     {"by_train_count", binned_json(r.failures.by_train_count)},
                     {"alpha_edges", r.failures.alpha_edges},
                     {"by_alpha", binned_json(r.failures.by_alpha)}};
  return out;
}

Json to_json(const MapResponse& r) {
  Json out = space_header(r.space, std::nullopt);  // a map has no score
  out["perplexity"] = r.options.perplexity;
  out["iterations"] = r.options.iterations;
  out["seed"] = r.options.seed;
  out["kl"] = num(r.map.kl);
  out["k"] = r.map.k;
  Json points = Json::array();
  std::vector<Json> members(r.map.k, Json::array());
  for (size_t i = 0; i < r.concepts.size(); ++i) {
    const ConceptVector& c = r.concepts[i];
    points.push_back({{"number", c.concept_number}, {"name", c.name}, {"category", c.category}, {"x", num(r.map.x[i])},
                      {"y", num(r.map.y[i])}, {"cluster", r.map.cluster[i]}});
    members[r.map.cluster[i]].push_back(c.name);
  }
  out["points"] = std::move(points);
  Json clusters = Json::array();
  for (int c = 0; c < r.map.k; ++c)
    clusters.push_back({{"cluster", c}, {"concept_count", members[c].size()}, {"members", std::move(members[c])}});
  out["clusters"] = std::move(clusters);
  return out;
}

Json to_json(const FilterUsageResponse& r) {
  Json out = space_header(r.space, score_metric(r.space));
  out["dim"] = r.usage.dim;
  out["concept_count"] = r.usage.concept_count;
  out["concepts_per_filter"] = r.usage.concepts_per_filter;
  out["never_selected"] = r.usage.never_selected;
  Json histogram = Json::array();
  for (const auto& [concepts, filters] : r.histogram) histogram.push_back({{"concepts", concepts}, {"filters", filters}});
  out["histogram"] = std::move(histogram);
  Json most = Json::array();
  for (int k : r.most_selected) most.push_back({{"filter", k}, {"concept_count", r.usage.concepts_per_filter[k]}});
  out["most_selected"] = std::move(most);
  return out;
}

Json to_json(const FilterResponse& r) {
  Json out = space_header(r.space, score_metric(r.space));
  out["dim"] = r.report.dim;
  out["concept_count"] = r.report.concept_count;
  out["filter"] = r.report.filter;
  out["selected_by"] = r.report.best_for.size();
  out["best_for"] = filter_concepts_json(r.report.best_for);
  out["top_weighted"] = filter_concepts_json(r.report.top_weighted);
  // NetDissect's top images: per_filter null when the catalog predates them (schema < 6) or
  // the space has no run; 0 when ingest was told --top-images 0.
  const Catalog::FilterTopImages& t = r.top_images;
  Json images = Json::array();
  for (const Catalog::FilterTopImages::Image& image : t.images) {
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (uint8_t b : image.record.map) hex += {kHex[b >> 4], kHex[b & 15]};
    images.push_back({{"rank", image.record.rank + 1},  // 1-based, as the filters' ranks
                      {"row", image.record.image_row},
                      {"path", image.path},
                      {"split", image.split},
                      {"max_activation", num(image.record.max_activation)},
                      {"height", image.record.height},
                      {"width", image.record.width},
                      {"map", hex}});
  }
  out["top_images"] = {{"per_filter", t.per_filter ? Json(*t.per_filter) : Json(nullptr)},
                       {"threshold", t.threshold ? num(*t.threshold) : Json(nullptr)},
                       {"images", std::move(images)}};
  return out;
}

Json error_json(const std::string& code, int status, const std::string& message,
                const std::vector<std::string>& suggestions) {
  return {{"error", {{"code", code}, {"status", status}, {"message", message}, {"suggestions", suggestions}}}};
}

Json error_json(const Error& e) {
  return error_json(to_string(e.code()), http_status(e.code()), e.message(), e.suggestions());
}

// ---- request bodies ----

namespace {

// At most `max` bytes of client text for a message, cut at a UTF-8 character boundary.
std::string clip(const std::string& text, size_t max = 100) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "... (" + std::to_string(text.size()) + " bytes)";
}

// A client value for a message without serialising it whole (a nested one overflowed the
// stack: docs/RELIABILITY.md, F1): scalars as written, containers by type and size.
std::string describe(const Json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size()) + " elements";
  if (v.is_object()) return "an object of " + std::to_string(v.size()) + " keys";
  if (v.is_string()) return "the string \"" + clip(v.get<std::string>()) + "\"";
  return clip(v.dump(-1, ' ', false, Json::error_handler_t::replace));
}

const Json& field(const Json& body, const char* key) {
  static const Json kNull;
  const auto it = body.find(key);
  return it == body.end() ? kNull : *it;
}

// Names are short (ids: 64 bytes a part); a longer one is a mistake or an attack on the
// "did you mean" search, refused before any lookup.
std::string checked_name(const Json& v, const char* key) {
  std::string s = v.get<std::string>();
  N2V_CHECK(s.size() <= kMaxNameBytes, kInvalidArgument,
            "'" << key << "' holds a name of " << s.size() << " bytes; names are at most " << kMaxNameBytes << " bytes");
  return s;
}

std::string string_field(const Json& v, const char* key) {
  N2V_CHECK(v.is_string(), kInvalidArgument, "'" << key << "' must be a string, got " << v.type_name());
  return checked_name(v, key);
}

std::vector<std::string> names_field(const Json& v, const char* key) {
  if (v.is_null()) return {};
  N2V_CHECK(v.is_array(), kInvalidArgument, "'" << key << "' must be an array of concept names, got " << v.type_name());
  std::vector<std::string> names;
  for (const Json& x : v) {
    N2V_CHECK(x.is_string(), kInvalidArgument, "'" << key << "' must hold concept names (strings), got " << x.type_name());
    names.push_back(checked_name(x, key));
  }
  return names;
}

int int_field(const Json& v, const char* key) {
  N2V_CHECK(v.is_number_integer(), kInvalidArgument, "'" << key << "' must be an integer, got " << describe(v));
  const auto x = v.get<int64_t>();
  N2V_CHECK(x >= INT32_MIN && x <= INT32_MAX, kInvalidArgument, "'" << key << "' is out of range: " << x);
  return static_cast<int>(x);
}

void check_keys(const Json& body, const std::set<std::string>& known) {
  N2V_CHECK(body.is_object(), kInvalidArgument, "the request body must be a JSON object, got " << body.type_name());
  for (const auto& [key, value] : body.items()) {
    (void)value;
    if (known.count(key)) continue;
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    N2V_THROW(kInvalidArgument, "unknown key '" << clip(key) << "' in the request body (known: " << list << ")");
  }
}

}  // namespace

Json parse_request_body(const std::string& body) {
  // Nesting counted before parsing, outside strings: the parser itself copes, but every
  // recursive walk of a deep value after it (dump, ==, a message) would not.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      N2V_CHECK(++depth <= kMaxJsonDepth, kInvalidArgument,
                "the request body nests deeper than " << kMaxJsonDepth << " levels (at byte " << i << ")");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  // Every object's keys once: with a repeated key the last would silently win.
  std::vector<std::set<std::string>> keys;
  const Json::parser_callback_t unique_keys = [&keys](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) keys.emplace_back();
    else if (event == Json::parse_event_t::object_end) keys.pop_back();
    else if (event == Json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second)
      N2V_THROW(kInvalidArgument, "'" << clip(parsed.get<std::string>()) << "' is given twice in the request body");
    return true;
  };
  try {
    return Json::parse(body, unique_keys);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number like 1e999 (tests/fuzz)
    // nlohmann quotes the token read last, which may be most of the body.
    N2V_THROW(kInvalidArgument, "the request body is not valid JSON: " << clip(e.what(), 300));
  }
}

QueryArgs args_from_json(const Query& query, const Json& body) {
  std::set<std::string> known;
  for (const QueryParam& p : query.params) known.insert(p.name);
  check_keys(body, known);
  QueryArgs args;
  for (const QueryParam& p : query.params) {
    const Json& v = field(body, p.name.c_str());
    if (v.is_null()) continue;
    const char* key = p.name.c_str();
    switch (p.type) {
      case ParamType::kText: args.set(p.name, {string_field(v, key)}); break;
      case ParamType::kInt: args.set(p.name, {std::to_string(int_field(v, key))}); break;
      case ParamType::kFlag:
        N2V_CHECK(v.is_boolean(), kInvalidArgument, "'" << key << "' must be true or false, got " << describe(v));
        args.set(p.name, {v.get<bool>() ? "true" : "false"});
        break;
      case ParamType::kList: args.set(p.name, names_field(v, key)); break;
      case ParamType::kNumbers: {
        N2V_CHECK(v.is_array(), kInvalidArgument, "'" << key << "' must be an array of numbers, got " << describe(v));
        std::vector<std::string> numbers;
        for (const Json& x : v) {
          N2V_CHECK(x.is_number(), kInvalidArgument, "'" << key << "' must hold numbers, got " << describe(x));
          numbers.push_back(x.dump());
        }
        args.set(p.name, std::move(numbers));
        break;
      }
    }
  }
  return args;
}


}  // namespace n2v
