// The paper's per-space analyses over stored scores (analysis.h).

#include "analysis/analysis.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <map>

namespace n2v {

std::optional<float> learned_val(const EmbeddingRecord& e) { return e.set_iou_val ? e.set_iou_val : e.accuracy_val; }
std::optional<float> learned_train(const EmbeddingRecord& e) {
  return e.set_iou_train ? e.set_iou_train : e.accuracy_train;
}

namespace {

bool finite(const std::optional<float>& v) { return v && std::isfinite(*v); }

// Concepts grouped by category (sorted by name).
std::map<std::string, std::vector<const ScoredConcept*>> by_category(const std::vector<ScoredConcept>& concepts) {
  std::map<std::string, std::vector<const ScoredConcept*>> groups;
  for (const ScoredConcept& c : concepts) groups[c.category].push_back(&c);
  return groups;
}

}  // namespace

MeanSe mean_se(const std::vector<double>& values) {
  MeanSe m;
  m.n = static_cast<int>(values.size());
  if (m.n == 0) {
    m.mean = m.se = NAN;
    return m;
  }
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / m.n;
  if (m.n < 2) {
    m.se = NAN;
    return m;
  }
  double ss = 0;
  for (double v : values) ss += (v - m.mean) * (v - m.mean);
  m.se = std::sqrt(ss / (m.n - 1)) / std::sqrt(static_cast<double>(m.n));
  return m;
}

std::vector<ShareRow> learned_vs_single(const std::vector<ScoredConcept>& concepts) {
  auto row = [](const std::string& category, const std::vector<const ScoredConcept*>& group) {
    ShareRow r;
    r.category = category;
    for (const ScoredConcept* c : group) {
      const std::optional<float> learned = learned_val(c->embedding), single = c->embedding.best_filter_val;
      if (!finite(learned) || !finite(single)) continue;
      ++r.concepts;
      r.learned_at_least_single += *learned >= *single;
    }
    r.share = r.concepts ? static_cast<double>(r.learned_at_least_single) / r.concepts : NAN;
    return r;
  };
  std::vector<const ScoredConcept*> all;
  for (const ScoredConcept& c : concepts) all.push_back(&c);
  std::vector<ShareRow> out = {row("", all)};
  for (const auto& [category, group] : by_category(concepts)) out.push_back(row(category, group));
  return out;
}

std::vector<CategoryScores> category_scores(const std::vector<ScoredConcept>& concepts) {
  std::vector<CategoryScores> out;
  for (const auto& [category, group] : by_category(concepts)) {
    std::vector<double> st, sv, lt, lv;
    for (const ScoredConcept* c : group) {
      const EmbeddingRecord& e = c->embedding;
      if (finite(e.best_filter_train)) st.push_back(*e.best_filter_train);
      if (finite(e.best_filter_val)) sv.push_back(*e.best_filter_val);
      if (finite(learned_train(e))) lt.push_back(*learned_train(e));
      if (finite(learned_val(e))) lv.push_back(*learned_val(e));
    }
    out.push_back({category, mean_se(st), mean_se(sv), mean_se(lt), mean_se(lv)});
  }
  return out;
}

std::vector<SubsetCurve> subset_curves(const std::vector<ScoredConcept>& concepts) {
  std::vector<SubsetCurve> out;
  for (const auto& [category, group] : by_category(concepts)) {
    std::map<int, std::vector<double>> scores;  // F -> val scores
    for (const ScoredConcept* c : group)
      for (const SubsetScore& s : c->embedding.subsets)
        if (std::isfinite(s.score)) scores[s.filters].push_back(s.score);
    if (scores.empty()) continue;
    SubsetCurve curve;
    curve.category = category;
    for (const auto& [f, values] : scores) {
      curve.filters.push_back(f);
      curve.score.push_back(mean_se(values));
    }
    out.push_back(std::move(curve));
  }
  return out;
}

Correlation pearson(const std::vector<double>& x, const std::vector<double>& y) {
  Correlation c;
  c.n = static_cast<int>(std::min(x.size(), y.size()));
  c.r = c.p = NAN;
  if (c.n < 3) return c;
  double mx = 0, my = 0;
  for (int i = 0; i < c.n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= c.n;
  my /= c.n;
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < c.n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return c;  // a constant input: r undefined
  c.r = std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
  const double dof = c.n - 2;
  if (std::fabs(c.r) >= 1.0) {
    c.p = 0;
    return c;
  }
  const double t = c.r * std::sqrt(dof / (1 - c.r * c.r));
  const boost::math::students_t dist(dof);
  c.p = 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
  return c;
}

WeightIouCorrelation weight_iou_correlation(const std::vector<ScoredConcept>& concepts, double alpha) {
  WeightIouCorrelation out;
  out.alpha = alpha;
  int positive = 0;
  for (const ScoredConcept& sc : concepts) {
    const EmbeddingRecord& e = sc.embedding;
    if (e.filter_iou_val.empty() || e.filter_iou_val.size() != e.weights.size()) continue;
    std::vector<double> w, iou;
    for (size_t k = 0; k < e.weights.size(); ++k) {
      w.push_back(std::max(0.0f, e.weights[k]));
      iou.push_back(e.filter_iou_val[k]);
    }
    ConceptCorrelation cc{e.concept_number, sc.name, sc.category, pearson(w, iou)};
    if (std::isfinite(cc.c.r)) {
      ++out.defined;
      if (cc.c.p < alpha) {
        ++out.significant;
        positive += cc.c.r > 0;
      }
    }
    out.concepts.push_back(std::move(cc));
  }
  out.share_significant = out.defined ? static_cast<double>(out.significant) / out.defined : NAN;
  out.share_positive = out.defined ? static_cast<double>(positive) / out.defined : NAN;
  return out;
}

FailureAnalysis failure_analysis(const std::vector<ScoredConcept>& concepts) {
  FailureAnalysis f;
  // Train-image counts on a doubling scale (BRODEN's concepts range from ~10 to thousands);
  // alpha in tenths near 1, where tiny concepts sit (alpha = 1 - mean concept fraction).
  f.train_edges = {0, 10, 20, 40, 80, 160, 320, 640, 1280, 1e9};
  f.alpha_edges = {0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0000001};
  auto binned = [](const std::vector<double>& edges, auto value_of, const std::vector<const ScoredConcept*>& group) {
    std::vector<std::vector<double>> values(edges.size() - 1);
    for (const ScoredConcept* c : group) {
      const std::optional<float> score = learned_val(c->embedding);
      if (!finite(score)) continue;
      const double v = value_of(*c);
      for (size_t b = 0; b + 1 < edges.size(); ++b)
        if (v >= edges[b] && v < edges[b + 1]) values[b].push_back(*score);
    }
    std::vector<MeanSe> out;
    for (const auto& v : values) out.push_back(mean_se(v));
    return out;
  };
  for (const auto& [category, group] : by_category(concepts)) {
    f.by_train_count.push_back(
        {category, binned(f.train_edges, [](const ScoredConcept& c) { return double(c.embedding.train_count); }, group)});
    bool seg = false;
    for (const ScoredConcept* c : group) seg = seg || c->embedding.set_iou_val.has_value();
    if (seg)
      f.by_alpha.push_back(
          {category, binned(f.alpha_edges, [](const ScoredConcept& c) { return double(c.embedding.alpha); }, group)});
  }
  return f;
}

namespace {

// Non-zero stats and nearest-rank deciles of one column (learned or single) of the images.
void distribution(const std::vector<ImageIouRecord>& images, float ImageIouRecord::*field, NonZeroStats& stats,
                  std::vector<DecileExample>& deciles) {
  std::vector<std::pair<double, int>> nonzero;  // (IoU, row)
  for (const ImageIouRecord& i : images) {
    const float v = i.*field;
    if (!std::isfinite(v)) continue;
    ++stats.images;
    if (v > 0) nonzero.emplace_back(v, i.image_row);
  }
  stats.nonzero = static_cast<int>(nonzero.size());
  std::vector<double> values;
  for (const auto& [v, row] : nonzero) values.push_back(v);
  const MeanSe m = mean_se(values);
  stats.mean = m.mean;
  stats.sd = m.n >= 2 ? m.se * std::sqrt(static_cast<double>(m.n)) : NAN;
  if (nonzero.empty()) return;
  std::stable_sort(nonzero.begin(), nonzero.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t n = nonzero.size();
  for (int d = 1; d <= 10; ++d) {
    // Nearest rank: the smallest value with at least d/10 of the values at or below it.
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(d / 10.0 * n - 1e-9)));
    const auto& [v, row] = nonzero[rank - 1];
    deciles.push_back({d / 10.0, v, row});
  }
}

}  // namespace

ImageIouDistribution image_iou_distribution(const std::vector<ImageIouRecord>& images) {
  ImageIouDistribution d;
  distribution(images, &ImageIouRecord::learned, d.learned, d.learned_deciles);
  distribution(images, &ImageIouRecord::single, d.single, d.single_deciles);
  return d;
}

}  // namespace n2v
