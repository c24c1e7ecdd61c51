#pragma once
// gemm_abt(): the float matrix product behind compare (query/compare.cpp), C = A B^T with
// both operands row-major (rows of length k), chosen at run time by what the CPU has, so that
// one binary built for baseline x86-64 (-O2, no -march) still uses the wide instructions:
//
//   kAvx512    AVX-512F micro-kernel, 14 x 32 tile (28 zmm accumulators); products of at
//              most 16 columns take the AVX2 kernels below (less padding)
//   kAvx2      AVX2+FMA micro-kernel, 6 x 16 tile (12 ymm accumulators); at most 8 columns:
//              12 x 8 (12 ymm)
//   kPortable  Eigen's GEMM as the build compiles it (SSE2 on baseline x86-64)
//
// The wide kernels are the same algorithm: B packed in panels of k-blocks of kKc = 256, and
// every C[i][j] is one lane accumulating a[i][p] * b[j][p] with FMA in increasing p within a
// k-block, each k-block's sum then added to C in block order. So the two wide paths give
// bit-identical results, whatever the tile sizes and shapes; the portable path sums in Eigen's
// order and differs from them by float rounding only.
//
// Selection: the environment variable NET2VEC_SIMD, read once per process: unset, "" or
// "auto" the widest path the CPU (and OS) supports; "portable", "avx2" or "avx512" that path,
// or the widest supported one below it when the CPU lacks it. Any other value is reported on
// stderr once and treated as "auto".

#include <optional>

namespace n2v {

enum class GemmPath { kPortable, kAvx2, kAvx512 };

// "portable", "avx2-fma", "avx512".
const char* gemm_path_name(GemmPath path);

// Whether this CPU (and OS) can run `path` (kPortable: always).
bool gemm_path_supported(GemmPath path);

// The selection rule above, as a pure function: `avx2_fma`, `avx512` what the CPU has,
// `request` NET2VEC_SIMD's value (nullptr: unset). `understood`, if given, is set to whether
// `request` was one of the accepted values.
GemmPath select_gemm_path(bool avx2_fma, bool avx512, const char* request, bool* understood = nullptr);

// The path this process uses: select_gemm_path() on this CPU and NET2VEC_SIMD (read at the
// first call), unless a test has overridden it.
GemmPath gemm_path();

// Tests: make gemm_path() return `path` (process-wide); nullopt restores the selection.
void set_gemm_path_for_testing(std::optional<GemmPath> path);

// C = A B^T. A: m x k floats, row i at a + i * lda; B: n x k, row j at b + j * ldb; C: m x n,
// row i at c + i * ldc (overwritten). upper: only the C[i][j] with j >= i are needed (what a
// Gram's upper triangle or a diagonal block pair needs); whole tiles below the diagonal are
// then skipped and their entries left as they were. `path` must be supported (a path that is
// not runs the widest supported below it). Thread-safe: each thread packs into buffers of its
// own (at most kKc x 1,024 + 112 x kKc floats, ~1.1 MiB, kept for the thread's lifetime).
void gemm_abt(GemmPath path, const float* a, int lda, const float* b, int ldb, int m, int n, int k, float* c, int ldc,
              bool upper = false);

// Row statistics of a C x C Gram for compare (query/compare.cpp) on the wide paths: per row
// the sum and the sum of squares, in double (AVX2, 4 double lanes per quantity, then summed in
// lane order), identical on both wide paths. Only call where gemm_path_supported(kAvx2).
void row_sums_avx2(const float* g, int rows, int cols, double* sum, double* sum_squares);

}  // namespace n2v
