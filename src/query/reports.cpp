// Concept and filter reports (paper 4.2 "Are filters shared between concepts?" and 5.2
// "Unifying single- & multi-filter views"), and the concept listing.

#include <algorithm>
#include <cstring>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "common/false_discovery.h"
#include "query/detail/engine_impl.h"

namespace n2v {
namespace {

void check_top(int top) { N2V_CHECK(top > 0, kInvalidArgument, "top must be a positive number of rows, got " << top); }

std::optional<float> learned_val(const EmbeddingRecord& e) {
  return e.set_iou_val ? e.set_iou_val : e.accuracy_val;
}

// Filters ordered by |w_k| (larger first; ties: lower filter first).
std::vector<int> filters_by_magnitude(const float* w, int d) {
  std::vector<int> order(d);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(w[a]) > std::fabs(w[b]); });
  return order;
}

double l1(const float* w, int d) {
  double s = 0;
  for (int k = 0; k < d; ++k) s += std::fabs(static_cast<double>(w[k]));
  return s;
}

}  // namespace

const std::vector<detail::ConceptScores>& QueryEngine::Impl::scores(const detail::SpaceData& s) const {
  std::lock_guard lock(s.lazy);
  if (!s.scores) {
    // One bulk read of the space's scores (the concept rows are matched by name).
    auto all = std::make_unique<std::vector<detail::ConceptScores>>(s.n);
    for (const ScoredConcept& c : catalog.concept_scores(s.info.id)) {
      const auto it = s.row_of.find(c.name);
      if (it == s.row_of.end()) continue;  // replaced meanwhile: the next query reloads the space
      const EmbeddingRecord& e = c.embedding;
      (*all)[it->second] = {learned_val(e), e.best_filter, e.best_filter_val, e.score_val_stats, e.best_filter_val_stats};
    }
    s.scores = std::move(all);
  }
  return *s.scores;
}

ConceptReport QueryEngine::concept_report(const std::string& space, const std::string& concept_name, int top) {
  check_top(top);
  const auto s = impl_->load(space);
  const int r = Impl::row(*s, concept_name);
  const std::string& name = s->names[r];  // the stored spelling ("Horse" finds horse)
  const std::optional<EmbeddingRecord> e = impl_->catalog.embedding(space, name);
  N2V_CHECK(e.has_value(), kNotFound, "concept '" << name << "' left space '" << space << "' meanwhile");
  // The scores are a second read: they must belong to the vectors read first (a writer may
  // have replaced the space in between; the answer would mix two versions).
  const bool same = static_cast<int>(e->weights.size()) == s->d &&  // bit for bit: NaN rows too
                    std::memcmp(e->weights.data(), s->weights.data() + static_cast<size_t>(r) * s->d,
                                e->weights.size() * sizeof(float)) == 0;
  N2V_CHECK(same, kUnavailable,
            "space '" << space << "' was replaced while concept '" << name << "' was being read; try again");

  ConceptReport rep;
  rep.space = space;
  rep.name = name;
  rep.category = s->categories[r];
  rep.concept_number = e->concept_number;
  rep.kind = s->info.kind;
  rep.task = s->info.task;
  rep.dim = s->d;
  rep.train_count = e->train_count;
  rep.val_count = e->val_count;
  rep.bias = e->bias;
  rep.alpha = e->alpha;
  rep.set_iou_train = e->set_iou_train;
  rep.set_iou_val = e->set_iou_val;
  rep.accuracy_train = e->accuracy_train;
  rep.accuracy_val = e->accuracy_val;
  rep.best_filter = e->best_filter;
  rep.best_filter_train = e->best_filter_train;
  rep.best_filter_val = e->best_filter_val;
  rep.learned_val_stats = e->score_val_stats;
  rep.best_filter_val_stats = e->best_filter_val_stats;
  {
    // q among the space's concepts: the two families of Table 1 (src/analysis), from the
    // space's stored scores (the same content as the vectors: SpaceData's cache).
    const std::vector<detail::ConceptScores>& all = impl_->scores(*s);
    std::vector<double> pl(all.size(), NAN), ps(all.size(), NAN);
    const auto p_of = [](const std::optional<float>& score, const ScoreStatsRecord& st) {
      return score && std::isfinite(*score) && st.p && std::isfinite(*st.p) ? static_cast<double>(*st.p) : NAN;
    };
    for (size_t k = 0; k < all.size(); ++k) {
      pl[k] = p_of(all[k].score_val, all[k].score_val_stats);
      ps[k] = p_of(all[k].best_filter_val, all[k].best_filter_val_stats);
    }
    rep.learned_val_q = benjamini_hochberg(pl)[r];
    rep.best_filter_val_q = benjamini_hochberg(ps)[r];
  }
  const std::optional<float> learned = learned_val(*e);
  if (learned && e->best_filter_val && *learned > 0) rep.single_over_learned = *e->best_filter_val / *learned;
  rep.subsets = e->subsets;
  rep.weights = e->weights;
  rep.filter_iou_val = e->filter_iou_val;
  rep.image_iou = e->image_iou;

  rep.image_count = static_cast<int>(e->image_iou.size());
  double sum_learned = 0, sum_single = 0;
  int n_learned = 0, n_single = 0;
  for (const ImageIouRecord& iou : e->image_iou) {
    if (std::isfinite(iou.learned)) {
      sum_learned += iou.learned;
      ++n_learned;
      rep.zero_iou_learned += iou.learned == 0;
    }
    if (std::isfinite(iou.single)) {
      sum_single += iou.single;
      ++n_single;
      rep.zero_iou_single += iou.single == 0;
    }
  }
  if (n_learned) rep.mean_image_iou_learned = sum_learned / n_learned;
  if (n_single) rep.mean_image_iou_single = sum_single / n_single;

  const float* w = e->weights.data();
  rep.l1_norm = l1(w, s->d);
  rep.l2_norm = l2_norm(w, s->d);
  const std::vector<int> order = filters_by_magnitude(w, s->d);
  double cumulative = 0;
  for (int i = 0; i < s->d; ++i) {
    const int k = order[i];
    const double share = rep.l1_norm > 0 ? std::fabs(static_cast<double>(w[k])) / rep.l1_norm : 0.0;
    cumulative += share;
    // Shares are rounded sums: allow for that at the thresholds.
    if (rep.l1_norm > 0 && !rep.filters_for_half && cumulative >= 0.5 - 1e-12) rep.filters_for_half = i + 1;
    if (rep.l1_norm > 0 && !rep.filters_for_90 && cumulative >= 0.9 - 1e-12) rep.filters_for_90 = i + 1;
    if (k == e->best_filter) rep.best_filter_rank = i + 1;
    if (i < top) rep.top_filters.push_back({k, w[k], share, cumulative});
  }
  return rep;
}

