// gemm_abt() (query/gemm.h): C = A B^T for compare, with runtime dispatch between an AVX-512F
// and an AVX2+FMA micro-kernel and Eigen's portable GEMM. The build targets baseline x86-64;
// the wide functions carry target attributes and run only where __builtin_cpu_supports says
// the CPU (and the OS, which must save the wide registers) has them, as src/index/kernels.cpp
// does for inner_products().
//
// Layout (BLIS-like, no copy of C): for each column block of NC rows of B and each k-block of
// kKc: B's rows are packed transposed into panels of NR columns (kc x NR floats each, 8 x 8
// AVX transposes); for each row block of MC rows of A, A's rows are copied with row stride kKc
// (so the micro-kernel addresses them with constant offsets); then each MR x NR tile of C is
// one micro-kernel call: MR x NR/width vector accumulators, a[i][p] broadcast times the packed
// B row p, FMA, p = 0 .. kc-1, then stored (first k-block) or added to C. Every C[i][j] is thus
// one lane's sequential FMA chain per k-block whatever MR and NR are, which is why the AVX2 and
// AVX-512 paths agree bit for bit.

#include "query/gemm.h"

#include <Eigen/Dense>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace n2v {
namespace {

constexpr int kKc = 256;   // k-block: shared by both wide paths (their results depend on it)
constexpr int kNc = 1024;  // rows of B packed at once

// ---- packing (AVX2; the AVX-512 path runs it too) ----

// dst[q * ldd + r] = src[r * lds + q] for r, q < 8.
__attribute__((target("avx2,fma"))) inline void transpose8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  const __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
               r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds),
               r5 = _mm256_loadu_ps(src + 5 * lds), r6 = _mm256_loadu_ps(src + 6 * lds),
               r7 = _mm256_loadu_ps(src + 7 * lds);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_store_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_store_ps(dst + ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_store_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_store_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_store_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_store_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_store_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_store_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// Rows 0 .. nc-1 of b (kc floats each) as panels of NR columns: panel t at bp + t * kc * NR,
// its row p = b[t * NR + 0 .. NR-1][p]; columns past nc are zero. bp: 32-byte aligned.
template <int NR>
__attribute__((target("avx2,fma"))) void pack_b(const float* b, int64_t ldb, int nc, int kc, float* bp) {
  for (int j = 0; j < nc; j += NR) {
    float* panel = bp + static_cast<int64_t>(j / NR) * kc * NR;
    for (int jj = 0; jj < NR; jj += 8) {
      const int rows = std::min(8, nc - j - jj);
      const float* src = b + static_cast<int64_t>(j + jj) * ldb;
      float* dst = panel + jj;
      int p = 0;
      if (rows <= 0) {  // padding columns of the last panel
        for (; p < kc; ++p) _mm256_store_ps(dst + static_cast<int64_t>(p) * NR, _mm256_setzero_ps());
        continue;
      }
      if (rows == 8)
        for (; p + 8 <= kc; p += 8) transpose8(src + p, ldb, dst + static_cast<int64_t>(p) * NR, NR);
      for (; p < kc; ++p)
        for (int r = 0; r < 8; ++r) dst[static_cast<int64_t>(p) * NR + r] = r < rows ? src[r * ldb + p] : 0.0f;
    }
  }
}

// Rows 0 .. mc-1 of a, kc floats each, at ap + r * kKc.
void pack_a(const float* a, int64_t lda, int mc, int kc, float* ap) {
  for (int r = 0; r < mc; ++r) std::memcpy(ap + static_cast<int64_t>(r) * kKc, a + r * lda, sizeof(float) * kc);
}

// ---- micro-kernels: C[0..R)[0..cols) (=|+=) sum_p ap[r * kKc + p] * bp[p * NR + j] ----

template <int R>
__attribute__((target("avx2,fma"))) void micro_avx2(int kc, const float* ap, const float* bp, float* c, int64_t ldc,
                                                  int cols, bool add) {
  __m256 x0[R], x1[R];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) x0[r] = x1[r] = _mm256_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
    bp += 16;
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(ap + r * kKc + p);
      x0[r] = _mm256_fmadd_ps(av, b0, x0[r]);
      x1[r] = _mm256_fmadd_ps(av, b1, x1[r]);
    }
  }
  if (cols == 16) {
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      float* cr = c + r * ldc;
      if (add) {
        x0[r] = _mm256_add_ps(_mm256_loadu_ps(cr), x0[r]);
        x1[r] = _mm256_add_ps(_mm256_loadu_ps(cr + 8), x1[r]);
      }
      _mm256_storeu_ps(cr, x0[r]);
      _mm256_storeu_ps(cr + 8, x1[r]);
    }
    return;
  }
  alignas(32) float t[16];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    _mm256_store_ps(t, x0[r]);
    _mm256_store_ps(t + 8, x1[r]);
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; ++j) cr[j] = add ? cr[j] + t[j] : t[j];
  }
}

