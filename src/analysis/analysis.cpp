// The paper's per-space analyses over stored scores (analysis.h).

#include "analysis/analysis.h"

#include "common/deciles.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <map>
#include <random>

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
  // The space's two families of chance tests (learned, single filter): q per concept.
  std::map<const ScoredConcept*, std::pair<double, double>> q_of;
  {
    std::vector<double> pl, ps;
    for (const ScoredConcept& c : concepts) {
      const ScoreStatsRecord &l = c.embedding.score_val_stats, &b = c.embedding.best_filter_val_stats;
      pl.push_back(finite(learned_val(c.embedding)) && finite(l.p) ? *l.p : NAN);
      ps.push_back(finite(c.embedding.best_filter_val) && finite(b.p) ? *b.p : NAN);
    }
    const std::vector<double> ql = benjamini_hochberg(pl), qs = benjamini_hochberg(ps);
    for (size_t i = 0; i < concepts.size(); ++i) q_of[&concepts[i]] = {ql[i], qs[i]};
  }
  auto row = [&q_of](const std::string& category, const std::vector<const ScoredConcept*>& group) {
    ShareRow r;
    r.category = category;
    for (const ScoredConcept* c : group) {
      const std::optional<float> learned = learned_val(c->embedding), single = c->embedding.best_filter_val;
      if (!finite(learned) || !finite(single)) continue;
      ++r.concepts;
      r.learned_at_least_single += *learned >= *single;
      const auto [q_learned, q_single] = q_of.at(c);
      if (!std::isnan(q_learned)) {
        ++r.with_p;
        r.learned_above_chance += q_learned <= kFalseDiscoveryRate;
      }
      r.single_above_chance += !std::isnan(q_single) && q_single <= kFalseDiscoveryRate;
      const ScoreStatsRecord &l = c->embedding.score_val_stats, &b = c->embedding.best_filter_val_stats;
      if (!finite(l.low) || !finite(l.high) || !finite(b.low) || !finite(b.high)) continue;
      ++r.with_intervals;
      r.learned_above += *l.low > *b.high;
      r.single_above += *b.low > *l.high;
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

// Non-zero stats and nearest-rank deciles of one column (learned or single) of the images;
// the picks follow common/deciles.h, the rule training used to choose which predicted masks
// to store.
void distribution(const std::vector<ImageIouRecord>& images, float ImageIouRecord::*field, NonZeroStats& stats,
                  std::vector<DecileExample>& deciles) {
  std::vector<float> column;
  std::vector<int64_t> rows;
  std::vector<double> values;  // the finite non-zero values
  for (const ImageIouRecord& i : images) {
    const float v = i.*field;
    column.push_back(v);
    rows.push_back(i.image_row);
    if (!std::isfinite(v)) continue;
    ++stats.images;
    if (v > 0) values.push_back(v);
  }
  stats.nonzero = static_cast<int>(values.size());
  const MeanSe m = mean_se(values);
  stats.mean = m.mean;
  stats.sd = m.n >= 2 ? m.se * std::sqrt(static_cast<double>(m.n)) : NAN;
  const std::vector<size_t> picks = nonzero_decile_picks(column, rows);
  for (size_t d = 0; d < picks.size(); ++d)
    deciles.push_back({(d + 1) / 10.0, column[picks[d]], images[picks[d]].image_row});
}

}  // namespace

ImageIouDistribution image_iou_distribution(const std::vector<ImageIouRecord>& images) {
  ImageIouDistribution d;
  distribution(images, &ImageIouRecord::learned, d.learned, d.learned_deciles);
  distribution(images, &ImageIouRecord::single, d.single, d.single_deciles);
  return d;
}

// ---- map ----

namespace {

// Unit-normalised copy of the rows (zero rows stay zero).
std::vector<double> unit_rows(const std::vector<float>& rows, int n, int d) {
  std::vector<double> u(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n) * d);
  for (int i = 0; i < n; ++i) {
    double norm = 0;
    for (int j = 0; j < d; ++j) norm += u[i * d + j] * u[i * d + j];
    norm = std::sqrt(norm);
    if (norm > 0)
      for (int j = 0; j < d; ++j) u[i * d + j] /= norm;
  }
  return u;
}

double squared_distance(const double* a, const double* b, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

// The symmetric t-SNE input affinities P (n x n, row-major, summing to 1).
std::vector<double> affinities(const std::vector<double>& dist, int n, double perplexity) {
  std::vector<double> p(static_cast<size_t>(n) * n, 0.0);
  const double target = std::log(perplexity);  // entropy in nats
  for (int i = 0; i < n; ++i) {
    double beta = 1, lo = 0, hi = INFINITY;
    const double* di = dist.data() + static_cast<size_t>(i) * n;
    double* pi = p.data() + static_cast<size_t>(i) * n;
    for (int step = 0; step < 100; ++step) {
      // Shift by the smallest distance so that exp does not underflow for every j.
      double dmin = INFINITY;
      for (int j = 0; j < n; ++j)
        if (j != i) dmin = std::min(dmin, di[j]);
      double sum = 0, weighted = 0;
      for (int j = 0; j < n; ++j) {
        pi[j] = j == i ? 0 : std::exp(-beta * (di[j] - dmin));
        sum += pi[j];
        weighted += pi[j] * (di[j] - dmin);
      }
      const double entropy = std::log(sum) + beta * weighted / sum;
      for (int j = 0; j < n; ++j) pi[j] /= sum;
      if (std::fabs(entropy - target) < 1e-5) break;
      if (entropy > target) {  // too flat: sharpen
        lo = beta;
        beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
  }
  std::vector<double> sym(p.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      sym[static_cast<size_t>(i) * n + j] = std::max((p[static_cast<size_t>(i) * n + j] + p[static_cast<size_t>(j) * n + i]) / (2.0 * n), 1e-12);
  return sym;
}

// k-means++ seeding and Lloyd iterations on unit rows; returns the cluster of each row,
// clusters renumbered by size (largest first, ties by first member).
std::vector<int> kmeans(const std::vector<double>& u, int n, int d, int k, std::mt19937& rng) {
  std::vector<double> centres;
  std::uniform_int_distribution<int> first(0, n - 1);
  const int c0 = first(rng);
  centres.insert(centres.end(), u.begin() + static_cast<std::ptrdiff_t>(c0) * d, u.begin() + static_cast<std::ptrdiff_t>(c0 + 1) * d);
  std::vector<double> nearest(n, INFINITY);
  for (int c = 1; c < k; ++c) {
    double total = 0;
    for (int i = 0; i < n; ++i) {
      nearest[i] = std::min(nearest[i], squared_distance(&u[static_cast<size_t>(i) * d], &centres[static_cast<size_t>(c - 1) * d], d));
      total += nearest[i];
    }
    std::uniform_real_distribution<double> pick(0, total);
    double target = pick(rng), acc = 0;
    int chosen = n - 1;
    for (int i = 0; i < n; ++i) {
      acc += nearest[i];
      if (acc >= target) {
        chosen = i;
        break;
      }
    }
    centres.insert(centres.end(), u.begin() + static_cast<std::ptrdiff_t>(chosen) * d,
                   u.begin() + static_cast<std::ptrdiff_t>(chosen + 1) * d);
  }
  std::vector<int> label(n, 0);
  for (int iter = 0; iter < 300; ++iter) {
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      int best = 0;
      double best_d = INFINITY;
      for (int c = 0; c < k; ++c) {
        const double dc = squared_distance(&u[static_cast<size_t>(i) * d], &centres[static_cast<size_t>(c) * d], d);
        if (dc < best_d) {
          best_d = dc;
          best = c;
        }
      }
      changed = changed || label[i] != best;
      label[i] = best;
    }
    if (!changed && iter > 0) break;
    std::vector<double> sum(static_cast<size_t>(k) * d, 0.0);
    std::vector<int> count(k, 0);
    for (int i = 0; i < n; ++i) {
      ++count[label[i]];
      for (int j = 0; j < d; ++j) sum[static_cast<size_t>(label[i]) * d + j] += u[static_cast<size_t>(i) * d + j];
    }
    for (int c = 0; c < k; ++c)
      if (count[c] > 0)  // an emptied cluster keeps its centre
        for (int j = 0; j < d; ++j) centres[static_cast<size_t>(c) * d + j] = sum[static_cast<size_t>(c) * d + j] / count[c];
  }
  // Renumber by size.
  std::vector<int> count(k, 0), first_member(k, n);
  for (int i = 0; i < n; ++i) {
    ++count[label[i]];
    first_member[label[i]] = std::min(first_member[label[i]], i);
  }
  std::vector<int> order(k);
  for (int c = 0; c < k; ++c) order[c] = c;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return count[a] != count[b] ? count[a] > count[b] : first_member[a] < first_member[b];
  });
  std::vector<int> rank(k);
  for (int r = 0; r < k; ++r) rank[order[r]] = r;
  for (int& l : label) l = rank[l];
  return label;
}

}  // namespace

SpaceMap map_space(const std::vector<float>& rows, int n, int d, const MapOptions& options) {
  SpaceMap m;
  if (n <= 0 || d <= 0) return m;
  const std::vector<double> u = unit_rows(rows, n, d);
  std::mt19937 rng(options.seed);
  m.k = std::clamp(options.clusters, 1, n);
  m.cluster = kmeans(u, n, d, m.k, rng);
  m.x.assign(n, 0.0);
  m.y.assign(n, 0.0);
  if (n < 3) {
    for (int i = 0; i < n; ++i) m.x[i] = i;
    return m;
  }
  std::vector<double> dist(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      dist[static_cast<size_t>(i) * n + j] = squared_distance(&u[static_cast<size_t>(i) * d], &u[static_cast<size_t>(j) * d], d);
  const double perplexity = std::clamp(options.perplexity, 1.0, std::max(1.0, (n - 1) / 3.0));
  const std::vector<double> P = affinities(dist, n, perplexity);

  std::normal_distribution<double> normal(0.0, 1e-4);
  std::vector<double> Y(2 * static_cast<size_t>(n)), update(Y.size(), 0.0), gains(Y.size(), 1.0), grad(Y.size());
  for (double& v : Y) v = normal(rng);
  const double lr = std::max(n / 12.0, 50.0);  // n / early exaggeration (Belkina et al. 2019)
  std::vector<double> num(static_cast<size_t>(n) * n);
  for (int iter = 0; iter < options.iterations; ++iter) {
    const double exaggeration = iter < 250 ? 12.0 : 1.0;
    const double momentum = iter < 250 ? 0.5 : 0.8;
    double qsum = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        const double dx = Y[2 * i] - Y[2 * j], dy = Y[2 * i + 1] - Y[2 * j + 1];
        const double q = 1.0 / (1.0 + dx * dx + dy * dy);
        num[static_cast<size_t>(i) * n + j] = num[static_cast<size_t>(j) * n + i] = q;
        qsum += 2 * q;
      }
    std::fill(grad.begin(), grad.end(), 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        if (i == j) continue;
        const double q = num[static_cast<size_t>(i) * n + j];
        const double f = 4 * (exaggeration * P[static_cast<size_t>(i) * n + j] - q / qsum) * q;
        grad[2 * i] += f * (Y[2 * i] - Y[2 * j]);
        grad[2 * i + 1] += f * (Y[2 * i + 1] - Y[2 * j + 1]);
      }
    for (size_t t = 0; t < Y.size(); ++t) {
      gains[t] = (grad[t] > 0) != (update[t] > 0) ? gains[t] + 0.2 : std::max(0.01, gains[t] * 0.8);
      update[t] = momentum * update[t] - lr * gains[t] * grad[t];
      Y[t] += update[t];
    }
    // Keep the map centred (the objective does not see translations).
    double cx = 0, cy = 0;
    for (int i = 0; i < n; ++i) {
      cx += Y[2 * i];
      cy += Y[2 * i + 1];
    }
    for (int i = 0; i < n; ++i) {
      Y[2 * i] -= cx / n;
      Y[2 * i + 1] -= cy / n;
    }
    if (iter + 1 == options.iterations) {
      double kl = 0;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
          if (i != j) kl += P[static_cast<size_t>(i) * n + j] * std::log(P[static_cast<size_t>(i) * n + j] /
                                                                         std::max(num[static_cast<size_t>(i) * n + j] / qsum, 1e-300));
      m.kl = kl;
    }
  }
  for (int i = 0; i < n; ++i) {
    m.x[i] = Y[2 * i];
    m.y[i] = Y[2 * i + 1];
  }
  return m;
}

}  // namespace n2v
