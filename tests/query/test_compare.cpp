// compare(): D_ij, per-concept D_ijc, category means and linear CKA on hand-made spaces.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>
#include <tuple>

#include "common/error.h"
#include "query/gemm.h"
#include "query/query.h"
#include "support/expect.h"
#include "support/temp_dir.h"
#include "toy_spaces.h"

namespace n2v {
namespace {

using test::expect_error;
using test::ToyConcept;

// s = 1/sqrt(2) = 0.7071068.
//
// Space P (2-D): a (1,0), b (0,1), c (1,1), plus d (only in P and R) and void (0,0).
//   d(W_P) = [[1, 0, s], [0, 1, s], [s, s, 1]]          (rows/columns a, b, c)
// Space Q (2-D): a (1,0), b (1,1), c (0,1), plus e (only in Q) and void (1,0).
//   d(W_Q) = [[1, s, 0], [s, 1, s], [0, s, 1]]
// Space R (3-D): P rotated and scaled: a (0,0,5), b (0,5,0), c (0,5,5), d (0,-5,0), no void.
//   d(W_R) = d(W_P)
//
// P - Q = [[0, -s, s], [-s, 0, 0], [s, 0, 0]]
//   D_PQa = s^2 + s^2 = 1, D_PQb = s^2 = 0.5, D_PQc = 0.5; D_PQ = 2.
//   a and b are objects, c a colour: mean D_PQc over object = (1 + 0.5)/2 = 0.75, colour 0.5.
// void is shared by P and Q but has a zero vector in P: left out, reported.
//
// Linear CKA, C = 3, H = I - 11^T/3. For P: row means r = ((1+s)/3, (1+s)/3, (1+2s)/3)
// = (0.5690356, 0.5690356, 0.8047379), grand mean g = (3+4s)/9 = 0.6476030;
// HPH[x,y] = P[x,y] - r_x - r_y + g:
//   HPH = [[ 0.5095318, -0.4904682, -0.0190637],
//          [-0.4904682,  0.5095318, -0.0190637],
//          [-0.0190637, -0.0190637,  0.0381273]]
// d(W_Q) is d(W_P) with the 2nd and 3rd indexes swapped (b <-> c), and so is HQH:
//   HQH = [[ 0.5095318, -0.0190637, -0.4904682],
//          [-0.0190637,  0.0381273, -0.0190637],
//          [-0.4904682, -0.0190637,  0.5095318]]
//   <HPH, HQH> = 0.5095318^2 + 2(-0.4904682)(-0.0190637) + 2(-0.0190637)(-0.4904682)
//                + 0.5095318*0.0381273 + 2(-0.0190637)(-0.0190637) + 0.0381273*0.5095318
//              = 0.2596226 + 0.0187006 + 0.0187006 + 0.0194271 + 0.0007269 + 0.0194271
//              = 0.3366041 (0.3366049 from the rounded terms; entries (1,1); (1,2),(2,1); (1,3),(3,1); (2,2); (2,3),(3,2); (3,3))
//   ||HPH||^2 = ||HQH||^2 = 2(0.5095318^2) + 2(0.4904682^2) + 4(0.0190637^2) + 0.0381273^2
//             = 0.5192452 + 0.4811181 + 0.0014537 + 0.0014537 = 1.0032708
//   CKA_PQ = 0.3366041 / 1.0032708 = 0.3355068.
// CKA_PR = 1 and D_PR = 0 (same Gram); D_QR = D_PQ, CKA_QR = CKA_PQ.
class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = std::make_unique<Catalog>(Catalog::open(dir_.file("catalog.db")));
    p_ = test::write_toy_space(*catalog_, "p", "l", {{"a", "object", {1, 0}}, {"b", "object", {0, 1}},
                                                     {"c", "color", {1, 1}}, {"d", "part", {1, -1}},
                                                     {"void", "object", {0, 0}}});
    q_ = test::write_toy_space(*catalog_, "q", "l", {{"a", "object", {1, 0}}, {"b", "object", {1, 1}},
                                                     {"c", "color", {0, 1}}, {"e", "part", {3, 3}},
                                                     {"void", "object", {1, 0}}});
    r_ = test::write_toy_space(*catalog_, "r", "l", {{"a", "object", {0, 0, 5}}, {"b", "object", {0, 5, 0}},
                                                     {"c", "color", {0, 5, 5}}, {"d", "part", {0, -5, 0}}});
    engine_ = std::make_unique<QueryEngine>(*catalog_);
  }
  test::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<QueryEngine> engine_;
  std::string p_, q_, r_;
};