// The same with one vector a row (NR = 8): for products with at most 8 columns (compare's
// block pairs of a few spaces), where 16 or 32 would be mostly padding.
template <int R>
__attribute__((target("avx2,fma"))) void micro_avx2_narrow(int kc, const float* ap, const float* bp, float* c,
                                                         int64_t ldc, int cols, bool add) {
  __m256 x[R];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) x[r] = _mm256_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp);
    bp += 8;
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) x[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + r * kKc + p), b0, x[r]);
  }
  alignas(32) float t[8];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
    if (cols == 8) {
      _mm256_storeu_ps(cr, add ? _mm256_add_ps(_mm256_loadu_ps(cr), x[r]) : x[r]);
      continue;
    }
    _mm256_store_ps(t, x[r]);
    for (int j = 0; j < cols; ++j) cr[j] = add ? cr[j] + t[j] : t[j];
  }
}

template <int R>
__attribute__((target("avx512f,avx2,fma"))) void micro_avx512(int kc, const float* ap, const float* bp, float* c,
                                                            int64_t ldc, int cols, bool add) {
  __m512 x0[R], x1[R];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) x0[r] = x1[r] = _mm512_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
    bp += 32;
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r * kKc + p]);
      x0[r] = _mm512_fmadd_ps(av, b0, x0[r]);
      x1[r] = _mm512_fmadd_ps(av, b1, x1[r]);
    }
  }
  if (cols == 32) {
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      float* cr = c + r * ldc;
      if (add) {
        x0[r] = _mm512_add_ps(_mm512_loadu_ps(cr), x0[r]);
        x1[r] = _mm512_add_ps(_mm512_loadu_ps(cr + 16), x1[r]);
      }
      _mm512_storeu_ps(cr, x0[r]);
      _mm512_storeu_ps(cr + 16, x1[r]);
    }
    return;
  }
  alignas(64) float t[32];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    _mm512_store_ps(t, x0[r]);
    _mm512_store_ps(t + 16, x1[r]);
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; ++j) cr[j] = add ? cr[j] + t[j] : t[j];
  }
}

using Micro = void (*)(int, const float*, const float*, float*, int64_t, int, bool);

template <int... R>
constexpr std::array<Micro, sizeof...(R) + 1> avx2_table(std::integer_sequence<int, R...>) {
  return {nullptr, &micro_avx2<R + 1>...};
}
template <int... R>
constexpr std::array<Micro, sizeof...(R) + 1> narrow_table(std::integer_sequence<int, R...>) {
  return {nullptr, &micro_avx2_narrow<R + 1>...};
}
template <int... R>
constexpr std::array<Micro, sizeof...(R) + 1> avx512_table(std::integer_sequence<int, R...>) {
  return {nullptr, &micro_avx512<R + 1>...};
}

