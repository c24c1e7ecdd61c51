// compare()'s unbiased CKA and permutation test (issue 21 part 2): known answers, guards, and a
// direct double-precision unbiased HSIC (the definition, with K~ and L~ formed) to check the
// streamed form. tests/query/reference_similarity.py checks all measures against numpy.

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "query/query.h"
#include "support/expect.h"
#include "support/temp_dir.h"
#include "toy_spaces.h"

namespace n2v {
namespace {

using test::ToyConcept;

// n concepts r1..rn of dimension d: rows from `rng`, or the given rows.
std::vector<ToyConcept> random_concepts(int n, int d, std::mt19937& rng, double offset = 0) {
  std::normal_distribution<float> normal;
  std::vector<ToyConcept> out;
  for (int c = 0; c < n; ++c) {
    ToyConcept t{"r" + std::to_string(c + 1), "object", {}};
    for (int k = 0; k < d; ++k) t.w.push_back(normal(rng) + static_cast<float>(offset));
    out.push_back(t);
  }
  return out;
}

// The Gram of unit rows, in double, rows in name order (as compare sorts them).
std::vector<double> gram(const std::vector<ToyConcept>& concepts) {
  std::vector<ToyConcept> sorted = concepts;
  std::sort(sorted.begin(), sorted.end(), [](const ToyConcept& a, const ToyConcept& b) { return a.name < b.name; });
  const size_t n = sorted.size();
  std::vector<std::vector<double>> unit;
  for (const ToyConcept& t : sorted) {
    double norm = 0;
    for (float x : t.w) norm += static_cast<double>(x) * x;
    std::vector<double> u;
    for (float x : t.w) u.push_back(x / std::sqrt(norm));
    unit.push_back(u);
  }
  std::vector<double> g(n * n);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) g[a * n + b] = std::inner_product(unit[a].begin(), unit[a].end(), unit[b].begin(), 0.0);
  return g;
}

// HSIC_u by its definition (Song et al. 2012, eq. 5): K~, L~ with zero diagonals formed.
double hsic_unbiased(std::vector<double> k, std::vector<double> l, int n) {
  for (int c = 0; c < n; ++c) k[c * n + c] = l[c * n + c] = 0;
  double trace = 0, sum_k = 0, sum_l = 0, cross = 0;
  std::vector<double> kl_row(n, 0), k_row(n, 0), l_row(n, 0);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      trace += k[a * n + b] * l[b * n + a];
      sum_k += k[a * n + b];
      sum_l += l[a * n + b];
      k_row[a] += k[a * n + b];
      l_row[b] += l[a * n + b];
    }
  for (int a = 0; a < n; ++a) cross += k_row[a] * l_row[a];  // 1' K~ L~ 1 = (K~ 1).(L~ 1), both symmetric
  return (trace + sum_k * sum_l / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * cross) / (n * (n - 3.0));
}

class SimilarityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = std::make_unique<Catalog>(Catalog::open(dir_.file("catalog.db")));
  }
  std::string add(const std::string& network, const std::vector<ToyConcept>& concepts) {
    return test::write_toy_space(*catalog_, network, "l", concepts);
  }
  QueryEngine& engine() {
    if (!engine_) engine_ = std::make_unique<QueryEngine>(*catalog_);
    return *engine_;
  }
  test::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<QueryEngine> engine_;
};

TEST_F(SimilarityTest, UnbiasedCkaMatchesItsDefinitionWithExactDiagonalAndSymmetry) {
  std::mt19937 rng(7);
  const auto x = random_concepts(9, 5, rng), y = random_concepts(9, 4, rng), z = random_concepts(9, 6, rng, 1.5);
  const std::string a = add("a", x), b = add("b", y), c = add("c", z);
  CompareOptions options;
  const SpaceComparison cmp = engine().compare({a, b, c}, {}, options);
  ASSERT_EQ(cmp.shared(), 9);
  const std::vector<std::vector<double>> grams = {gram(x), gram(y), gram(z)};
  for (const PairComparison& p : cmp.pairs) {
    const double want = hsic_unbiased(grams[p.i], grams[p.j], 9) /
                        std::sqrt(hsic_unbiased(grams[p.i], grams[p.i], 9) * hsic_unbiased(grams[p.j], grams[p.j], 9));
    EXPECT_NEAR(p.cka_unbiased, want, 1e-5) << p.i << "," << p.j;
    EXPECT_TRUE(p.cka_unbiased_undefined.empty());
    // Not the biased form: on 9 concepts the two differ well beyond rounding.
    EXPECT_GT(std::abs(p.cka_unbiased - p.cka), 1e-3);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cmp.cka_unbiased[i * 3 + i], 1.0);  // exactly
    EXPECT_EQ(cmp.cka[i * 3 + i], 1.0);
    for (int j = 0; j < 3; ++j) EXPECT_EQ(cmp.cka_unbiased[i * 3 + j], cmp.cka_unbiased[j * 3 + i]);
  }
}

