// src/index: net2vec's flat index and (where the build has FAISS) the FAISS flat index
// against the brute-force oracle (same ids, scores within 1e-5) on random data, through every
// search path (small-batch kernel, FAISS's own scalar and BLAS paths, bitmap selector,
// post-filtering); a hand-computed toy; errors; which backend the default is.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/error.h"
#include "index/vector_index.h"
#include "support/expect.h"

namespace n2v {
namespace {

std::vector<float> random_matrix(int64_t n, int d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(n) * d);
  for (float& v : x) v = normal(rng);
  return x;
}

using test::expect_error;

// One index of each kind this build has (and the FAISS one forced through its own search).
std::vector<std::unique_ptr<VectorIndex>> all_indexes(int d) {
  std::vector<std::unique_ptr<VectorIndex>> out;
  out.push_back(make_brute_force_index(d));
  out.push_back(make_flat_index(d));
  if (faiss_compiled()) {
    out.push_back(make_faiss_index(d));
    out.push_back(make_faiss_index(d, {.allow_gpu = false, .native_search = true}));
  }
  return out;
}

TEST(IdSelection, BitsAndCount) {
  IdSelection all(13);
  EXPECT_EQ(all.count(), 13);
  EXPECT_EQ(all.bitmap_bytes(), 2u);
  EXPECT_EQ(all.bitmap()[1], 0x1F);  // ids 8..12 only: no bit past size()
  EXPECT_FALSE(all.contains(13));
  EXPECT_FALSE(all.contains(-1));
  all.set(9, false);
  EXPECT_FALSE(all.contains(9));
  EXPECT_TRUE(all.contains(8));
  EXPECT_EQ(all.count(), 12);
  IdSelection none(5, false);
  EXPECT_EQ(none.count(), 0);
  none.set(4, true);
  EXPECT_TRUE(none.contains(4));
  expect_error([&] { none.set(5, true); }, ErrorCode::kInvalidArgument);
}

// Three vectors in 2-D, not unit length: the index normalises them.
//   id 0 = (2, 0)  -> (1, 0)
//   id 1 = (1, 1)  -> (0.70710678, 0.70710678)
//   id 2 = (0, -3) -> (0, -1)
// Query (5, 0) -> (1, 0): cosines 1, 1/sqrt(2) = 0.70710678, 0.
// Query (1, -1) -> (0.70710678, -0.70710678): cosines 0.70710678, 0, 0.70710678; the tie
// between ids 0 and 2 goes to the lower id.
TEST(VectorIndex, HandComputedToy) {
  const std::vector<float> x = {2, 0, 1, 1, 0, -3};
  for (auto& index : all_indexes(2)) {
    SCOPED_TRACE(index->name());
    index->add(3, 2, x.data());
    EXPECT_EQ(index->size(), 3);
    const std::vector<float> q = {5, 0, 1, -1};
    const SearchResult r = index->search(2, q.data(), 3);
    ASSERT_EQ(r.k, 3);
    EXPECT_EQ(r.ids, (std::vector<int64_t>{0, 1, 2, 0, 2, 1}));
    const std::vector<float> expected = {1.0f, 0.70710678f, 0.0f, 0.70710678f, 0.70710678f, 0.0f};
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(r.scores[i], expected[i], 1e-6) << i;

    // k larger than the index: clamped to its size.
    EXPECT_EQ(index->search(1, q.data(), 100).k, 3);

    // Only ids 1 and 2 allowed, k = 3: two hits, then padding.
    IdSelection allowed(3);
    allowed.set(0, false);
    const SearchResult f = index->search(1, q.data(), 3, &allowed);
    EXPECT_EQ(f.count(0), 2);
    EXPECT_EQ(f.ids, (std::vector<int64_t>{1, 2, -1}));
    EXPECT_TRUE(std::isinf(f.scores[2]) && f.scores[2] < 0);
  }
}

TEST(VectorIndex, Errors) {
  for (auto& index : all_indexes(3)) {
    SCOPED_TRACE(index->name());
    const std::vector<float> zero = {0, 0, 0}, nan = {1, NAN, 0}, ok = {1, 2, 3};
    expect_error([&] { index->add(1, 3, zero.data()); }, ErrorCode::kInvalidArgument);
    expect_error([&] { index->add(1, 3, nan.data()); }, ErrorCode::kInvalidArgument);
    expect_error([&] { index->add(1, 2, ok.data()); }, ErrorCode::kInvalidArgument);
    EXPECT_EQ(index->size(), 0);  // nothing half-added
    index->add(1, 3, ok.data());
    expect_error([&] { index->search(1, ok.data(), 0); }, ErrorCode::kInvalidArgument);
    expect_error([&] { index->search(1, zero.data(), 1); }, ErrorCode::kInvalidArgument);
    expect_error([&] { index->search(1, nan.data(), 1); }, ErrorCode::kInvalidArgument);
    IdSelection wrong(7);
    expect_error([&] { index->search(1, ok.data(), 1, &wrong); }, ErrorCode::kInvalidArgument);
  }
}

void expect_same(const SearchResult& a, const SearchResult& b) {
  ASSERT_EQ(a.nq, b.nq);
  ASSERT_EQ(a.k, b.k);
  for (size_t i = 0; i < a.ids.size(); ++i) {
    EXPECT_EQ(a.ids[i], b.ids[i]) << "entry " << i;
    if (a.ids[i] >= 0) EXPECT_NEAR(a.scores[i], b.scores[i], 1e-5) << "entry " << i;
  }
}

struct Path {
  const char* name;
  FaissIndexOptions options;
};

// d = 61 is no multiple of any SIMD width: the kernels' tails are exercised.
TEST(VectorIndex, FaissMatchesBruteForceOnRandomData) {
  if (!faiss_compiled()) GTEST_SKIP() << "this build has no FAISS (NET2VEC_WITH_FAISS=OFF)";
  const int n = 700, d = 61, k = 10;
  const std::vector<float> x = random_matrix(n, d, 1);
  auto oracle = make_brute_force_index(d);
  oracle->add(n, d, x.data());
  // Every 3rd id excluded, and a small category-like subset.
  IdSelection most(n), few(n, false);
  for (int64_t id = 0; id < n; id += 3) most.set(id, false);
  for (int64_t id = 5; id < n; id += 97) few.set(id, true);

  const Path paths[] = {
      {"kernel (default)", {.allow_gpu = false}},
      {"faiss native, post-filter", {.allow_gpu = false, .native_search = true, .post_filter = true}},
      {"faiss native, bitmap selector", {.allow_gpu = false, .native_search = true, .post_filter = false}},
  };
  for (const Path& path : paths) {
    auto index = make_faiss_index(d, path.options);
    index->add(n, d, x.data());
    for (int nq : {1, 7, 50}) {  // 50 >= FAISS's BLAS threshold (20): GEMM path
      SCOPED_TRACE(std::string(path.name) + ", nq " + std::to_string(nq));
      const std::vector<float> q = random_matrix(nq, d, 100 + nq);
      expect_same(index->search(nq, q.data(), k), oracle->search(nq, q.data(), k));
      expect_same(index->search(nq, q.data(), k, &most), oracle->search(nq, q.data(), k, &most));
      const SearchResult f = index->search(nq, q.data(), k, &few);
      expect_same(f, oracle->search(nq, q.data(), k, &few));
      EXPECT_EQ(f.count(0), static_cast<int>(few.count()));  // 8 allowed < k
      for (int64_t id : f.ids)
        if (id >= 0) EXPECT_TRUE(few.contains(id));
    }
  }
}

// The flat index on the same data, through batches below, at and above its query block (64),
// with and without an id selection; nq 0 gives an empty result.
TEST(VectorIndex, FlatMatchesBruteForceOnRandomData) {
  const int n = 700, d = 61, k = 10;
  const std::vector<float> x = random_matrix(n, d, 1);
  auto oracle = make_brute_force_index(d), flat = make_flat_index(d);
  oracle->add(n, d, x.data());
  flat->add(n, d, x.data());
  EXPECT_EQ(flat->name(), "flat-ip");
  IdSelection few(n, false);
  for (int64_t id = 5; id < n; id += 97) few.set(id, true);
  for (int nq : {1, 7, 64, 150}) {
    SCOPED_TRACE("nq " + std::to_string(nq));
    const std::vector<float> q = random_matrix(nq, d, 100 + nq);
    expect_same(flat->search(nq, q.data(), k), oracle->search(nq, q.data(), k));
    expect_same(flat->search(nq, q.data(), k, &few), oracle->search(nq, q.data(), k, &few));
  }
  EXPECT_EQ(flat->search(0, nullptr, k).ids.size(), 0u);
}

// Adding in several batches gives consecutive ids, as one batch would.
TEST(VectorIndex, IncrementalAdd) {
  const int d = 16;
  const std::vector<float> x = random_matrix(30, d, 3);
  auto b = make_brute_force_index(d);
  b->add(30, d, x.data());
  const std::vector<float> q = random_matrix(3, d, 4);
  for (auto& a : all_indexes(d)) {
    SCOPED_TRACE(a->name());
    a->add(10, d, x.data());
    a->add(20, d, x.data() + 10 * d);
    expect_same(a->search(3, q.data(), 30), b->search(3, q.data(), 30));
  }
}

// Both kernels (AVX2+FMA where the CPU has it, and SSE2) against double-precision loops.
TEST(InnerProducts, MatchesDoubleLoops) {
  for (bool sse2 : {false, true}) {
    force_sse2_kernel_for_testing(sse2);
    SCOPED_TRACE(inner_products_kernel());
    for (int d : {1, 3, 8, 15, 16, 31, 33, 64, 100}) {
      for (int m : {1, 2, 3, 4, 5, 9}) {
        const int n = 13;
        const std::vector<float> x = random_matrix(n, d, d), q = random_matrix(m, d, 1000 + m);
        std::vector<float> out(static_cast<size_t>(m) * n);
        inner_products(x.data(), n, d, q.data(), m, out.data());
        for (int j = 0; j < m; ++j)
          for (int i = 0; i < n; ++i) {
            double dot = 0;
            for (int t = 0; t < d; ++t) dot += static_cast<double>(x[i * d + t]) * q[j * d + t];
            EXPECT_NEAR(out[static_cast<size_t>(j) * n + i], dot, 1e-4 * (1 + std::fabs(dot)))
                << "d " << d << " m " << m << " i " << i << " j " << j;
          }
      }
    }
  }
  force_sse2_kernel_for_testing(false);
  std::printf("inner_products kernel on this CPU: %s\n", inner_products_kernel());
}

TEST(SquaredDistanceAndDot, MatchesDoubleLoops) {
  for (bool sse2 : {false, true}) {
    force_sse2_kernel_for_testing(sse2);
    SCOPED_TRACE(inner_products_kernel());
    for (int n : {0, 1, 7, 8, 15, 16, 17, 500}) {
      const std::vector<float> x = random_matrix(1, n, 5 + n), y = random_matrix(1, n, 50 + n);
      double sq = -1, dot = -1, want_sq = 0, want_dot = 0;
      for (int i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - y[i];
        want_sq += d * d;
        want_dot += static_cast<double>(x[i]) * y[i];
      }
      squared_distance_and_dot(x.data(), y.data(), n, &sq, &dot);
      EXPECT_NEAR(sq, want_sq, 1e-5 * (1 + want_sq)) << n;
      EXPECT_NEAR(dot, want_dot, 1e-5 * (1 + std::fabs(want_dot)) + 1e-5 * std::sqrt(n)) << n;
    }
  }
  force_sse2_kernel_for_testing(false);
}

// Debian's FAISS has no GPU: the build must say so, and never pick a GPU index.
TEST(VectorIndex, GpuDetection) {
  std::printf("FAISS compiled in: %s, its GPU support: %s, device available: %s\n",
              faiss_compiled() ? "yes" : "no", faiss_gpu_support_compiled() ? "yes" : "no",
              faiss_gpu_available() ? "yes" : "no");
  if (!faiss_gpu_support_compiled()) EXPECT_FALSE(faiss_gpu_available());
  if (!faiss_compiled()) {
    EXPECT_FALSE(faiss_gpu_support_compiled());
    expect_error([] { make_faiss_index(4); }, ErrorCode::kUnsupported);
    EXPECT_EQ(make_default_index(4)->name(), "flat-ip");
    return;
  }
  // The index make_faiss_index picks says which path it took; it is the default.
  EXPECT_EQ(make_faiss_index(4)->name(), faiss_gpu_available() ? "faiss-gpu-flat-ip" : "faiss-flat-ip");
  EXPECT_EQ(make_default_index(4)->name(), make_faiss_index(4)->name());
}

}  // namespace
}  // namespace n2v