TEST_F(CompareTest, TwoSpacesByHand) {
  const SpaceComparison c = engine_->compare({p_, q_});
  EXPECT_EQ(c.shared(), 3);
  EXPECT_EQ(c.concepts, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(c.categories, (std::vector<std::string>{"object", "object", "color"}));
  // Every concept left out, with why: d only in P, e only in Q, void a zero vector in P.
  EXPECT_EQ(c.excluded, (std::vector<LeftOutConcept>{{"d", {"q.l.seg"}, {}},
                                                     {"e", {"p.l.seg"}, {}},
                                                     {"void", {}, {"p.l.seg"}}}));
  ASSERT_EQ(c.pairs.size(), 1u);
  const PairComparison& pq = c.pair(0, 1);
  EXPECT_NEAR(pq.distance, 2.0, 1e-6);
  ASSERT_EQ(pq.per_concept.size(), 3u);
  EXPECT_NEAR(pq.per_concept[0], 1.0, 1e-6);
  EXPECT_NEAR(pq.per_concept[1], 0.5, 1e-6);
  EXPECT_NEAR(pq.per_concept[2], 0.5, 1e-6);
  ASSERT_EQ(pq.categories.size(), 2u);
  EXPECT_EQ(pq.categories[0].category, "color");
  EXPECT_EQ(pq.categories[0].concepts, 1);
  EXPECT_NEAR(pq.categories[0].mean, 0.5, 1e-6);
  EXPECT_EQ(pq.categories[1].category, "object");
  EXPECT_NEAR(pq.categories[1].mean, 0.75, 1e-6);
  EXPECT_NEAR(pq.cka, 0.3355068, 1e-6);
  // The m x m matrices.
  EXPECT_EQ(c.m, 2);
  EXPECT_NEAR(c.distance[1], 2.0, 1e-6);
  EXPECT_NEAR(c.distance[2], 2.0, 1e-6);
  EXPECT_EQ(c.distance[0], 0.0);
  EXPECT_EQ(c.cka[0], 1.0);
  EXPECT_NEAR(c.cka[2], 0.3355068, 1e-6);
}

TEST_F(CompareTest, ThreeSpacesInvariantToRotationAndScale) {
  const SpaceComparison c = engine_->compare({p_, q_, r_});
  EXPECT_EQ(c.shared(), 3);  // a, b, c: d is not in Q, e only in Q, void not in R
  EXPECT_EQ(c.excluded, (std::vector<LeftOutConcept>{{"d", {"q.l.seg"}, {}},
                                                     {"e", {"p.l.seg", "r.l.seg"}, {}},
                                                     {"void", {"r.l.seg"}, {"p.l.seg"}}}));
  // D_ij per pair of distinct concepts: D_ij / (C (C - 1)).
  EXPECT_NEAR(c.pair(0, 1).distance_per_pair, c.pair(0, 1).distance / 6.0, 1e-12);
  EXPECT_NEAR(c.distance_per_pair[0 * 3 + 1], c.pair(0, 1).distance / 6.0, 1e-12);
  ASSERT_EQ(c.pairs.size(), 3u);
  EXPECT_NEAR(c.pair(0, 2).distance, 0.0, 1e-9);
  EXPECT_NEAR(c.pair(0, 2).cka, 1.0, 1e-6);
  EXPECT_NEAR(c.pair(2, 1).distance, 2.0, 1e-6);  // either order
  EXPECT_NEAR(c.pair(1, 2).cka, 0.3355068, 1e-6);
  EXPECT_NEAR(c.distance[0 * 3 + 1], 2.0, 1e-6);
  EXPECT_NEAR(c.distance[2 * 3 + 0], 0.0, 1e-9);
}

// Subset {a, b}: d(W_P) = [[1, 0], [0, 1]], d(W_Q) = [[1, s], [s, 1]]: D = 2 s^2 = 1,
// D_a = D_b = 0.5. With C = 2 every centred Gram is a multiple of [[1,-1],[-1,1]]:
// HPH = (1 - 0)/2 [[1,-1],[-1,1]], HQH = (1 - s)/2 [[1,-1],[-1,1]], so CKA = 1.
TEST_F(CompareTest, ConceptSubset) {
  const SpaceComparison c = engine_->compare({p_, q_}, {"b", "a", "a"});
  EXPECT_EQ(c.concepts, (std::vector<std::string>{"a", "b"}));
  EXPECT_NEAR(c.pairs[0].distance, 1.0, 1e-6);
  EXPECT_NEAR(c.pairs[0].per_concept[0], 0.5, 1e-6);
  EXPECT_NEAR(c.pairs[0].cka, 1.0, 1e-6);
}

TEST_F(CompareTest, Errors) {
  expect_error([&] { engine_->compare({p_}); }, ErrorCode::kInvalidArgument);
  expect_error([&] { engine_->compare({p_, p_}); }, ErrorCode::kInvalidArgument);
  expect_error([&] { engine_->compare({p_, "q.l.sg"}); }, ErrorCode::kNotFound, {"'q.l.seg'"});
  // d is in P and R but not Q.
  expect_error(
      [&] {
        engine_->compare({p_, q_}, {"a", "d"});
      },
      ErrorCode::kNotFound, {"not in space 'q.l.seg'"});
  expect_error([&] { engine_->compare({p_, q_}, {"bb"}); }, ErrorCode::kNotFound, {"did you mean"});
  // One shared concept is not enough; none at all says so.
  expect_error([&] { engine_->compare({p_, q_}, {"a"}); }, ErrorCode::kInvalidArgument, {"only one concept"});
  test::write_toy_space(*catalog_, "s", "l", {{"x", "object", {1, 0}}, {"y", "object", {0, 1}}});
  expect_error(
      [&] {
        engine_->compare({p_, "s.l.seg"});
      },
      ErrorCode::kInvalidArgument, {"no concept is shared"});
}

// A writer replaces a space again and again while comparisons run (SECURITY_REVIEW F4): every
// comparison is wholly of the old content or wholly of the new, with the record (dim) of the
// content it compared; never an unordered_map::at, never a mix. A comparison the writer kept
// disturbing may give up with kUnavailable (HTTP 503), never anything else.
TEST_F(CompareTest, ConcurrentReplacementGivesWholeAnswers) {
  const std::vector<std::pair<std::string, std::vector<float>>> version_a = {
      {"a", {1, 0}}, {"b", {0, 1}}, {"c", {1, 1}}, {"d", {1, -1}}};
  const std::vector<std::pair<std::string, std::vector<float>>> version_b = {
      {"a", {1, 0, 0}}, {"b", {1, 1, 0}}, {"c", {0, 1, 1}}};
  CompareOptions options;
  options.threads = 2;
  catalog_->write_reference_space("ref", "version a", 2, version_a);
  const SpaceComparison a = engine_->compare({p_, "ref"}, {}, options);
  catalog_->write_reference_space("ref", "version b", 3, version_b);
  const SpaceComparison b = engine_->compare({p_, "ref"}, {}, options);
  ASSERT_EQ(a.shared(), 4);
  ASSERT_EQ(b.shared(), 3);
  ASSERT_NE(a.distance[1], b.distance[1]);

  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 400; ++i) {
      if (i % 2) catalog_->write_reference_space("ref", "version b", 3, version_b);
      else catalog_->write_reference_space("ref", "version a", 2, version_a);
    }
    done = true;
  });
  int answers = 0, as = 0, bs = 0, unavailable = 0;
  std::vector<std::string> wrong;
  while (!done || answers < 50) {
    try {
      const SpaceComparison got = engine_->compare({p_, "ref"}, {}, options);
      const SpaceComparison& want = got.shared() == a.shared() ? a : b;
      const int dim = &want == &a ? 2 : 3;
      ++(&want == &a ? as : bs);
      if (got.concepts != want.concepts || got.distance != want.distance ||
          got.pairs[0].per_concept != want.pairs[0].per_concept || got.space_info.size() != 2 ||
          got.space_info[1].dim != dim)
        wrong.push_back("answer " + std::to_string(answers) + ": " + std::to_string(got.shared()) +
                        " concepts, D " + std::to_string(got.distance[1]) + ", dim " +
                        (got.space_info.size() == 2 ? std::to_string(got.space_info[1].dim) : "?"));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kUnavailable) ++unavailable;
      else wrong.push_back(std::string("error: ") + e.what());
    } catch (const std::exception& e) {
      wrong.push_back(std::string("exception: ") + e.what());
    }
    ++answers;
  }
  writer.join();
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " of " << answers << " answers not whole, first: " << wrong.front();
  EXPECT_GT(as + bs, 0);
  RecordProperty("answers", answers);
  std::printf("[ info ] %d comparisons during 400 replacements: %d A, %d B, %d unavailable\n", answers, as, bs,
              unavailable);
}