TEST_F(SimilarityTest, FewerThanFourConceptsLeaveUnbiasedCkaUndefinedWithItsReason) {
  std::mt19937 rng(3);
  const std::string a = add("a", random_concepts(3, 4, rng)), b = add("b", random_concepts(3, 4, rng));
  const SpaceComparison cmp = engine().compare({a, b});
  ASSERT_EQ(cmp.pairs.size(), 1u);
  EXPECT_TRUE(std::isnan(cmp.pairs[0].cka_unbiased));
  EXPECT_EQ(cmp.pairs[0].cka_unbiased_undefined, "unbiased CKA needs at least 4 shared concepts, got 3");
  EXPECT_TRUE(std::isnan(cmp.cka_unbiased[0]));  // the diagonal too: not 1 where undefined
  EXPECT_FALSE(std::isnan(cmp.pairs[0].cka));     // linear CKA is defined on 3
  EXPECT_TRUE(cmp.pairs[0].cka_undefined.empty());
}

TEST_F(SimilarityTest, ASpaceOfOneDirectionLeavesBothCkasUndefinedWithTheirReasons) {
  std::mt19937 rng(5);
  std::vector<ToyConcept> same;
  for (int c = 0; c < 6; ++c) same.push_back({"r" + std::to_string(c + 1), "object", {2, 1, -1}});
  const std::string flat = add("flat", same), other = add("other", random_concepts(6, 3, rng));
  const SpaceComparison cmp = engine().compare({other, flat});
  const PairComparison& p = cmp.pairs[0];
  EXPECT_TRUE(std::isnan(p.cka));
  EXPECT_TRUE(std::isnan(p.cka_unbiased));
  EXPECT_NE(p.cka_undefined.find("'" + flat + "'"), std::string::npos) << p.cka_undefined;
  EXPECT_NE(p.cka_unbiased_undefined.find("'" + flat + "'"), std::string::npos) << p.cka_unbiased_undefined;
  EXPECT_EQ(cmp.cka_unbiased[0], 1.0);  // the defined space's diagonal
  EXPECT_TRUE(std::isnan(cmp.cka_unbiased[3]));
}

TEST_F(SimilarityTest, ARowPermutedCopyIsIdenticalAndItsPermutationPIsTheSmallest) {
  std::mt19937 rng(11);
  const auto x = random_concepts(12, 6, rng);
  std::vector<ToyConcept> shuffled = x;  // the same name -> vector, stored in another order
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const std::string a = add("a", x), b = add("b", shuffled);
  CompareOptions options;
  options.permutations = 199;
  const SpaceComparison cmp = engine().compare({a, b}, {}, options);
  const PairComparison& p = cmp.pairs[0];
  EXPECT_EQ(p.distance, 0.0);
  EXPECT_NEAR(p.cka, 1.0, 1e-12);
  EXPECT_NEAR(p.cka_unbiased, 1.0, 1e-12);
  EXPECT_EQ(cmp.permutations, 199);
  EXPECT_EQ(p.permutation.permutations, 199);
  EXPECT_EQ(p.permutation.p_distance, 1.0 / 200);
  EXPECT_EQ(p.permutation.p_cka, 1.0 / 200);
  EXPECT_EQ(p.permutation.p_cka_unbiased, 1.0 / 200);
  EXPECT_GT(p.permutation.null_distance, 1.0);
  EXPECT_LT(p.permutation.null_cka, 0.9);
  EXPECT_LT(std::abs(p.permutation.null_cka_unbiased), 0.2);  // unbiased: centred near 0
}

