#pragma once
// Analysis stage: the paper's findings computed from the stored scores of a space, as plain
// functions over Catalog::concept_scores (torch-free; statistics by hand and Boost.Math).
//   * Table 1      -- the share of concepts whose learned weights score at least as well as
//                     their best single filter (val), overall and per category;
//   * Figure 2     -- per category, mean and standard error of the val/train scores of the
//                     best single filter and of the learned weights;
//   * Figure 3     -- per category, the mean score of the top-F filter subsets against F;
//   * Figure 9     -- per concept, Pearson's r between max(w, 0) and the per-filter val set IoU
//                     (paper 5.2) with its two-sided p-value (Student's t, n - 2 degrees of
//                     freedom); per space, the share significant at p < 0.01;
//   * Figures 7, 8 -- a concept's per-image IoU: mean and sd of the non-zero part, deciles;
//   * map          -- a seeded t-SNE map of a space and its k-means clusters;
//   * failures     -- score against the number of train images and against alpha, per
//                     category (the paper ties failures to few or tiny examples).
// The service (src/service) serves them, `net2vec report` writes them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/false_discovery.h"

namespace n2v {

// The learned weights' val score of a concept: set IoU (segmentation) or balanced accuracy.
std::optional<float> learned_val(const EmbeddingRecord& e);
std::optional<float> learned_train(const EmbeddingRecord& e);

// ---- Table 1 ----
struct ShareRow {
  std::string category;  // "" for all categories together
  int concepts = 0;      // concepts with both val scores
  int learned_at_least_single = 0;
  double share = 0;      // learned_at_least_single / concepts (NaN when none)
  // Of the concepts, those with both 95 % val intervals stored (schema version 7), and where
  // the intervals separate: the learned one wholly above the single filter's, or below it.
  int with_intervals = 0, learned_above = 0, single_above = 0;
  // Above chance with the false discovery rate held at kFalseDiscoveryRate over the whole
  // space (Benjamini-Hochberg on the stored permutation p-values of all its concepts, learned
  // and single filter each a family; a category row counts its concepts among them). with_p:
  // the row's concepts whose learned score has a p-value.
  int with_p = 0, learned_above_chance = 0, single_above_chance = 0;
};
// (kFalseDiscoveryRate and benjamini_hochberg: common/false_discovery.h.)
// Overall first, then by category name.
std::vector<ShareRow> learned_vs_single(const std::vector<ScoredConcept>& concepts);

// ---- Figure 2 ----
struct MeanSe {
  int n = 0;
  double mean = 0, se = 0;  // se = sample standard deviation / sqrt(n); NaN when n < 2
};
MeanSe mean_se(const std::vector<double>& values);

struct CategoryScores {
  std::string category;
  MeanSe single_train, single_val, learned_train, learned_val;
};
std::vector<CategoryScores> category_scores(const std::vector<ScoredConcept>& concepts);

// ---- Figure 3 ----
struct SubsetCurve {
  std::string category;
  std::vector<int> filters;           // F, ascending
  std::vector<MeanSe> score;          // mean val score of concepts with that F stored
};
std::vector<SubsetCurve> subset_curves(const std::vector<ScoredConcept>& concepts);

// ---- Figure 9 ----
struct Correlation {
  int n = 0;
  double r = 0;  // NaN when undefined (fewer than 3 values, or a constant input)
  double p = 0;  // two-sided p-value of r = 0 under Student's t with n - 2 dof; NaN when r is
};
// Pearson's r of x and y (same length) and its p-value.
Correlation pearson(const std::vector<double>& x, const std::vector<double>& y);

struct ConceptCorrelation {
  int concept_number = 0;
  std::string name, category;
  Correlation c;  // max(w, 0) against the per-filter val set IoU
};
struct WeightIouCorrelation {
  std::vector<ConceptCorrelation> concepts;  // segmentation concepts with per-filter IoUs
  int defined = 0;                           // with r defined
  int significant = 0;                       // p < alpha
  double alpha = 0.01;
  double share_significant = 0;              // significant / defined (NaN when none)
  double share_positive = 0;                 // significant and r > 0, / defined
};
WeightIouCorrelation weight_iou_correlation(const std::vector<ScoredConcept>& concepts, double alpha = 0.01);

// ---- failures ----
// Mean val score per bin of a concept property (train images, or alpha), per category; bins
// are quantile-free fixed edges chosen by the caller.
struct BinnedScores {
  std::string category;
  std::vector<MeanSe> bins;  // one per [edges[i], edges[i + 1])
};
struct FailureAnalysis {
  std::vector<double> train_edges, alpha_edges;
  std::vector<BinnedScores> by_train_count, by_alpha;
};
FailureAnalysis failure_analysis(const std::vector<ScoredConcept>& concepts);

// ---- Figures 7 and 8 ----
// A concept's per-image val IoU as the paper reports it: the mean and standard deviation of
// the non-zero part (images where the mask found anything of the concept), and one example
// image at each decile of that part.
struct NonZeroStats {
  int images = 0, nonzero = 0;  // defined values, and those > 0
  double mean = 0, sd = 0;      // over the non-zero values (NaN when none; sd NaN below 2)
};
struct DecileExample {
  double quantile = 0;  // 0.1, 0.2, ..., 1.0 (1.0: the best image)
  double iou = 0;       // the value at that quantile of the non-zero part (nearest rank)
  int row = 0;          // the image it belongs to (index.csv data row)
};
struct ImageIouDistribution {
  NonZeroStats learned, single;
  std::vector<DecileExample> learned_deciles, single_deciles;  // empty when nothing is non-zero
};
ImageIouDistribution image_iou_distribution(const std::vector<ImageIouRecord>& images);

// ---- a 2-D map of a space and its clusters (the paper's supplementary analysis) ----
struct MapOptions {
  double perplexity = 30;  // clipped to (n - 1) / 3 for small spaces
  int iterations = 1000;
  uint32_t seed = 1;       // the same seed and input give the same map, bit for bit
  int clusters = 8;        // k of k-means (clipped to n)
};
struct SpaceMap {
  std::vector<double> x, y;    // per row of the input
  std::vector<int> cluster;    // k-means cluster of each row, 0..k-1 (clusters numbered by size, largest first)
  int k = 0;
  double kl = 0;               // the final Kullback-Leibler divergence of the t-SNE fit
};
// Exact t-SNE (van der Maaten & Hinton 2008: perplexity-calibrated Gaussian affinities on
// cosine distances, Student-t map affinities, early exaggeration 12 for 250 iterations,
// momentum 0.5 then 0.8, gains) of n unit-normalised rows of dimension d (row-major), and
// k-means++ / Lloyd clusters of the same rows (cosine via unit vectors). O(n^2) per
// iteration: meant for concept spaces (~1,200 rows at most), not for millions of points.
SpaceMap map_space(const std::vector<float>& rows, int n, int d, const MapOptions& options = {});

}  // namespace n2v