// All shared concepts pointing the same way: centred Grams are zero, CKA is undefined (NaN),
// D is still defined (0 here).
TEST_F(CompareTest, DegenerateCkaIsNaN) {
  const std::string u = test::write_toy_space(*catalog_, "u", "l", {{"x", "object", {1, 0}}, {"y", "object", {2, 0}}});
  const std::string v = test::write_toy_space(*catalog_, "v", "l", {{"x", "object", {0, 1}}, {"y", "object", {0, 3}}});
  const SpaceComparison c = engine_->compare({u, v});
  EXPECT_NEAR(c.pairs[0].distance, 0.0, 1e-9);
  EXPECT_TRUE(std::isnan(c.pairs[0].cka));
}

// ---- The streamed comparison against a brute-force reference ----
//
// m random spaces of C shared concepts ("r<k>", four categories, dimensions 3..6, seeded
// Gaussian weights); space 3 is space 1 with its coordinates reversed and doubled (the same
// Gram: D = 0, CKA = 1, rows recomputed directly). The reference is plain double-precision
// loops: unit rows, Grams, D_ij, D_ijc, category means, and CKA through explicitly centred
// Grams.
struct Reference {
  int m = 0, C = 0;
  std::vector<std::string> ids, names, categories;  // names sorted, as compare sorts them
  std::vector<std::vector<double>> gram;            // per space, C x C
  double d(int i, int j, int c) const {
    double sum = 0;
    for (int b = 0; b < C; ++b) {
      const double x = gram[i][static_cast<size_t>(c) * C + b] - gram[j][static_cast<size_t>(c) * C + b];
      sum += x * x;
    }
    return sum;
  }
  double distance(int i, int j) const {
    double sum = 0;
    for (int c = 0; c < C; ++c) sum += d(i, j, c);
    return sum;
  }
  std::vector<double> centred(int s) const {
    std::vector<double> h(static_cast<size_t>(C) * C);
    std::vector<double> row(C, 0.0);
    double all = 0;
    for (int x = 0; x < C; ++x)
      for (int y = 0; y < C; ++y) row[x] += gram[s][static_cast<size_t>(x) * C + y] / C;
    for (int x = 0; x < C; ++x) all += row[x] / C;
    for (int x = 0; x < C; ++x)
      for (int y = 0; y < C; ++y) h[static_cast<size_t>(x) * C + y] = gram[s][static_cast<size_t>(x) * C + y] - row[x] - row[y] + all;
    return h;
  }
  double cka(int i, int j) const {
    const std::vector<double> a = centred(i), b = centred(j);
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      ab += a[k] * b[k];
      aa += a[k] * a[k];
      bb += b[k] * b[k];
    }
    return ab / std::sqrt(aa * bb);
  }
  double category_mean(int i, int j, const std::string& category) const {
    double sum = 0;
    int n = 0;
    for (int c = 0; c < C; ++c)
      if (categories[c] == category) sum += d(i, j, c), ++n;
    return sum / n;
  }
  // The N largest D_ijc, largest first, ties by index.
  std::vector<std::pair<int, double>> largest(int i, int j, int n) const {
    std::vector<std::pair<int, double>> all;
    for (int c = 0; c < C; ++c) all.emplace_back(c, d(i, j, c));
    std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    all.resize(std::min<size_t>(all.size(), n));
    return all;
  }
};