TEST_F(SimilarityTest, IndependentSpacesGiveUniformPValues) {
  // Independent random spaces: each pair is a draw from the null, so over many pairs the p-values
  // are uniform: mean ~1/2, ~5 % at or below 0.05.
  std::mt19937 rng(13);
  std::vector<std::string> spaces;
  for (int s = 0; s < 24; ++s) spaces.push_back(add("n" + std::to_string(s), random_concepts(10, 4, rng)));
  CompareOptions options;
  options.permutations = 99;
  options.per_concept = 0;
  const SpaceComparison cmp = engine().compare(spaces, {}, options);
  ASSERT_EQ(cmp.pairs.size(), 276u);
  double mean_d = 0, mean_u = 0;
  int small = 0;
  for (const PairComparison& p : cmp.pairs) {
    mean_d += p.permutation.p_distance / cmp.pairs.size();
    mean_u += p.permutation.p_cka_unbiased / cmp.pairs.size();
    small += p.permutation.p_distance <= 0.05;
  }
  EXPECT_NEAR(mean_d, 0.5, 0.08);
  EXPECT_NEAR(mean_u, 0.5, 0.08);
  EXPECT_LE(small, 30);  // 5 % of 276 is 14
}

TEST_F(SimilarityTest, PermutationTestIsReproducibleAcrossThreadsAndStores) {
  std::mt19937 rng(17);
  std::vector<std::string> spaces;
  for (int s = 0; s < 5; ++s) spaces.push_back(add("s" + std::to_string(s), random_concepts(40, 8, rng)));
  CompareOptions one;
  one.permutations = 50;
  one.permutation_seed = 42;
  one.threads = 1;
  CompareOptions other = one;
  other.threads = 2;
  other.memory_bytes = 30000;  // the store (32,000 bytes) goes to a file
  const SpaceComparison a = engine().compare(spaces, {}, one), b = engine().compare(spaces, {}, other);
  ASSERT_TRUE(b.stats.temp_file);
  for (size_t p = 0; p < a.pairs.size(); ++p) {
    EXPECT_EQ(a.pairs[p].permutation.p_distance, b.pairs[p].permutation.p_distance);
    EXPECT_EQ(a.pairs[p].permutation.null_cka, b.pairs[p].permutation.null_cka);
    EXPECT_EQ(a.pairs[p].permutation.null_cka_unbiased, b.pairs[p].permutation.null_cka_unbiased);
  }
  CompareOptions seeded = one;
  seeded.permutation_seed = 43;
  const SpaceComparison c = engine().compare(spaces, {}, seeded);
  EXPECT_NE(a.pairs[0].permutation.null_distance, c.pairs[0].permutation.null_distance);
}

TEST_F(SimilarityTest, PermutationWorkCeilingFailsOrSkips) {
  std::mt19937 rng(19);
  const std::string a = add("a", random_concepts(20, 4, rng)), b = add("b", random_concepts(20, 4, rng));
  CompareOptions options;
  options.permutations = 100;
  options.max_permutation_work = 100.0 * 20 * 20 - 1;  // one pair: R x C^2, one short
  test::expect_error([&] { engine().compare({a, b}, {}, options); }, ErrorCode::kInvalidArgument,
                     {"ask for fewer permutations"});
  options.permutations_optional = true;
  const SpaceComparison skipped = engine().compare({a, b}, {}, options);
  EXPECT_EQ(skipped.permutations, 0);
  EXPECT_EQ(skipped.pairs[0].permutation.permutations, 0);
  EXPECT_NE(skipped.permutation_skipped.find("40000 multiply-adds"), std::string::npos) << skipped.permutation_skipped;
  options.max_permutation_work = 100.0 * 20 * 20;  // exactly at the ceiling: runs
  EXPECT_EQ(engine().compare({a, b}, {}, options).permutations, 100);
  options.permutations = -1;
  test::expect_error([&] { engine().compare({a, b}, {}, options); }, ErrorCode::kInvalidArgument, {"permutations"});
}

}  // namespace
}  // namespace n2v
