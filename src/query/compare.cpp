// compare(): distances between concept spaces (paper section 5.3, Figure 10) and linear CKA.
//
// On the C concepts shared by all named spaces (matched by name, sorted by name), with W'_s
// the C x K_s matrix of L2-normalised rows of space s:
//   G_s    = d(W_s) = W'_s W'_s^T                       (C x C cosine matrix)
//   D_ij   = ||G_i - G_j||_F^2
//   D_ijc  = sum_b (G_i[c,b] - G_j[c,b])^2              (row c; sum_c D_ijc = D_ij)
//   CKA_ij = <H G_i H, H G_j H>_F / (||H G_i H||_F ||H G_j H||_F),  H = I - 11^T / C
// with <H G_i H, H G_j H>_F = <G_i, G_j>_F - 2C r_i.r_j + C^2 g_i g_j, where r_s = G_s 1 / C
// (row means) and g_s = 1^T G_s 1 / C^2 (grand mean), so no centred copy is stored.
// Grams are float (inner_products kernel, upper triangle mirrored); each row's sums are
// float lanes (squared_distance_and_dot), summed across rows in double.

#include <Eigen/Dense>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "common/error.h"
#include "query/engine_impl.h"

namespace n2v {
namespace {

// Runs fn(0..n-1) on up to hardware_concurrency threads (std::thread rather than OpenMP:
// libgomp's spinning workers would compete with OpenBLAS threads in FAISS searches later).
template <class Fn>
void parallel_for(int n, Fn fn) {
  const int workers = std::max(1, std::min<int>(n, static_cast<int>(std::thread::hardware_concurrency())));
  if (workers <= 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

struct SpaceGram {
  std::vector<float> g;  // C x C, row-major
  Eigen::VectorXd row_mean;
  double grand_mean = 0, frob2 = 0, hsic = 0;  // ||G||_F^2, <HGH, HGH>_F
};

SpaceGram gram(const detail::SpaceData& s, const std::vector<int>& rows) {
  const int C = static_cast<int>(rows.size()), d = s.d;
  std::vector<float> u(static_cast<size_t>(C) * d);
  for (int c = 0; c < C; ++c)
    std::copy_n(s.unit.begin() + static_cast<std::ptrdiff_t>(rows[c]) * d, d, u.begin() + static_cast<std::ptrdiff_t>(c) * d);
  SpaceGram out;
  out.g.assign(static_cast<size_t>(C) * C, 0.0f);
  std::vector<float> block(static_cast<size_t>(4) * C);
  for (int i = 0; i < C; i += 4) {
    const int b = std::min(4, C - i), n = C - i;
    // <u_{i+r}, u_{i+j}> for r >= 0: the upper triangle from row i on.
    inner_products(u.data() + static_cast<size_t>(i) * d, n, d, u.data() + static_cast<size_t>(i) * d, b, block.data());
    for (int j = 0; j < b; ++j)
      for (int r = j; r < n; ++r) {
        const float v = block[static_cast<size_t>(j) * n + r];
        out.g[static_cast<size_t>(i + j) * C + (i + r)] = v;
        out.g[static_cast<size_t>(i + r) * C + (i + j)] = v;
      }
  }
  const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> G(out.g.data(), C, C);
  out.row_mean = G.cast<double>().rowwise().mean();
  out.grand_mean = out.row_mean.mean();
  out.frob2 = G.cast<double>().squaredNorm();
  out.hsic = std::max(0.0, out.frob2 - 2.0 * C * out.row_mean.squaredNorm() +
                               static_cast<double>(C) * C * out.grand_mean * out.grand_mean);
  return out;
}

}  // namespace

SpaceComparison QueryEngine::compare(const std::vector<std::string>& spaces, const std::vector<std::string>& concepts) {
  N2V_CHECK(spaces.size() >= 2, kInvalidArgument,
            "compare needs at least two spaces, got " << spaces.size());
  for (size_t i = 0; i < spaces.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      N2V_CHECK(spaces[i] != spaces[j], kInvalidArgument, "space '" << spaces[i] << "' is named twice");
  const int m = static_cast<int>(spaces.size());
  std::vector<std::shared_ptr<const detail::SpaceData>> data;
  for (const std::string& id : spaces) data.push_back(impl_->load(id));

  // The names to compare: every name of the first space that all others have, or the subset
  // given (each must be in every space).
  std::vector<std::string> names;
  if (concepts.empty()) {
    for (const std::string& name : data[0]->names) {
      bool everywhere = true;
      for (int s = 1; s < m && everywhere; ++s) everywhere = data[s]->row_of.count(name) != 0;
      if (everywhere) names.push_back(name);
    }
  } else {
    std::set<std::string> seen;
    for (const std::string& name : concepts) {
      if (!seen.insert(name).second) continue;
      std::vector<std::string> lacking;
      for (int s = 0; s < m; ++s)
        if (!data[s]->row_of.count(name)) lacking.push_back(spaces[s]);
      if (static_cast<int>(lacking.size()) == m) {
        std::vector<std::string> all;
        for (const auto& s : data) all.insert(all.end(), s->names.begin(), s->names.end());
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        const std::vector<std::string> close = closest_names(name, all);
        N2V_THROW_SUGGESTING(kNotFound, close, "no concept '" << name << "' in any of the spaces compared"
                                            << (close.empty() ? "" : "; did you mean " + detail::quoted_list(close) + "?"));
      }
      N2V_CHECK(lacking.empty(), kNotFound,
                "concept '" << name << "' is not in space" << (lacking.size() > 1 ? "s " : " ")
                            << detail::quoted_list(lacking, "and") << ": a comparison needs it in every space");
      names.push_back(name);
    }
  }

  SpaceComparison out;
  out.spaces = spaces;
  out.m = m;
  std::vector<std::vector<int>> rows(m);
  for (const std::string& name : names) {
    std::string zero_in;
    for (int s = 0; s < m && zero_in.empty(); ++s)
      if (!data[s]->valid[data[s]->row_of.at(name)]) zero_in = spaces[s];
    if (!zero_in.empty()) {
      out.excluded.push_back(name + " (" + zero_in + ")");
      continue;
    }
    out.concepts.push_back(name);
  }
  std::sort(out.concepts.begin(), out.concepts.end());
  const int C = out.shared();
  const std::string which = "spaces " + detail::quoted_list(spaces, "and");
  const std::string left_out = out.excluded.empty()
                                   ? std::string()
                                   : " (after leaving out " + std::to_string(out.excluded.size()) +
                                         " with a zero vector)";
  N2V_CHECK(C > 0, kInvalidArgument, "no concept is shared by all of " << which << left_out);
  N2V_CHECK(C > 1, kInvalidArgument,
            "only one concept ('" << out.concepts[0] << "') is shared by all of " << which << left_out
                                  << ": comparing spaces needs at least two");
  for (const std::string& name : out.concepts) {
    out.categories.push_back(data[0]->categories[data[0]->row_of.at(name)]);
    for (int s = 0; s < m; ++s) rows[s].push_back(data[s]->row_of.at(name));
  }

  std::vector<SpaceGram> grams(m);
  parallel_for(m, [&](int s) { grams[s] = gram(*data[s], rows[s]); });

  std::map<std::string, std::vector<int>> by_category;
  for (int c = 0; c < C; ++c) by_category[out.categories[c]].push_back(c);

  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j) {
      PairComparison pair;
      pair.i = i;
      pair.j = j;
      out.pairs.push_back(std::move(pair));
    }
  parallel_for(static_cast<int>(out.pairs.size()), [&](int p) {
    PairComparison& pair = out.pairs[p];
    const SpaceGram& a = grams[pair.i];
    const SpaceGram& b = grams[pair.j];
    pair.per_concept.assign(C, 0.0);
    double inner = 0, total = 0;
    for (int c = 0; c < C; ++c) {
      const float* x = a.g.data() + static_cast<size_t>(c) * C;
      const float* y = b.g.data() + static_cast<size_t>(c) * C;
      double sq = 0, dot = 0;
      squared_distance_and_dot(x, y, C, &sq, &dot);  // float lanes per row, double across rows
      pair.per_concept[c] = sq;
      total += sq;
      inner += dot;
    }
    pair.distance = total;
    const double hsic = inner - 2.0 * C * a.row_mean.dot(b.row_mean) +
                        static_cast<double>(C) * C * a.grand_mean * b.grand_mean;
    // Undefined when a centred Gram is zero (every shared concept points the same way).
    const double tiny = 1e-12;
    pair.cka = a.hsic > tiny * a.frob2 && b.hsic > tiny * b.frob2 ? hsic / std::sqrt(a.hsic * b.hsic) : NAN;
    for (const auto& [category, members] : by_category) {
      double sum = 0;
      for (int c : members) sum += pair.per_concept[c];
      pair.categories.push_back({category, static_cast<int>(members.size()), sum / members.size()});
    }
  });

  out.distance.assign(static_cast<size_t>(m) * m, 0.0);
  out.cka.assign(static_cast<size_t>(m) * m, 0.0);
  for (int s = 0; s < m; ++s)
    out.cka[static_cast<size_t>(s) * m + s] = grams[s].hsic > 1e-12 * grams[s].frob2 ? 1.0 : NAN;
  for (const PairComparison& p : out.pairs) {
    out.distance[static_cast<size_t>(p.i) * m + p.j] = out.distance[static_cast<size_t>(p.j) * m + p.i] = p.distance;
    out.cka[static_cast<size_t>(p.i) * m + p.j] = out.cka[static_cast<size_t>(p.j) * m + p.i] = p.cka;
  }
  return out;
}

}  // namespace n2v