class StreamedCompareTest : public ::testing::Test {
 protected:
  Reference write(int m, int C, uint32_t seed = 7) {
    static const char* const kCategories[] = {"object", "part", "color", "scene"};
    catalog_ = std::make_unique<Catalog>(Catalog::open(dir_.file("streamed.db")));
    Reference ref;
    ref.m = m;
    ref.C = C;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<std::vector<std::vector<float>>> weights(m);  // [space][concept k][filter]
    for (int s = 0; s < m; ++s) {
      const int dim = 3 + s % 4;
      std::vector<ToyConcept> concepts;
      for (int k = 0; k < C; ++k) {
        std::vector<float> w(dim);
        for (float& x : w) x = normal(rng);
        if (s == 3) {  // space 1 reversed and doubled
          w.assign(weights[1][k].rbegin(), weights[1][k].rend());
          for (float& x : w) x *= 2;
        }
        weights[s].push_back(w);
        concepts.push_back({"r" + std::to_string(k), kCategories[k % 4], w});
      }
      ref.ids.push_back(test::write_toy_space(*catalog_, "n" + std::to_string(s), "l", concepts));
    }
    // compare sorts the shared names: "r0" < "r1" < "r10" < ...
    std::vector<int> order(C);
    for (int k = 0; k < C; ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [](int a, int b) { return "r" + std::to_string(a) < "r" + std::to_string(b); });
    for (int k : order) {
      ref.names.push_back("r" + std::to_string(k));
      ref.categories.push_back(kCategories[k % 4]);
    }
    for (int s = 0; s < m; ++s) {
      std::vector<std::vector<double>> unit;
      for (int k : order) {
        std::vector<double> u(weights[s][k].begin(), weights[s][k].end());
        double n = 0;
        for (double x : u) n += x * x;
        for (double& x : u) x /= std::sqrt(n);
        unit.push_back(u);
      }
      std::vector<double> g(static_cast<size_t>(C) * C);
      for (int x = 0; x < C; ++x)
        for (int y = 0; y < C; ++y) {
          double dot = 0;
          for (size_t t = 0; t < unit[x].size(); ++t) dot += unit[x][t] * unit[y][t];
          g[static_cast<size_t>(x) * C + y] = dot;
        }
      ref.gram.push_back(std::move(g));
    }
    engine_ = std::make_unique<QueryEngine>(*catalog_);
    return ref;
  }

  // Everything compare answers, against the reference; `n` = options.per_concept. Float Grams
  // to ~1e-5, double ones to their last digits.
  static void expect_matches(const SpaceComparison& c, const Reference& ref, int n) {
    const bool exact = c.stats.double_precision;
    const auto near = [exact](double x, double y) {
      return exact ? std::abs(x - y) <= 1e-13 + 1e-11 * std::abs(y) : std::abs(x - y) <= 1e-6 + 2e-5 * std::abs(y);
    };
    const double cka_tolerance = exact ? 1e-12 : 1e-5;
    ASSERT_EQ(c.concepts, ref.names);
    ASSERT_EQ(c.categories, ref.categories);
    ASSERT_EQ(c.pairs.size(), static_cast<size_t>(ref.m * (ref.m - 1) / 2));
    size_t p = 0;
    for (int i = 0; i < ref.m; ++i)
      for (int j = i + 1; j < ref.m; ++j, ++p) {
        SCOPED_TRACE("pair " + std::to_string(i) + ", " + std::to_string(j));
        const PairComparison& pair = c.pairs[p];
        ASSERT_EQ(pair.i, i);
        ASSERT_EQ(pair.j, j);
        const double distance = ref.distance(i, j);
        EXPECT_PRED2(near, pair.distance, distance);
        EXPECT_EQ(c.distance[static_cast<size_t>(i) * ref.m + j], pair.distance);
        EXPECT_EQ(c.distance[static_cast<size_t>(j) * ref.m + i], pair.distance);
        EXPECT_NEAR(pair.cka, ref.cka(i, j), cka_tolerance);
        EXPECT_EQ(c.cka[static_cast<size_t>(j) * ref.m + i], pair.cka);
        ASSERT_EQ(pair.categories.size(), 4u);
        for (const CategoryDistance& cd : pair.categories) {
          EXPECT_EQ(cd.concepts, static_cast<int>(std::count(ref.categories.begin(), ref.categories.end(), cd.category)));
          EXPECT_PRED2(near, cd.mean, ref.category_mean(i, j, cd.category)) << cd.category;
        }
        EXPECT_TRUE(std::is_sorted(pair.categories.begin(), pair.categories.end(),
                                   [](const auto& x, const auto& y) { return x.category < y.category; }));
        if (n < 0) {
          EXPECT_TRUE(pair.largest.empty());
          ASSERT_EQ(static_cast<int>(pair.per_concept.size()), ref.C);
          for (int k = 0; k < ref.C; ++k) EXPECT_PRED2(near, pair.per_concept[k], ref.d(i, j, k)) << ref.names[k];
          continue;
        }
        EXPECT_TRUE(pair.per_concept.empty());
        const auto expected = ref.largest(i, j, n);
        ASSERT_EQ(pair.largest.size(), expected.size());
        for (size_t k = 0; k < expected.size(); ++k) {
          EXPECT_PRED2(near, pair.largest[k].second, expected[k].second);
          if (distance > 1e-6) EXPECT_EQ(pair.largest[k].first, expected[k].first) << k;  // not the equal pair
          if (k > 0) EXPECT_GE(pair.largest[k - 1].second, pair.largest[k].second);
        }
      }
    for (int s = 0; s < ref.m; ++s) EXPECT_EQ(c.cka[static_cast<size_t>(s) * ref.m + s], 1.0);
  }

  test::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<QueryEngine> engine_;
};

TEST_F(StreamedCompareTest, InMemoryMatchesTheReference) {
  const Reference ref = write(7, 40);
  for (const ComparePrecision precision : {ComparePrecision::kFloat, ComparePrecision::kDouble}) {
    const bool in_double = precision == ComparePrecision::kDouble;
    SCOPED_TRACE(in_double ? "double" : "float");
    CompareOptions options;
    options.threads = 2;
    options.precision = precision;
    const SpaceComparison c = engine_->compare(ref.ids, {}, options);
    EXPECT_EQ(c.stats.double_precision, in_double);
    EXPECT_FALSE(c.stats.temp_file);
    EXPECT_EQ(c.stats.store_bytes, 7u * 40 * 40 * (in_double ? 8 : 4));
    EXPECT_EQ(c.stats.block, 3);  // at least two block pairs per thread: 3 blocks of 3, 3, 1 spaces
    EXPECT_EQ(c.stats.blocks, 3);
    EXPECT_EQ(c.stats.block_pairs, 6);
    EXPECT_GT(c.stats.rows_recomputed, 0);  // spaces 1 and 3: equal rows
    expect_matches(c, ref, -1);
    // Spaces 1 and 3 have the same Gram.
    EXPECT_NEAR(c.pair(1, 3).distance, 0.0, 1e-9);
    EXPECT_NEAR(c.pair(1, 3).cka, 1.0, 1e-6);
    // The two-argument form is the same comparison (every D_ijc, default budget: double here).
    const SpaceComparison plain = engine_->compare(ref.ids);
    EXPECT_TRUE(plain.stats.double_precision);
    EXPECT_EQ(plain.pairs[5].per_concept.size(), 40u);
    EXPECT_NEAR(plain.pairs[5].distance, c.pairs[5].distance, (in_double ? 1e-14 : 1e-6) * c.pairs[5].distance);
  }
}