struct Avx2 {
  static constexpr int MR = 6, NR = 16, MC = 16 * MR;
  static Micro micro(int rows) {
    static constexpr auto table = avx2_table(std::make_integer_sequence<int, MR>{});
    return table[rows];
  }
};
struct Avx2Narrow {
  static constexpr int MR = 12, NR = 8, MC = 8 * MR;
  static Micro micro(int rows) {
    static constexpr auto table = narrow_table(std::make_integer_sequence<int, MR>{});
    return table[rows];
  }
};
struct Avx512 {
  static constexpr int MR = 14, NR = 32, MC = 8 * MR;
  static Micro micro(int rows) {
    static constexpr auto table = avx512_table(std::make_integer_sequence<int, MR>{});
    return table[rows];
  }
};

// Per-thread packing buffers, 64-byte aligned, grown as needed.
struct Buffer {
  float* data = nullptr;
  size_t size = 0;
  float* get(size_t n) {
    if (n <= size) return data;
    std::free(data);
    size = (n + 15) / 16 * 16;
    data = static_cast<float*>(std::aligned_alloc(64, size * sizeof(float)));
    if (!data) throw std::bad_alloc();
    return data;
  }
  ~Buffer() { std::free(data); }
};
thread_local Buffer packed_a, packed_b;

template <class K>
void gemm_wide(const float* a, int64_t lda, const float* b, int64_t ldb, int m, int n, int k, float* c, int64_t ldc,
               bool upper) {
  constexpr int MR = K::MR, NR = K::NR, MC = K::MC;
  const int nc_max = std::min(kNc, (n + NR - 1) / NR * NR);
  float* bp = packed_b.get(static_cast<size_t>(nc_max) * kKc);
  float* ap = packed_a.get(static_cast<size_t>(MC) * kKc);
  for (int j0 = 0; j0 < n; j0 += kNc) {
    const int nc = std::min(kNc, n - j0);
    for (int p0 = 0; p0 < k; p0 += kKc) {
      const int kc = std::min(kKc, k - p0);
      pack_b<NR>(b + j0 * ldb + p0, ldb, nc, kc, bp);
      for (int i0 = 0; i0 < m; i0 += MC) {
        if (upper && i0 > j0 + nc - 1) break;  // every row below every column of this block
        const int mc = std::min(MC, m - i0);
        pack_a(a + i0 * lda + p0, lda, mc, kc, ap);
        for (int jr = 0; jr < nc; jr += NR) {
          const int cols = std::min(NR, nc - jr);
          const float* panel = bp + static_cast<int64_t>(jr / NR) * kc * NR;
          for (int ir = 0; ir < mc; ir += MR) {
            if (upper && i0 + ir > j0 + jr + cols - 1) break;  // this tile and those below it
            const int rows = std::min(MR, mc - ir);
            K::micro(rows)(kc, ap + static_cast<int64_t>(ir) * kKc, panel, c + (i0 + ir) * ldc + j0 + jr, ldc, cols,
                           p0 > 0);
          }
        }
      }
    }
  }
}

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void gemm_portable(const float* a, int lda, const float* b, int ldb, int m, int n, int k, float* c, int ldc,
                   bool upper) {
  using Stride = Eigen::OuterStride<>;
  const Eigen::Map<const RowMatrix, 0, Stride> A(a, m, k, Stride(lda)), B(b, n, k, Stride(ldb));
  Eigen::Map<RowMatrix, 0, Stride> C(c, m, n, Stride(ldc));
  if (upper) C.triangularView<Eigen::Upper>() = A * B.transpose();
  else C.noalias() = A * B.transpose();
}

bool cpu_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
// GCC's __builtin_cpu_supports("avx512f") also checks that the OS saves the zmm state (XCR0).
bool cpu_avx512() {
  static const bool has = cpu_avx2_fma() && __builtin_cpu_supports("avx512f");
  return has;
}

// -1: no override; else a GemmPath.
std::atomic<int> override_path{-1};

GemmPath selected_path() {
  static const GemmPath path = [] {
    const char* request = std::getenv("NET2VEC_SIMD");
    bool understood = true;
    const GemmPath p = select_gemm_path(cpu_avx2_fma(), cpu_avx512(), request, &understood);
    if (!understood)
      std::fprintf(stderr,
                   "net2vec: NET2VEC_SIMD='%s' is not one of auto, portable, avx2, avx512; using %s\n", request,
                   gemm_path_name(p));
    return p;
  }();
  return path;
}

}  // namespace

