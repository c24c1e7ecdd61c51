// The CLI's tables, rendered from the service responses.

#include "service/render.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <vector>

namespace n2v {
namespace {

// Fixed-point with `digits` decimals; "-" for a missing or non-finite value.
std::string cell(double v, int digits = 4) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
std::string cell(const std::optional<float>& v, int digits = 4) { return v ? cell(*v, digits) : "-"; }
std::string cell(const std::optional<double>& v, int digits = 4) { return v ? cell(*v, digits) : "-"; }

// printf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list args, copy;
  va_start(args, fmt);
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(static_cast<size_t>(std::max(n, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  va_end(args);
  return out;
}

// An aligned text table: columns separated by two spaces, numbers right-aligned.
class Table {
 public:
  // A header starting with '>' is right-aligned (the '>' is not printed).
  explicit Table(std::vector<std::string> headers) {
    for (std::string& h : headers) {
      right_.push_back(!h.empty() && h[0] == '>');
      headers_.push_back(right_.back() ? h.substr(1) : h);
    }
  }
  void add(std::vector<std::string> row) {
    row.resize(headers_.size());
    rows_.push_back(std::move(row));
  }
  std::string str() const {
    std::vector<size_t> width(headers_.size());
    for (size_t c = 0; c < headers_.size(); ++c) width[c] = display_width(headers_[c]);
    for (const auto& row : rows_)
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (size_t c = 0; c < cells.size(); ++c) {
        const std::string pad(width[c] - display_width(cells[c]), ' ');
        const bool last = c + 1 == cells.size();
        s += right_[c] ? pad + cells[c] : cells[c] + (last ? "" : pad);
        if (!last) s += "  ";
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out += s + "\n";
    };
    line(headers_);
    std::vector<std::string> rule;
    for (size_t c = 0; c < headers_.size(); ++c) rule.push_back(std::string(width[c], '-'));
    line(rule);
    for (const auto& row : rows_) line(row);
    return out;
  }

 private:
  // UTF-8 code points, so names with accents still align.
  static size_t display_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// What a space's scores are called in a table header.
std::string score_label(const SpaceInfo& s) {
  if (is_reference(s)) return "score";
  return s.task == Task::kSegmentation ? "set IoU" : "accuracy";
}

// `percentiles`: a column with each hit's place among the space's concept-pair cosines.
std::string hits_table(const std::vector<ConceptHit>& hits, const char* score, bool percentiles = false) {
  std::vector<std::string> head = {">rank", "concept", "category", std::string(">") + score};
  if (percentiles) head.push_back(">above % of pairs");
  Table t(head);
  for (size_t i = 0; i < hits.size(); ++i) {
    std::vector<std::string> row = {std::to_string(i + 1), hits[i].name, hits[i].category, cell(hits[i].score)};
    if (percentiles) row.push_back(std::isfinite(hits[i].percentile) ? format("%.1f", hits[i].percentile) : "-");
    t.add(row);
  }
  return t.str();
}

std::string filter_label(int filter) { return filter >= 0 ? std::to_string(filter) : "-"; }

// A listed val score's 95 % interval and p against chance (docs/METHOD.md), "-" where not
// computed (a catalog from before schema version 7): no score is listed without them.
std::string interval_cell(const ScoreStatsRecord& st) {
  return st.low && st.high ? "[" + cell(st.low) + ", " + cell(st.high) + "]" : "-";
}
std::string p_cell(const ScoreStatsRecord& st) { return cell(st.p); }

}  // namespace

std::string render_text(const HealthResponse& r) {
  return format("ok: net2vec %s, schema %d, %d spaces, index %s\n", r.version.c_str(), r.schema_version, r.spaces,
                r.index.c_str());
}

std::string render_text(const SpacesResponse& r) {
  if (r.spaces.empty()) return "The catalog has no spaces yet (net2vec-ingest writes them).\n";
  Table t({"space", "kind", "network", "layer", "task", ">dim", ">concepts", "created"});
  for (const SpaceInfo& s : r.spaces) {
    const bool net = !is_reference(s);
    t.add({s.id, to_string(s.kind), net ? s.network : "-", net ? s.layer : "-", s.task ? to_string(*s.task) : "-",
           std::to_string(s.dim), std::to_string(s.concept_count), s.created_at});
  }
  return t.str();
}

std::string render_text(const ConceptsResponse& r) {
  const std::string name = score_label(r.space);
  Table t({">number", "concept", "category", ">" + name + " (val)", "95 % interval", ">p", ">best filter",
           ">its " + name + " (val)", "its interval", ">its p", ">norm"});
  for (const ConceptSummary& c : r.concepts)
    t.add({std::to_string(c.concept_number), c.name, c.category, cell(c.score_val), interval_cell(c.score_val_stats),
           p_cell(c.score_val_stats), filter_label(c.best_filter), cell(c.best_filter_val),
           interval_cell(c.best_filter_val_stats), p_cell(c.best_filter_val_stats), cell(c.l2_norm)});
  return t.str() + format("%zu concepts in %s (%s, dimension %d)\n", r.concepts.size(), r.space.id.c_str(),
                          r.space.task ? to_string(*r.space.task) : "reference space", r.space.dim);
}

std::string render_text(const NeighborsResponse& r) {
  const NeighborsResult& n = r.result;
  std::string out = format("Nearest concepts to %s in %s%s (cosine similarity; %d candidates)\n",
                           n.query.empty() ? "the given vector" : ("'" + n.query + "'").c_str(), n.space.c_str(),
                           n.category ? (", category " + *n.category).c_str() : "", n.candidates) +
                    hits_table(n.hits, "cosine", n.baseline != nullptr);
  if (n.baseline)
    out += format("Cosine of two concepts of this space (%s%lld pairs): median %.3f, 95th percentile %.3f, 99th %.3f\n",
                  n.baseline->sampled ? "a random sample of " : "all ", static_cast<long long>(n.baseline->pairs),
                  n.baseline->p50, n.baseline->p95, n.baseline->p99);
  return out;
}

std::string render_text(const AnalogyResponse& r) {
  const AnalogyResult& a = r.result;
  std::string expr;
  for (size_t i = 0; i < a.positive.size(); ++i) expr += (i ? " + " : "") + a.positive[i];
  for (const std::string& n : a.negative) expr += (expr.empty() ? "- " : " - ") + n;
  const bool add = a.method == AnalogyMethod::kAdd;
  return format("%s in %s (%s; inputs excluded)\n", expr.c_str(), a.space.c_str(),
                add ? "3CosAdd: cosine with the normalised mean"
                    : "3CosMul: prod (1+cos)/2 of positives / (prod of negatives + 1e-6)") +
         hits_table(a.hits, add ? "cosine" : "3CosMul");
}

// compare's undefined CKAs (shown '-') with their reasons, and the permutation test per pair.
std::string similarity_notes(const SpaceComparison& c) {
  std::string out;
  std::map<std::string, int> undefined;  // "measure: reason" -> pairs
  for (const PairComparison& p : c.pairs) {
    if (!p.cka_undefined.empty()) ++undefined["linear CKA: " + p.cka_undefined];
    if (!p.cka_unbiased_undefined.empty()) ++undefined["unbiased CKA: " + p.cka_unbiased_undefined];
  }
  if (!undefined.empty()) {
    out += "\nUndefined (-):\n";
    for (const auto& [why, pairs] : undefined) out += format("  %s (%d pair%s)\n", why.c_str(), pairs, pairs == 1 ? "" : "s");
  }
  if (!c.permutation_skipped.empty()) out += "\nPermutation test skipped: " + c.permutation_skipped + "\n";
  if (c.permutations == 0) return out;
  out += format("\nPermutation test: %d random concept orders of the second space, seed %llu; p = (1 + #null at least as "
                "extreme) / (R + 1), extreme = D no larger, CKA no smaller; null = the null's mean\n",
                c.permutations, static_cast<unsigned long long>(c.permutation_seed));
  Table t({"pair", ">D_ij", ">null", ">p", ">CKA", ">null", ">p", ">CKA-u", ">null", ">p"});
  for (const PairComparison& p : c.pairs) {
    const PermutationTest& q = p.permutation;
    t.add({"[" + std::to_string(p.i + 1) + "] / [" + std::to_string(p.j + 1) + "]", cell(p.distance, 3),
           cell(q.null_distance, 3), cell(q.p_distance, 4), cell(p.cka, 3), cell(q.null_cka, 3), cell(q.p_cka, 4),
           cell(p.cka_unbiased, 3), cell(q.null_cka_unbiased, 3), cell(q.p_cka_unbiased, 4)});
  }
  return out + t.str();
}

std::string render_text(const CompareResponse& r) {
  const SpaceComparison& c = r.comparison;
  const int m = c.m;
  std::string out = format("Compared %d spaces on the %d concepts they all have", m, c.shared());
  if (!c.excluded.empty()) out += format(" (%zu left out, listed at the end)", c.excluded.size());
  out += format("; Gram matrices in %s\n\n", c.stats.double_precision ? "double" : "float");
  for (int i = 0; i < m; ++i) out += format("  [%d] %s\n", i + 1, c.spaces[i].c_str());
  auto matrix = [&](const char* title, const std::vector<double>& v, int digits) {
    out += format("\n%s\n", title);
    std::vector<std::string> headers = {""};
    for (int j = 0; j < m; ++j) headers.push_back(">[" + std::to_string(j + 1) + "]");
    Table t(headers);
    for (int i = 0; i < m; ++i) {
      std::vector<std::string> row = {"[" + std::to_string(i + 1) + "]"};
      for (int j = 0; j < m; ++j) row.push_back(cell(v[static_cast<size_t>(i) * m + j], digits));
      t.add(row);
    }
    out += t.str();
  };
  matrix("D_ij = ||d(W_i) - d(W_j)||_F^2, d(W) = W'W'^T over unit-length rows (paper 5.3)", c.distance, 3);
  matrix("D_ij / (C (C - 1)): mean squared cosine difference per pair of shared concepts", c.distance_per_pair, 4);
  matrix("Linear CKA of the centred Gram matrices (1 = same geometry up to rotation and scale)", c.cka, 3);
  matrix("Unbiased CKA (unbiased HSIC of Song et al. 2012; needs 4 or more concepts)", c.cka_unbiased, 3);
  out += similarity_notes(c);

  out += "\nMean D_ijc by concept category (concepts per category in the header)\n";
  std::map<std::string, int> category_sizes;
  for (const std::string& cat : c.categories) ++category_sizes[cat];
  std::vector<std::string> headers = {"pair"};
  for (const auto& [cat, n] : category_sizes) headers.push_back(">" + cat + " (" + std::to_string(n) + ")");
  Table t(headers);
  for (const PairComparison& p : c.pairs) {
    std::vector<std::string> row = {"[" + std::to_string(p.i + 1) + "] / [" + std::to_string(p.j + 1) + "]"};
    for (const CategoryDistance& cd : p.categories) row.push_back(cell(cd.mean, 3));
    t.add(row);
  }
  out += t.str();

  for (size_t p = 0; p < c.pairs.size(); ++p) {
    if (r.differing[p].empty()) continue;
    out += format("\nConcepts that differ most between [%d] and [%d] (D_ijc, largest first)\n", c.pairs[p].i + 1,
                  c.pairs[p].j + 1);
    Table pc({"concept", "category", ">D_ijc"});
    for (const auto& [ci, d] : r.differing[p]) pc.add({c.concepts[ci], c.categories[ci], cell(d, 4)});
    out += pc.str();
  }
  if (!c.excluded.empty()) {
    // Spaces by their number in the list above, so a long list stays readable.
    std::map<std::string, int> number;
    for (int i = 0; i < m; ++i) number[c.spaces[i]] = i + 1;
    auto numbers = [&](const std::vector<std::string>& spaces) {
      std::string text;
      for (const std::string& s : spaces) text += (text.empty() ? "[" : ", [") + std::to_string(number[s]) + "]";
      return text;
    };
    out += format("\nLeft out (%zu): not in every space, or a zero vector\n", c.excluded.size());
    Table left({"concept", "missing from", "zero vector in"});
    for (const LeftOutConcept& x : c.excluded) left.add({x.name, numbers(x.missing_from), numbers(x.zero_in)});
    out += left.str();
  }
  return out;
}

std::string render_text(const ConceptResponse& resp) {
  const ConceptReport& r = resp.report;
  const bool reference = is_reference(resp.space);
  const bool seg = !reference && resp.space.task == Task::kSegmentation;
  const std::string score = score_label(resp.space);
  std::string out;
  if (reference) {
    out += format("%s (%s, label %d) in %s: a reference space (no scores; dimensions are not filters)\n",
                  r.name.c_str(), r.category.c_str(), r.concept_number, r.space.c_str());
    out += format("||w||_1 %s, ||w||_2 %s\n", cell(r.l1_norm).c_str(), cell(r.l2_norm).c_str());
  } else {
    out += format("%s (%s, label %d) in %s: %d train / %d val images\n\n", r.name.c_str(), r.category.c_str(),
                  r.concept_number, r.space.c_str(), r.train_count, r.val_count);
    // "[low, high]" and "p = ..." of a val score (docs/METHOD.md); "not computed" for a
    // catalog from before schema version 7.
    const auto interval = [](const ScoreStatsRecord& st) {
      return st.low && st.high ? "[" + cell(st.low) + ", " + cell(st.high) + "]" : std::string("not computed");
    };
    const auto chance = [](const ScoreStatsRecord& st) {
      return st.p ? cell(st.p, 4) + " (null mean " + cell(st.null_mean) + ")" : std::string("not computed");
    };
    // q: p corrected for the space's many concepts (Benjamini-Hochberg).
    Table scores({"", ">train", ">val", "val 95 % interval", "p against chance", ">q (BH)"});
    scores.add({"all filters (learned w): " + score, cell(seg ? r.set_iou_train : r.accuracy_train),
                cell(seg ? r.set_iou_val : r.accuracy_val), interval(r.learned_val_stats), chance(r.learned_val_stats),
                std::isfinite(r.learned_val_q) ? cell(r.learned_val_q, 4) : "-"});
    scores.add({"best single filter " + filter_label(r.best_filter), cell(r.best_filter_train), cell(r.best_filter_val),
                interval(r.best_filter_val_stats), chance(r.best_filter_val_stats),
                std::isfinite(r.best_filter_val_q) ? cell(r.best_filter_val_q, 4) : "-"});
    out += scores.str();
    out += format("\nbest filter / learned weights (val): %s; best filter's rank by |w|: %s\n",
                  cell(r.single_over_learned, 3).c_str(),
                  r.best_filter_rank ? std::to_string(r.best_filter_rank).c_str() : "-");
    out += format("bias %s, alpha %s, ||w||_1 %s, ||w||_2 %s\n", cell(r.bias).c_str(), cell(r.alpha).c_str(),
                  cell(r.l1_norm).c_str(), cell(r.l2_norm).c_str());
  }
  out += format("filters carrying half of ||w||_1: %d; 90%%: %d (of %d)\n", r.filters_for_half, r.filters_for_90, r.dim);
  if (r.image_count)
    out += format("per-image val IoU over %d images: learned mean %s (%d zero), best filter mean %s (%d zero)\n",
                  r.image_count, cell(r.mean_image_iou_learned).c_str(), r.zero_iou_learned,
                  cell(r.mean_image_iou_single).c_str(), r.zero_iou_single);
  if (!r.subsets.empty()) {
    out += format("\nTop-F filter subsets, retrained (val %s)\n", score.c_str());
    Table t({">F", ">" + score});
    for (const SubsetScore& s : r.subsets) t.add({std::to_string(s.filters), cell(static_cast<double>(s.score))});
    out += t.str();
  }
  out += "\nTop filters by |w_k| (share = |w_k| / ||w||_1)\n";
  Table t({">rank", ">filter", ">w_k", ">share", ">cumulative"});
  for (size_t i = 0; i < r.top_filters.size(); ++i) {
    const FilterWeight& f = r.top_filters[i];
    t.add({std::to_string(i + 1), std::to_string(f.filter), cell(f.weight), cell(f.share), cell(f.cumulative)});
  }
  return out + t.str();
}

std::string render_text(const FilterUsageResponse& r) {
  const FilterUsage& u = r.usage;
  std::string out = format("Best single filters of the %d concepts of %s: %d of %d filters are never selected\n\n",
                           u.concept_count, u.space.c_str(), u.never_selected, u.dim);
  Table t({">concepts", ">filters"});
  for (const auto& [n, filters] : r.histogram) t.add({std::to_string(n), std::to_string(filters)});
  out += t.str() + "\nMost selected filters\n";
  Table most({">filter", ">concepts"});
  for (int k : r.most_selected) most.add({std::to_string(k), std::to_string(u.concepts_per_filter[k])});
  return out + most.str();
}

std::string render_text(const FilterResponse& resp) {
  const FilterReport& r = resp.report;
  std::string out = format("Filter %d of %s (%d filters, %d concepts)\n\n", r.filter, r.space.c_str(), r.dim,
                           r.concept_count);
  out += format("Best single filter of %zu concept%s\n", r.best_for.size(), r.best_for.size() == 1 ? "" : "s");
  if (!r.best_for.empty()) {
    Table t({"concept", "category", ">its score (val)", "95 % interval", ">p", ">w_k", ">share", ">rank by |w|"});
    for (const FilterConcept& f : r.best_for)
      t.add({f.name, f.category, cell(f.best_filter_val), interval_cell(f.best_filter_val_stats),
             p_cell(f.best_filter_val_stats), cell(f.weight), cell(f.share), std::to_string(f.rank)});
    out += t.str();
  }
  out += "\nConcepts that weight it most (share = |w_k| / ||w||_1)\n";
  Table t({"concept", "category", ">w_k", ">share", ">rank by |w|", "best"});
  for (const FilterConcept& f : r.top_weighted)
    t.add({f.name, f.category, cell(f.weight), cell(f.share), std::to_string(f.rank), f.best ? "yes" : ""});
  out += t.str();
  const Catalog::FilterTopImages& top = resp.top_images;
  if (!top.per_filter) return out + "\nTop images: not stored (ingested before they were, or no run)\n";
  if (*top.per_filter == 0) return out + "\nTop images: off (ingested with --top-images 0)\n";
  out += format("\nTop images (largest max of the activation map; map: a_k > T_k = %s)\n",
                top.threshold ? cell(*top.threshold).c_str() : "?");
  Table images({">rank", ">row", "image", "split", ">max a_k", ">map positions on"});
  for (const Catalog::FilterTopImages::Image& i : top.images) {
    int on = 0;
    for (uint8_t b : i.record.map) on += __builtin_popcount(b);
    images.add({std::to_string(i.record.rank + 1), std::to_string(i.record.image_row), i.path, i.split,
                cell(i.record.max_activation), format("%d of %d", on, i.record.height * i.record.width)});
  }
  return out + images.str();
}

std::string render_text(const ExamplesResponse& r) {
  std::string out = format("The paper's examples in %s (k = %d)\n\nNearest concepts (Table 2)\n", r.space.id.c_str(), r.k);
  Table near({"query", "nearest (cosine)"});
  for (const NeighborsResponse& n : r.nearest) {
    std::string hits;
    for (const ConceptHit& h : n.result.hits) hits += (hits.empty() ? "" : ", ") + h.name + " " + cell(h.score, 3);
    near.add({n.result.query, hits});
  }
  out += near.str() + "\nVector arithmetic (Table 3)\n";
  Table sums({"sum", "nearest (cosine)"});
  for (const AnalogyResponse& a : r.arithmetic) {
    std::string hits;
    for (const ConceptHit& h : a.result.hits) hits += (hits.empty() ? "" : ", ") + h.name + " " + cell(h.score, 3);
    sums.add({to_string(ConceptSum{a.result.positive, a.result.negative}), hits});
  }
  out += sums.str();
  if (!r.missing.empty()) {
    out += "\nNot in this space:";
    for (const std::string& m : r.missing) out += " " + m + ";";
    out.back() = '\n';
  }
  return out;
}

std::string render_text(const ConceptImagesResponse& r) {
  Table t({">row", "image", ">IoU learned", ">IoU single filter"});
  for (const ProbeImageScore& s : r.images.images) t.add({std::to_string(s.row), s.path, cell(s.learned), cell(s.single)});
  return format("Val images of '%s' in %s (probe set %s), %s first: %zu of %d from %d\n", r.name.c_str(), r.space.id.c_str(),
                r.images.probe_name.empty() ? "-" : r.images.probe_name.c_str(), r.worst_first ? "worst" : "best",
                r.images.images.size(), r.total, r.offset + 1) +
         t.str();
}

std::string render_text(const AnalysesResponse& r) {
  const std::string score = score_label(r.space);
  std::string out = format("The paper's analyses of %s\n\nLearned weights at least as good as the best single filter "
                           "(Table 1)\n", r.space.id.c_str());
  // The interval columns: of the concepts with both 95 % intervals, where they separate.
  // Above chance: of the concepts with a p-value, those passing Benjamini-Hochberg at 5 %.
  Table share({"category", ">concepts", ">learned >= single", ">share", ">with intervals", ">learned above",
               ">single above", ">with p", ">learned > chance", ">single > chance"});
  for (const ShareRow& row : r.learned_vs_single)
    share.add({row.category.empty() ? "all" : row.category, std::to_string(row.concepts),
               std::to_string(row.learned_at_least_single), cell(row.share, 3), std::to_string(row.with_intervals),
               std::to_string(row.learned_above), std::to_string(row.single_above), std::to_string(row.with_p),
               std::to_string(row.learned_above_chance), std::to_string(row.single_above_chance)});
  out += share.str() +
         format("(above/below: 95 %% intervals that separate; > chance: permutation p-values passing "
                "Benjamini-Hochberg at a false discovery rate of %g over the space's concepts)\n",
                kFalseDiscoveryRate) +
         "\nMean " + score + " by category, val (Figure 2)\n";
  Table cats({"category", ">single filter", ">learned", ">concepts"});
  for (const CategoryScores& c : r.category_scores)
    cats.add({c.category, cell(c.single_val.mean), cell(c.learned_val.mean), std::to_string(c.learned_val.n)});
  out += cats.str();
  if (!r.subset_curves.empty()) {
    out += "\nMean " + score + " with the top F filters only, val (Figure 3)\n";
    Table curves({"category", "F: score"});
    for (const SubsetCurve& c : r.subset_curves) {
      std::string points;
      for (size_t i = 0; i < c.filters.size(); ++i)
        points += (i ? ", " : "") + std::to_string(c.filters[i]) + ": " + cell(c.score[i].mean, 3);
      curves.add({c.category, points});
    }
    out += curves.str();
  }
  if (r.correlation.defined > 0)
    out += format("\nWeight vs single-filter IoU (Figure 9): %d of %d concepts significant at p < %g (%s positive)\n",
                  r.correlation.significant, r.correlation.defined, r.correlation.alpha,
                  cell(r.correlation.share_positive, 3).c_str());
  return out;
}

std::string render_text(const MapResponse& r) {
  Table t({"concept", "category", ">x", ">y", ">cluster"});
  for (size_t i = 0; i < r.concepts.size(); ++i)
    t.add({r.concepts[i].name, r.concepts[i].category, cell(r.map.x[i], 3), cell(r.map.y[i], 3),
           std::to_string(r.map.cluster[i])});
  return format("t-SNE map of %s: %zu concepts, %d clusters (perplexity %g, %d iterations, seed %u, KL %s)\n",
                r.space.id.c_str(), r.concepts.size(), r.map.k, r.options.perplexity, r.options.iterations,
                r.options.seed, cell(r.map.kl, 3).c_str()) +
         t.str();
}

}  // namespace n2v