TEST_F(StreamedCompareTest, TinyBudgetStreamsTheGramsThroughAFileInBlocksOfTwo) {
  // C = 12, m = 7, 3 largest kept, 2 threads. Fixed: m x C row means and row norms, 8 bytes
  // each = 1,344. Pass 1: one Gram (576) and the widest space's unit rows (12 x 5 floats,
  // 240) = 816. A block pair of b spaces: two panels and their packed copies (4 b 48) + P and
  // the accumulators (b^2 (4 + (2 + 4 categories) 8 + 3 x 12 + 8 for the heap's weakest)) =
  // 192 b + 96 b^2. The budget 2,880 = 1,344 + 2 x 768 gives b = 2 (b = 3 would need
  // 2 x 1,440); the store (4,032 bytes) does not fit: file.
  const Reference ref = write(7, 12, 11);
  CompareOptions options;
  options.precision = ComparePrecision::kFloat;  // the arithmetic above is float's
  options.threads = 2;
  options.per_concept = 3;
  options.memory_bytes = 2880;
  options.temp_dir = dir_.path();
  std::vector<std::pair<int64_t, int64_t>> seen;
  options.progress = [&](int64_t done, int64_t total) { seen.emplace_back(done, total); };
  const SpaceComparison c = engine_->compare(ref.ids, {}, options);
  EXPECT_TRUE(c.stats.temp_file);
  EXPECT_EQ(c.stats.block, 2);
  EXPECT_EQ(c.stats.blocks, 4);  // 2, 2, 2, 1 spaces
  EXPECT_EQ(c.stats.block_pairs, 10);
  EXPECT_LE(c.stats.working_bytes, options.memory_bytes);
  expect_matches(c, ref, 3);
  // Progress: one step per Gram, one per (block pair, row); ends at the total.
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().first, 7 + 10 * 12);
  EXPECT_EQ(seen.back().second, 7 + 10 * 12);
  for (size_t k = 1; k < seen.size(); ++k) EXPECT_LT(seen[k - 1].first, seen[k].first);
  // Nothing left in the folder: the file was unlinked at once.
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()) ||
              std::none_of(std::filesystem::directory_iterator(dir_.path()), std::filesystem::directory_iterator(),
                           [](const auto& e) { return e.path().filename().string().rfind("net2vec-compare", 0) == 0; }));

  // One byte less than the minimum (fixed + one Gram with its unit rows) is refused, naming it.
  options.memory_bytes = 2159;
  expect_error([&] { engine_->compare(ref.ids, {}, options); }, ErrorCode::kInvalidArgument,
               {"at least 2160 bytes"});
  options.memory_bytes = 2160;
  options.progress = nullptr;
  const SpaceComparison smallest = engine_->compare(ref.ids, {}, options);
  EXPECT_EQ(smallest.stats.block, 1);
  EXPECT_TRUE(smallest.stats.temp_file);
  expect_matches(smallest, ref, 3);
}

TEST_F(StreamedCompareTest, FileBlocksNotDividingTheSpacesMatchTheReference) {
  const Reference ref = write(10, 40, 3);
  for (const ComparePrecision precision : {ComparePrecision::kFloat, ComparePrecision::kDouble}) {
    const bool in_double = precision == ComparePrecision::kDouble;
    SCOPED_TRACE(in_double ? "double" : "float");
    CompareOptions options;
    options.precision = precision;
    options.threads = 3;
    options.memory_bytes = in_double ? 120000 : 60000;  // the store (64,000 or 128,000 bytes) does not fit
    options.temp_dir = dir_.path();
    const SpaceComparison c = engine_->compare(ref.ids, {}, options);
    EXPECT_EQ(c.stats.double_precision, in_double);
    EXPECT_TRUE(c.stats.temp_file);
    EXPECT_NE(ref.m % c.stats.block, 0) << c.stats.block;
    EXPECT_GT(c.stats.blocks, 2);
    expect_matches(c, ref, -1);
  }
}

