// compare(): D_ij, per-concept D_ijc, category means and linear CKA on hand-made spaces.

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "query/query.h"
#include "support/temp_dir.h"
#include "toy_spaces.h"

namespace n2v {
namespace {

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
  EXPECT_EQ(c.excluded, std::vector<std::string>{"void (p.l.seg)"});
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
  EXPECT_TRUE(c.excluded.empty());
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
  const auto code = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::make_pair(e.code(), e.message());
    }
    ADD_FAILURE() << "no error";
    return std::make_pair(ErrorCode::kInternal, std::string());
  };
  auto [c1, m1] = code([&] { engine_->compare({p_}); });
  EXPECT_EQ(c1, ErrorCode::kInvalidArgument);
  auto [c2, m2] = code([&] { engine_->compare({p_, p_}); });
  EXPECT_EQ(c2, ErrorCode::kInvalidArgument);
  auto [c3, m3] = code([&] { engine_->compare({p_, "q.l.sg"}); });
  EXPECT_EQ(c3, ErrorCode::kNotFound);
  EXPECT_NE(m3.find("'q.l.seg'"), std::string::npos) << m3;
  // d is in P and R but not Q.
  auto [c4, m4] = code([&] { engine_->compare({p_, q_}, {"a", "d"}); });
  EXPECT_EQ(c4, ErrorCode::kNotFound);
  EXPECT_NE(m4.find("not in space 'q.l.seg'"), std::string::npos) << m4;
  auto [c5, m5] = code([&] { engine_->compare({p_, q_}, {"bb"}); });
  EXPECT_EQ(c5, ErrorCode::kNotFound);
  EXPECT_NE(m5.find("did you mean"), std::string::npos) << m5;
  // One shared concept is not enough; none at all says so.
  auto [c6, m6] = code([&] { engine_->compare({p_, q_}, {"a"}); });
  EXPECT_EQ(c6, ErrorCode::kInvalidArgument);
  EXPECT_NE(m6.find("only one concept"), std::string::npos) << m6;
  test::write_toy_space(*catalog_, "s", "l", {{"x", "object", {1, 0}}, {"y", "object", {0, 1}}});
  auto [c7, m7] = code([&] { engine_->compare({p_, "s.l.seg"}); });
  EXPECT_EQ(c7, ErrorCode::kInvalidArgument);
  EXPECT_NE(m7.find("no concept is shared"), std::string::npos) << m7;
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

}  // namespace
}  // namespace n2v