const char* gemm_path_name(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512: return "avx512";
    case GemmPath::kAvx2: return "avx2-fma";
    default: return "portable";
  }
}

bool gemm_path_supported(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512: return cpu_avx512();
    case GemmPath::kAvx2: return cpu_avx2_fma();
    default: return true;
  }
}

GemmPath select_gemm_path(bool avx2_fma, bool avx512, const char* request, bool* understood) {
  const std::string r = request ? request : "";
  GemmPath wanted = GemmPath::kAvx512;  // auto: the widest
  bool ok = true;
  if (r == "portable") wanted = GemmPath::kPortable;
  else if (r == "avx2") wanted = GemmPath::kAvx2;
  else if (!(r.empty() || r == "auto" || r == "avx512")) ok = false;
  if (understood) *understood = ok;
  if (wanted == GemmPath::kAvx512 && avx512 && avx2_fma) return GemmPath::kAvx512;
  if (wanted != GemmPath::kPortable && avx2_fma) return GemmPath::kAvx2;
  return GemmPath::kPortable;
}

GemmPath gemm_path() {
  const int forced = override_path.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<GemmPath>(forced) : selected_path();
}

void set_gemm_path_for_testing(std::optional<GemmPath> path) {
  override_path.store(path ? static_cast<int>(*path) : -1, std::memory_order_relaxed);
}

void gemm_abt(GemmPath path, const float* a, int lda, const float* b, int ldb, int m, int n, int k, float* c, int ldc,
              bool upper) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; ++i) std::fill_n(c + static_cast<int64_t>(i) * ldc, n, 0.0f);
    return;
  }
  if (path == GemmPath::kAvx512 && !cpu_avx512()) path = GemmPath::kAvx2;
  if (path == GemmPath::kAvx2 && !cpu_avx2_fma()) path = GemmPath::kPortable;
  if (path == GemmPath::kPortable) return gemm_portable(a, lda, b, ldb, m, n, k, c, ldc, upper);
  // The tile's width by the number of columns (every kernel sums each entry the same way, so
  // this choice, like the path's, does not change a bit of the result).
  if (n <= 8) gemm_wide<Avx2Narrow>(a, lda, b, ldb, m, n, k, c, ldc, upper);
  else if (path == GemmPath::kAvx512 && n > 16) gemm_wide<Avx512>(a, lda, b, ldb, m, n, k, c, ldc, upper);
  else gemm_wide<Avx2>(a, lda, b, ldb, m, n, k, c, ldc, upper);
}

__attribute__((target("avx2,fma"))) void row_sums_avx2(const float* g, int rows, int cols, double* sum,
                                                     double* sum_squares) {
  for (int r = 0; r < rows; ++r) {
    const float* x = g + static_cast<int64_t>(r) * cols;
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
    int b = 0;
    for (; b + 8 <= cols; b += 8) {
      const __m256 v = _mm256_loadu_ps(x + b);
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
      s0 = _mm256_add_pd(s0, lo);
      s1 = _mm256_add_pd(s1, hi);
      q0 = _mm256_fmadd_pd(lo, lo, q0);  // float x float is exact in double: as q0 + lo * lo
      q1 = _mm256_fmadd_pd(hi, hi, q1);
    }
    alignas(32) double ts[4], tq[4];
    _mm256_store_pd(ts, _mm256_add_pd(s0, s1));
    _mm256_store_pd(tq, _mm256_add_pd(q0, q1));
    double s = ts[0] + ts[1] + ts[2] + ts[3], q = tq[0] + tq[1] + tq[2] + tq[3];
    for (; b < cols; ++b) {
      const double v = x[b];
      s += v;
      q += v * v;
    }
    sum[r] = s;
    sum_squares[r] = q;
  }
}

}  // namespace n2v