// Where float Grams fall short: spaces whose concepts share one direction (cosines ~0.999), so
// that the centred Grams, hence CKA, are small remainders of entries near 1. kAuto is double
// up to kAutoDoubleEntries, float above.
TEST_F(StreamedCompareTest, DoubleGramsKeepSmallRemaindersThatFloatOnesLose) {
  catalog_ = std::make_unique<Catalog>(Catalog::open(dir_.file("offset.db")));
  std::mt19937 rng(5);
  std::normal_distribution<double> normal;
  const int C = 60, dim = 24;
  std::vector<std::vector<std::vector<double>>> rows(2);
  std::vector<std::string> ids;
  for (int s = 0; s < 2; ++s) {
    std::vector<ToyConcept> concepts;
    for (int k = 0; k < C; ++k) {
      std::vector<float> w(dim);
      for (float& x : w) x = static_cast<float>(1.0 + 0.05 * normal(rng));
      rows[s].emplace_back(w.begin(), w.end());
      char name[8];
      std::snprintf(name, sizeof name, "r%02d", k);  // sorted as written
      concepts.push_back({name, "object", w});
    }
    ids.push_back(test::write_toy_space(*catalog_, "offset" + std::to_string(s), "l", concepts));
  }
  engine_ = std::make_unique<QueryEngine>(*catalog_);
  // Linear CKA in double from its definition: centred Grams of the unit rows.
  std::vector<std::vector<double>> centred(2, std::vector<double>(static_cast<size_t>(C) * C));
  std::vector<double> mean_cosine(2);
  for (int s = 0; s < 2; ++s) {
    for (std::vector<double>& r : rows[s]) {
      double n = 0;
      for (double x : r) n += x * x;
      for (double& x : r) x /= std::sqrt(n);
    }
    std::vector<double> g(static_cast<size_t>(C) * C), mean(C, 0.0);
    double grand = 0;
    for (int a = 0; a < C; ++a)
      for (int b = 0; b < C; ++b) {
        double dot = 0;
        for (int t = 0; t < dim; ++t) dot += rows[s][a][t] * rows[s][b][t];
        g[static_cast<size_t>(a) * C + b] = dot;
        mean[a] += dot / C;
        grand += dot / (static_cast<double>(C) * C);
      }
    for (int a = 0; a < C; ++a)
      for (int b = 0; b < C; ++b)
        centred[s][static_cast<size_t>(a) * C + b] = g[static_cast<size_t>(a) * C + b] - mean[a] - mean[b] + grand;
    mean_cosine[s] = grand;
  }
  double kl = 0, kk = 0, ll = 0;
  for (size_t e = 0; e < centred[0].size(); ++e) {
    kl += centred[0][e] * centred[1][e];
    kk += centred[0][e] * centred[0][e];
    ll += centred[1][e] * centred[1][e];
  }
  const double cka = kl / std::sqrt(kk * ll);
  // Cosines near 1: the centred Grams are small remainders, what the test is about.
  ASSERT_GT(std::min(mean_cosine[0], mean_cosine[1]), 0.99);

  CompareOptions options;
  const SpaceComparison automatic = engine_->compare(ids, {}, options);
  EXPECT_TRUE(automatic.stats.double_precision);
  // Mean cosine 0.9987: <G_i, G_j> cancels to ~1e-6 of itself in the centring, so double's
  // 1e-16 shows as ~4e-9 of the CKA (the issue asks 1e-6); float's 6e-8 shows as ~1e-2.
  EXPECT_NEAR(automatic.pairs[0].cka, cka, 1e-7 * std::abs(cka));
  options.precision = ComparePrecision::kFloat;
  const SpaceComparison in_float = engine_->compare(ids, {}, options);
  EXPECT_FALSE(in_float.stats.double_precision);
  EXPECT_NEAR(in_float.pairs[0].cka, cka, 0.05 * std::abs(cka));  // near, far from its last digits
  EXPECT_GT(std::abs(in_float.pairs[0].cka - cka), 1e-5 * std::abs(cka));

  EXPECT_TRUE(compare_in_double(ComparePrecision::kAuto, 46, 1200));  // 66.2 M entries
  EXPECT_FALSE(compare_in_double(ComparePrecision::kAuto, 47, 1200));
  EXPECT_TRUE(compare_in_double(ComparePrecision::kDouble, 1000, 1200));
  EXPECT_FALSE(compare_in_double(ComparePrecision::kFloat, 2, 2));
}

TEST_F(StreamedCompareTest, LargestAreTheTopOfTheReference) {
  const Reference ref = write(5, 40, 5);
  CompareOptions options;
  for (int n : {0, 1, 5, 40, 100}) {
    SCOPED_TRACE("per_concept " + std::to_string(n));
    options.per_concept = n;
    const SpaceComparison c = engine_->compare(ref.ids, {}, options);
    expect_matches(c, ref, n);
    EXPECT_EQ(c.pairs[0].largest.size(), static_cast<size_t>(std::min(n, 40)));
  }
  // The same numbers whatever the threads (the block size kept).
  options.per_concept = 5;
  options.threads = 1;
  const SpaceComparison one = engine_->compare(ref.ids, {}, options);
  options.threads = 2;
  const SpaceComparison two = engine_->compare(ref.ids, {}, options);
  if (one.stats.block == two.stats.block)
    for (size_t p = 0; p < one.pairs.size(); ++p) {
      EXPECT_EQ(one.pairs[p].distance, two.pairs[p].distance);
      EXPECT_EQ(one.pairs[p].largest, two.pairs[p].largest);
    }
  options.per_concept = -2;
  EXPECT_THROW(engine_->compare(ref.ids, {}, options), Error);
}

// ---- the products' kernels (query/gemm.h) ----

// Restores gemm_path()'s own selection when a test that forced a path ends.
struct ForcedGemmPath {
  explicit ForcedGemmPath(GemmPath p) { set_gemm_path_for_testing(p); }
  ~ForcedGemmPath() { set_gemm_path_for_testing(std::nullopt); }
};

std::vector<GemmPath> supported_paths() {
  std::vector<GemmPath> out;
  for (GemmPath p : {GemmPath::kPortable, GemmPath::kAvx2, GemmPath::kAvx512})
    if (gemm_path_supported(p)) out.push_back(p);
  return out;
}

