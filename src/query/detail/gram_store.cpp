#include "query/detail/gram_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/temp_file.h"

namespace n2v::detail {
namespace {

// The lower triangle of a C x C matrix from its upper one, in 32 x 32 tiles (the column reads
// of a whole-row loop would miss the cache at every step).
template <class T>
void mirror_upper(T* g, int C) {
  constexpr int kTile = 32;
  for (int i0 = 0; i0 < C; i0 += kTile)
    for (int j0 = 0; j0 <= i0; j0 += kTile)
      for (int i = i0; i < std::min(i0 + kTile, C); ++i)
        for (int j = j0; j < std::min(j0 + kTile, i); ++j)
          g[static_cast<size_t>(i) * C + j] = g[static_cast<size_t>(j) * C + i];
}

// <HGH, HGH>_F from the summary's ||G||_F^2, row means and grand mean.
double centred_self_hsic(const GramSummary& s, int C) {
  return std::max(0.0, s.frob2 - 2.0 * C * s.row_mean.squaredNorm() + static_cast<double>(C) * C * s.grand_mean * s.grand_mean);
}

}  // namespace

// ---- One space's Gram ----

GramSummary space_gram(const SpaceData& s, const std::vector<int>& rows, GemmPath path, std::vector<float>& u, float* g) {
  const int C = static_cast<int>(rows.size()), d = s.d;
  u.resize(static_cast<size_t>(C) * d);
  for (int c = 0; c < C; ++c)
    std::copy_n(s.unit.begin() + static_cast<std::ptrdiff_t>(rows[c]) * d, d, u.begin() + static_cast<std::ptrdiff_t>(c) * d);
  GramSummary out;
  out.row_norm2.resize(C);
  if (path != GemmPath::kPortable) {
    // The upper triangle as one product (query/gemm.h), mirrored; the row statistics in one
    // pass (double lanes).
    gemm_abt(path, u.data(), d, u.data(), d, C, C, d, g, C, /*upper=*/true);
    mirror_upper(g, C);
    std::vector<double> sum(C);
    row_sums_avx2(g, C, C, sum.data(), out.row_norm2.data());
    out.row_mean.resize(C);
    for (int c = 0; c < C; ++c) {
      out.row_mean[c] = sum[c] / C;
      out.grand_mean += out.row_mean[c];
      out.frob2 += out.row_norm2[c];
    }
    out.grand_mean /= C;
  } else {
    std::fill_n(g, static_cast<size_t>(C) * C, 0.0f);
    std::vector<float> block(static_cast<size_t>(4) * C);
    for (int i = 0; i < C; i += 4) {
      const int b = std::min(4, C - i), n = C - i;
      // <u_{i+r}, u_{i+j}> for r >= 0: the upper triangle from row i on.
      inner_products(u.data() + static_cast<size_t>(i) * d, n, d, u.data() + static_cast<size_t>(i) * d, b, block.data());
      for (int j = 0; j < b; ++j)
        for (int r = j; r < n; ++r) {
          const float v = block[static_cast<size_t>(j) * n + r];
          g[static_cast<size_t>(i + j) * C + (i + r)] = v;
          g[static_cast<size_t>(i + r) * C + (i + j)] = v;
        }
    }
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> G(g, C, C);
    out.row_mean = G.cast<double>().rowwise().mean();
    out.grand_mean = out.row_mean.mean();
    out.frob2 = G.cast<double>().squaredNorm();
    for (int c = 0; c < C; ++c) {
      const float* r = g + static_cast<size_t>(c) * C;
      double n2 = 0;
      for (int b = 0; b < C; ++b) n2 += static_cast<double>(r[b]) * r[b];
      out.row_norm2[c] = n2;
    }
  }
  out.diag.resize(C);
  for (int c = 0; c < C; ++c) out.diag[c] = g[static_cast<size_t>(c) * C + c];
  out.hsic = centred_self_hsic(out, C);
  return out;
}

GramSummary space_gram(const SpaceData& s, const std::vector<int>& rows, GemmPath, std::vector<double>& u,
                       double* g) {
  const int C = static_cast<int>(rows.size()), d = s.d;
  u.resize(static_cast<size_t>(C) * d);
  // The stored float rows over their double norms: the unit rows a float64 reference takes
  // (SpaceData::unit was rounded to float, ~6e-8 of each entry).
  for (int c = 0; c < C; ++c) {
    const float* w = s.weights.data() + static_cast<size_t>(rows[c]) * d;
    const double norm = s.norms[rows[c]];
    double* out = u.data() + static_cast<size_t>(c) * d;
    for (int k = 0; k < d; ++k) out[k] = static_cast<double>(w[k]) / norm;
  }
  using Rows = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const Rows> U(u.data(), C, d);
  Eigen::Map<Rows> G(g, C, C);
  // The upper triangle only (a rank-d update: half a full product's work), then mirrored, so
  // the Gram is exactly symmetric.
  G.setZero();
  G.selfadjointView<Eigen::Upper>().rankUpdate(U);
  mirror_upper(g, C);
  GramSummary out;
  out.row_mean = G.rowwise().mean();
  out.grand_mean = out.row_mean.mean();
  out.row_norm2.resize(C);
  out.diag.resize(C);
  for (int c = 0; c < C; ++c) {
    out.row_norm2[c] = G.row(c).squaredNorm();
    out.frob2 += out.row_norm2[c];
    out.diag[c] = G(c, c);
  }
  out.hsic = centred_self_hsic(out, C);
  return out;
}

// ---- The store ----

template <class T>
GramStore<T>::GramStore(int m, int C, bool in_file, const std::string& dir) : m_(m), C_(C) {
  const size_t values = static_cast<size_t>(m) * C * C;
  if (!in_file) {
    memory_.assign(values, T(0));
    return;
  }
  file_ = std::make_unique<TempFile>(dir, "net2vec-compare", values * sizeof(T), "compare's Gram file",
                                     "give another folder: CompareOptions::temp_dir, or a larger memory budget");
}

template <class T>
GramStore<T>::~GramStore() = default;

template <class T>
void GramStore<T>::put(int s, const T* g) {
  for (int c = 0; c < C_; ++c) {
    const T* row = g + static_cast<size_t>(c) * C_;
    if (in_file()) write(offset(c, s), row, C_);
    else std::copy_n(row, C_, memory_.data() + offset(c, s));
  }
}

template <class T>
void GramStore<T>::gram_as_float(int s, float* out, std::vector<T>& row) const {
  row.resize(C_);
  for (int c = 0; c < C_; ++c) {
    const T* got = panel(c, s, 1, row.data());
    std::copy_n(got, C_, out + static_cast<size_t>(c) * C_);  // a double rounds to the nearest float
  }
}

template <class T>
void GramStore<T>::write(size_t at, const T* values, size_t n) {
  const char* p = reinterpret_cast<const char*>(values);
  size_t left = n * sizeof(T);
  off_t pos = static_cast<off_t>(at * sizeof(T));
  while (left > 0) {
    const ssize_t done = pwrite(file_->fd(), p, left, pos);
    if (done < 0 && errno == EINTR) continue;
    N2V_CHECK(done > 0, kIo, "cannot write compare's Gram file: " << std::strerror(errno));
    p += done;
    pos += done;
    left -= static_cast<size_t>(done);
  }
}

template <class T>
const T* GramStore<T>::read(size_t at, size_t n, T* buffer) const {
  char* p = reinterpret_cast<char*>(buffer);
  size_t left = n * sizeof(T);
  off_t pos = static_cast<off_t>(at * sizeof(T));
  while (left > 0) {
    const ssize_t got = pread(file_->fd(), p, left, pos);
    if (got < 0 && errno == EINTR) continue;
    N2V_CHECK(got > 0, kIo, "cannot read compare's Gram file: " << (got == 0 ? "unexpected end" : std::strerror(errno)));
    p += got;
    pos += got;
    left -= static_cast<size_t>(got);
  }
  return buffer;
}

template class GramStore<float>;
template class GramStore<double>;

}  // namespace n2v::detail