FilterReport QueryEngine::filter_report(const std::string& space, int filter, int top) {
  check_top(top);
  const auto s = impl_->load(space);
  N2V_CHECK(filter >= 0 && filter < s->d, kInvalidArgument,
            "filter " << filter << " is out of range: space '" << space << "' has " << s->d << " filters (0.."
                      << s->d - 1 << ")");
  const std::vector<detail::ConceptScores>& scores = impl_->scores(*s);
  FilterReport rep;
  rep.space = space;
  rep.filter = filter;
  rep.dim = s->d;
  rep.concept_count = s->n;
  std::vector<FilterConcept> all;
  for (int r = 0; r < s->n; ++r) {
    const float* w = s->weights.data() + static_cast<size_t>(r) * s->d;
    const double norm1 = l1(w, s->d);
    FilterConcept fc;
    fc.concept_number = s->numbers[r];
    fc.name = s->names[r];
    fc.category = s->categories[r];
    fc.weight = w[filter];
    fc.share = norm1 > 0 ? std::fabs(static_cast<double>(w[filter])) / norm1 : 0.0;
    // Rank as filters_by_magnitude orders: larger |w| first, ties by lower filter.
    const float mine = std::fabs(w[filter]);
    fc.rank = 1;
    for (int k = 0; k < s->d; ++k)
      if (std::fabs(w[k]) > mine || (std::fabs(w[k]) == mine && k < filter)) ++fc.rank;
    fc.best = scores[r].best_filter == filter;
    fc.best_filter_val = scores[r].best_filter_val;
    fc.best_filter_val_stats = scores[r].best_filter_val_stats;
    if (fc.best) rep.best_for.push_back(fc);
    all.push_back(std::move(fc));
  }
  std::sort(rep.best_for.begin(), rep.best_for.end(), [](const FilterConcept& a, const FilterConcept& b) {
    const float x = a.best_filter_val.value_or(-1.0f), y = b.best_filter_val.value_or(-1.0f);
    return x != y ? x > y : a.name < b.name;
  });
  std::sort(all.begin(), all.end(), [](const FilterConcept& a, const FilterConcept& b) {
    if (a.share != b.share) return a.share > b.share;
    if (std::fabs(a.weight) != std::fabs(b.weight)) return std::fabs(a.weight) > std::fabs(b.weight);
    return a.name < b.name;
  });
  if (static_cast<int>(all.size()) > top) all.resize(top);
  rep.top_weighted = std::move(all);
  return rep;
}

FilterUsage QueryEngine::filter_usage(const std::string& space) {
  const auto s = impl_->load(space);
  const std::vector<detail::ConceptScores>& scores = impl_->scores(*s);
  FilterUsage usage;
  usage.space = space;
  usage.dim = s->d;
  usage.concept_count = s->n;
  usage.concepts_per_filter.assign(s->d, 0);
  for (const detail::ConceptScores& sc : scores)
    if (sc.best_filter >= 0 && sc.best_filter < s->d) ++usage.concepts_per_filter[sc.best_filter];
  usage.never_selected = static_cast<int>(std::count(usage.concepts_per_filter.begin(), usage.concepts_per_filter.end(), 0));
  return usage;
}

std::vector<ConceptSummary> QueryEngine::concepts(const std::string& space, const std::optional<std::string>& category) {
  const auto s = impl_->load(space);
  if (category) Impl::check_category(*s, *category);
  const std::vector<detail::ConceptScores>& scores = impl_->scores(*s);
  std::vector<ConceptSummary> out;
  for (int r = 0; r < s->n; ++r) {
    if (category && s->categories[r] != *category) continue;
    const detail::ConceptScores& sc = scores[r];
    out.push_back({s->numbers[r], s->names[r], s->categories[r], sc.score_val, sc.best_filter, sc.best_filter_val,
                   s->norms[r], sc.score_val_stats, sc.best_filter_val_stats});
  }
  return out;
}

}  // namespace n2v