TEST(GemmPathTest, SelectionFollowsTheCpuAndNet2vecSimd) {
  using P = GemmPath;
  bool ok = false;
  // Unset, empty, "auto", "avx512": the widest the CPU has.
  for (const char* r : {static_cast<const char*>(nullptr), "", "auto", "avx512"}) {
    SCOPED_TRACE(r ? r : "(unset)");
    EXPECT_EQ(select_gemm_path(true, true, r, &ok), P::kAvx512);
    EXPECT_TRUE(ok);
    EXPECT_EQ(select_gemm_path(true, false, r), P::kAvx2);
    EXPECT_EQ(select_gemm_path(false, false, r), P::kPortable);  // no wide path: the portable one
    EXPECT_EQ(select_gemm_path(false, true, r), P::kPortable);   // AVX-512 is only used with AVX2+FMA
  }
  // Asking for a narrower path gets it; a wider one than the CPU has, the widest it has.
  EXPECT_EQ(select_gemm_path(true, true, "portable", &ok), P::kPortable);
  EXPECT_TRUE(ok);
  EXPECT_EQ(select_gemm_path(true, true, "avx2"), P::kAvx2);
  EXPECT_EQ(select_gemm_path(false, false, "avx2"), P::kPortable);
  EXPECT_EQ(select_gemm_path(true, false, "avx512"), P::kAvx2);
  // Anything else: reported as not understood, and treated as auto.
  EXPECT_EQ(select_gemm_path(true, true, "AVX-512 please", &ok), P::kAvx512);
  EXPECT_FALSE(ok);
  EXPECT_EQ(select_gemm_path(false, false, "sse9", &ok), P::kPortable);
  EXPECT_FALSE(ok);

  // This process: the rule applied to this CPU and its NET2VEC_SIMD; overridable by tests.
  const GemmPath own = gemm_path();
  EXPECT_EQ(own, select_gemm_path(gemm_path_supported(P::kAvx2), gemm_path_supported(P::kAvx512),
                                  std::getenv("NET2VEC_SIMD")));
  EXPECT_TRUE(gemm_path_supported(own));
  EXPECT_TRUE(gemm_path_supported(P::kPortable));
  {
    ForcedGemmPath forced(P::kPortable);
    EXPECT_EQ(gemm_path(), P::kPortable);
  }
  EXPECT_EQ(gemm_path(), own);
  std::printf("[ info ] this CPU: avx2-fma %d, avx512 %d; compare's kernel here: %s\n",
              gemm_path_supported(P::kAvx2), gemm_path_supported(P::kAvx512), gemm_path_name(own));
}

// Every supported path against the portable one and a double-precision reference, on the
// shapes compare multiplies: Grams (C x C over a space's width d, upper triangle) and block
// pairs (bi x bj over C concepts; diagonal blocks upper), plus edges (one row, k-blocks and
// column blocks with tails, row strides larger than k).
TEST(GemmPathTest, WidePathsEqualThePortableOneOnCompareShapes) {
  struct Shape {
    int m, n, k;
    bool upper, same;  // same: B is A (a Gram)
    int pad;           // extra floats per row of A, B and C
  };
  const std::vector<Shape> shapes = {
      {1, 1, 1, false, false, 0},       {3, 3, 3, true, true, 0},         {7, 5, 13, false, false, 3},
      {40, 40, 6, true, true, 0},       {13, 13, 40, true, true, 0},      {13, 7, 40, false, false, 1},
      {20, 20, 600, true, true, 5},     {100, 1030, 300, false, false, 0}, {1200, 1200, 96, true, true, 0},
      {1200, 1200, 515, true, true, 0}, {1200, 1200, 2048, true, true, 0}, {334, 334, 1200, true, true, 0},
      {334, 332, 1200, false, false, 0}};
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  const double u = std::ldexp(1.0, -24);  // float's unit roundoff
  for (const Shape& sh : shapes) {
    SCOPED_TRACE(std::to_string(sh.m) + " x " + std::to_string(sh.n) + " x " + std::to_string(sh.k) +
                 (sh.upper ? " upper" : "") + (sh.same ? " gram" : ""));
    const int lda = sh.k + sh.pad, ldc = sh.n + sh.pad;
    // Unit rows, as compare's (Gram inputs: unit weight rows; block pairs: Gram rows, norm < C).
    const auto rows = [&](int count) {
      std::vector<float> x(static_cast<size_t>(count) * lda, 0.0f);
      for (int i = 0; i < count; ++i) {
        double n2 = 0;
        for (int p = 0; p < sh.k; ++p) n2 += std::pow(x[static_cast<size_t>(i) * lda + p] = normal(rng), 2);
        for (int p = 0; p < sh.k; ++p) x[static_cast<size_t>(i) * lda + p] /= static_cast<float>(std::sqrt(n2));
      }
      return x;
    };
    const std::vector<float> a = rows(sh.m), b_own = sh.same ? std::vector<float>() : rows(sh.n);
    const float* b = sh.same ? a.data() : b_own.data();
    std::vector<std::vector<float>> out;
    for (GemmPath path : supported_paths()) {
      out.emplace_back(static_cast<size_t>(sh.m) * ldc, -7.0f);
      gemm_abt(path, a.data(), lda, b, lda, sh.m, sh.n, sh.k, out.back().data(), ldc, sh.upper);
      if (sh.upper) {  // the upper part equals the whole product's
        std::vector<float> full(static_cast<size_t>(sh.m) * ldc);
        gemm_abt(path, a.data(), lda, b, lda, sh.m, sh.n, sh.k, full.data(), ldc, false);
        for (int i = 0; i < sh.m; ++i)
          for (int j = i; j < sh.n; ++j)
            ASSERT_NEAR(out.back()[static_cast<size_t>(i) * ldc + j], full[static_cast<size_t>(i) * ldc + j], 1e-6)
                << gemm_path_name(path) << " " << i << ", " << j;
      }
    }
    // Against the double product (every entry for small shapes, a sample of 4,000 otherwise):
    // within the float bound k u sum_p |a_p b_p| (<= k u for unit rows).
    const int64_t entries = static_cast<int64_t>(sh.m) * sh.n;
    std::uniform_int_distribution<int64_t> pick(0, entries - 1);
    const int64_t checks = std::min<int64_t>(entries, 4000);
    for (int64_t t = 0; t < checks; ++t) {
      const int64_t e = checks == entries ? t : pick(rng);
      int i = static_cast<int>(e / sh.n), j = static_cast<int>(e % sh.n);
      if (sh.upper && j < i) std::swap(i, j);
      if (j >= sh.n) continue;
      double exact = 0, magnitude = 0;
      for (int p = 0; p < sh.k; ++p) {
        const double x = static_cast<double>(a[static_cast<size_t>(i) * lda + p]) * b[static_cast<size_t>(j) * lda + p];
        exact += x;
        magnitude += std::abs(x);
      }
      const double bound = sh.k * u * magnitude + 1e-30;
      for (size_t q = 0; q < out.size(); ++q)
        ASSERT_LE(std::abs(out[q][static_cast<size_t>(i) * ldc + j] - exact), bound)
            << gemm_path_name(supported_paths()[q]) << " at " << i << ", " << j;
    }
    // Dispatched against portable, every needed entry: within twice that bound's worst case.
    for (size_t q = 1; q < out.size(); ++q)
      for (int i = 0; i < sh.m; ++i)
        for (int j = sh.upper ? i : 0; j < sh.n; ++j)
          ASSERT_NEAR(out[q][static_cast<size_t>(i) * ldc + j], out[0][static_cast<size_t>(i) * ldc + j], 2 * sh.k * u)
              << gemm_path_name(supported_paths()[q]) << " at " << i << ", " << j;
    // Padding untouched.
    for (size_t q = 0; q < out.size(); ++q)
      for (int i = 0; i < sh.m; ++i)
        for (int j = sh.n; j < ldc; ++j) ASSERT_EQ(out[q][static_cast<size_t>(i) * ldc + j], -7.0f);
  }
}

// The AVX2 and AVX-512 kernels (and the narrow ones for at most 8 or 16 columns) sum every
// entry in the same order: equal to the bit, so a comparison's digits depend neither on which
// of the two paths the CPU has nor on the block sizes.
TEST(GemmPathTest, Avx2AndAvx512AreBitIdentical) {
  if (!gemm_path_supported(GemmPath::kAvx512)) GTEST_SKIP() << "this CPU has no AVX-512";
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (const auto& [m, n, k, upper] : std::vector<std::tuple<int, int, int, bool>>{
           {1200, 1200, 515, true}, {334, 334, 1200, true}, {334, 101, 1200, false}, {29, 45, 700, false},
           {8, 8, 500, true}, {30, 5, 600, false}, {16, 16, 300, true}, {40, 13, 257, false}}) {
    std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(n) * k);
    for (float& x : a) x = normal(rng);
    for (float& x : b) x = normal(rng);
    std::vector<float> c2(static_cast<size_t>(m) * n, 0.0f), c5(c2);
    gemm_abt(GemmPath::kAvx2, a.data(), k, upper ? a.data() : b.data(), k, m, n, k, c2.data(), n, upper);
    gemm_abt(GemmPath::kAvx512, a.data(), k, upper ? a.data() : b.data(), k, m, n, k, c5.data(), n, upper);
    for (int i = 0; i < m; ++i)
      for (int j = upper ? i : 0; j < n; ++j)
        ASSERT_EQ(c2[static_cast<size_t>(i) * n + j], c5[static_cast<size_t>(i) * n + j]) << m << "x" << n << "x" << k;
  }
}

// On a wide path, an entry does not depend on the shape it is computed in: the columns of a
// product computed in narrow slices (8, 16 and 40 columns: each kernel width) equal those of
// the whole product, to the bit.
TEST(GemmPathTest, WidePathEntriesDoNotDependOnTheShape) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  const int m = 50, n = 64, k = 700;
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(n) * k);
  for (float& x : a) x = normal(rng);
  for (float& x : b) x = normal(rng);
  for (GemmPath path : supported_paths()) {
    if (path == GemmPath::kPortable) continue;
    std::vector<float> whole(static_cast<size_t>(m) * n);
    gemm_abt(path, a.data(), k, b.data(), k, m, n, k, whole.data(), n);
    for (int width : {8, 16, 40}) {
      std::vector<float> part(static_cast<size_t>(m) * n);
      for (int j = 0; j < n; j += width)
        gemm_abt(path, a.data() + 3 * k, k, b.data() + static_cast<size_t>(j) * k, k, m - 3, std::min(width, n - j), k,
                 part.data() + 3 * n + j, n);
      for (int i = 3; i < m; ++i)
        for (int j = 0; j < n; ++j)
          ASSERT_EQ(part[static_cast<size_t>(i) * n + j], whole[static_cast<size_t>(i) * n + j])
              << gemm_path_name(path) << " width " << width << " at " << i << ", " << j;
    }
  }
}

// compare() on every supported path matches the double reference, and the paths agree.
TEST_F(StreamedCompareTest, EveryKernelPathMatchesTheReference) {
  const Reference ref = write(9, 40, 23);
  std::vector<SpaceComparison> all;
  for (GemmPath path : supported_paths()) {
    SCOPED_TRACE(gemm_path_name(path));
    ForcedGemmPath forced(path);
    CompareOptions options;
    options.precision = ComparePrecision::kFloat;  // the kernels are float's
    options.threads = 2;
    const SpaceComparison c = engine_->compare(ref.ids, {}, options);  // in memory, every D_ijc
    expect_matches(c, ref, -1);
    options.per_concept = 3;
    options.memory_bytes = 40000;  // the store (57,600 bytes) goes to a file, blocks of a few spaces
    options.temp_dir = dir_.path();
    const SpaceComparison f = engine_->compare(ref.ids, {}, options);
    EXPECT_TRUE(f.stats.temp_file);
    expect_matches(f, ref, 3);
    all.push_back(c);
  }
  for (size_t q = 1; q < all.size(); ++q)
    for (size_t p = 0; p < all[0].pairs.size(); ++p) {
      EXPECT_NEAR(all[q].pairs[p].distance, all[0].pairs[p].distance, 1e-6 * (1 + all[0].pairs[p].distance));
      EXPECT_NEAR(all[q].pairs[p].cka, all[0].pairs[p].cka, 1e-6);
    }
}

}  // namespace
}  // namespace n2v
