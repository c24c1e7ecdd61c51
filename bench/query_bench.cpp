// net2vec-query-bench: in-process cost of the embedding queries (src/query) on synthetic
// spaces written to a temporary catalog. Prints figures; asserts nothing about time.
//
//   neighbours and analogies: one space of --concepts x --dim (default 1,200 x 1,024, about
//     BRODEN's concept count at a GoogLeNet-sized layer); per-query mean / p50 / p99 over
//     --queries queries, through QueryEngine (catalog check + cached index) and, below it,
//     the raw index searches (kernel path, FAISS's own search, brute force);
//   compare: --spaces spaces sharing --shared concepts (default 24 x 500, the paper's
//     Figure 10), dimensions as in the paper's set (see kCompareDims) or all --dim with
//     --uniform-dim; cold (first call: catalog reads) and warm (cached) times.
// Torch-free. See docs/PERFORMANCE.md ("Query benchmark").

#include <CLI/CLI.hpp>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "catalog/catalog.h"
#include "common/error.h"
#include "index/vector_index.h"
#include "query/query.h"
#include "synthetic_space.h"

namespace {

using Clock = std::chrono::steady_clock;
using n2v::Catalog;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Stats {
  double mean_us = 0, p50_us = 0, p99_us = 0;
};

Stats stats(std::vector<double> us) {
  Stats s;
  if (us.empty()) return s;
  double total = 0;
  for (double v : us) total += v;
  s.mean_us = total / us.size();
  std::sort(us.begin(), us.end());
  s.p50_us = us[us.size() / 2];
  s.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return s;
}

template <class Fn>
Stats time_each(int n, Fn fn) {
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    fn(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return stats(std::move(us));
}

// The time to read the space's float32 matrix once (the memory-bandwidth bound of an exact
// search); each row also shows its p50 as a multiple of it. 0 until measured.
double g_stream_us = 0;

void row(const char* what, const Stats& s) {
  std::printf("  %-52s %9.1f %9.1f %9.1f", what, s.mean_us, s.p50_us, s.p99_us);
  if (g_stream_us > 0) std::printf(" %8.2fx", s.p50_us / g_stream_us);
  std::printf("\n");
}

// Sums n floats with four AVX registers of independent partial sums: as fast as the loads
// come (the search kernels are AVX2 too). Scalar where the CPU has no AVX2.
__attribute__((target("avx2"))) float sum_avx2(const float* x, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float total = 0;
  for (float v : lanes) total += v;
  for (; i < n; ++i) total += x[i];
  return total;
}

float sum_floats(const float* x, size_t n) {
  if (__builtin_cpu_supports("avx2")) return sum_avx2(x, n);
  float total = 0;
  for (size_t i = 0; i < n; ++i) total += x[i];
  return total;
}

// Median time to read an n x d float32 matrix once: what one pass over the space costs.
// cold: a 256 MiB buffer is swept between runs, so the matrix comes from memory; warm:
// straight after the previous pass (from cache, as for queries repeated on one space).
double stream_once_us(int n, int d, bool cold) {
  std::vector<float> m(static_cast<size_t>(n) * d, 1.0f), evict(64u << 20, 1.0f);
  std::vector<double> us;
  volatile float sink = 0;
  for (int r = 0; r < 21; ++r) {
    if (cold) sink = sink + sum_floats(evict.data(), evict.size());  // push m out of the caches
    const auto t0 = Clock::now();
    const float total = sum_floats(m.data(), m.size());
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    sink = sink + total;
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

using n2v::bench::concept_name;

// One ingest with one space: `dim` filters, concepts numbered 1..count (random Gaussian
// weights, seeded).
std::string write_space(Catalog& catalog, const std::string& network, int count, int dim, uint32_t seed) {
  catalog.write_ingest(n2v::bench::synthetic_ingest(network, "l", count, dim, seed));
  return n2v::space_id(network, "l", n2v::Task::kSegmentation);
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one, five;
  f >> one >> five;
  return one + " (1 min), " + five + " (5 min)";
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  int concepts = 1200, dim = 1024, queries = 2000, spaces = 24, shared = 500, repeats = 5;
  bool uniform_dim = false;
  std::string db;
  CLI::App app{"net2vec-query-bench: per-query cost of neighbours / analogies and the cost of compare"};
  app.add_option("--concepts", concepts, "Concepts in the neighbour/analogy space")->capture_default_str();
  app.add_option("--dim", dim, "Its dimension (filters)")->capture_default_str();
  app.add_option("--queries", queries, "Timed queries per measurement")->capture_default_str();
  app.add_option("--spaces", spaces, "Spaces compared")->capture_default_str();
  app.add_option("--shared", shared, "Concepts every compared space has")->capture_default_str();
  app.add_flag("--uniform-dim", uniform_dim, "Every compared space has --dim dimensions (worst case)");
  app.add_option("--repeats", repeats, "Timed compare calls (median reported)")->capture_default_str();
  app.add_option("--db", db, "Catalog file to write (default: a temporary file, removed after)");
  CLI11_PARSE(app, argc, argv);

  try {
    const bool temp_db = db.empty();
    if (temp_db) db = (std::filesystem::temp_directory_path() / ("n2v-query-bench-" + std::to_string(::getpid()) + ".db")).string();
    std::filesystem::remove(db);
    std::printf("net2vec-query-bench on %s, %u hardware threads; inner_products kernel %s; FAISS %s, its GPU %s\n",
                cpu_model().c_str(), std::thread::hardware_concurrency(), n2v::inner_products_kernel(),
                n2v::faiss_compiled() ? "compiled in" : "not compiled in",
                n2v::faiss_gpu_support_compiled() ? "compiled in" : "not compiled in");
    std::printf("load average at start: %s\n", load_average().c_str());

    Catalog catalog = Catalog::open(db);
    auto t0 = Clock::now();
    const std::string space = write_space(catalog, "bench", concepts, dim, 1);
    std::printf("\nSpace %s: %d concepts x %d dimensions (written in %.2f s)\n", space.c_str(), concepts, dim,
                seconds_since(t0));

    n2v::QueryEngine engine(catalog);
    t0 = Clock::now();
    engine.neighbors(space, concept_name(1), 10);
    std::printf("  first query (catalog read + normalise + index build): %.1f ms\n", seconds_since(t0) * 1e3);

    std::mt19937 rng(2);
    std::vector<int> pick(queries);
    for (int& p : pick) p = 1 + static_cast<int>(rng() % concepts);
    const double cold_us = stream_once_us(concepts, dim, true);
    g_stream_us = stream_once_us(concepts, dim, false);
    std::printf("  streaming the %d x %d float32 matrix once: %.1f us from memory, %.1f us from cache "
                "(p50/stream below: per query, as a multiple of the cached pass)\n",
                concepts, dim, cold_us, g_stream_us);
    std::printf("\n  %-52s %9s %9s %9s %9s\n", "per query (microseconds)", "mean", "p50", "p99", "p50/stream");
    row("catalog.generation() alone (each query asks it)", time_each(queries, [&](int) { (void)catalog.generation(); }));
    row("catalog.space() record read (only when the generation moved)",
        time_each(queries, [&](int) { (void)catalog.space(space); }));
    row("neighbors, k = 10", time_each(queries, [&](int i) { engine.neighbors(space, concept_name(pick[i]), 10); }));
    row("neighbors, k = 10, category filter",
        time_each(queries, [&](int i) { engine.neighbors(space, concept_name(pick[i]), 10, std::string("object")); }));
    auto name = [&](int i, int j) { return concept_name(pick[(i + j) % queries]); };
    row("analogy 3CosAdd (a + b - c), k = 10", time_each(queries, [&](int i) {
          engine.analogy(space, {name(i, 0), name(i, 1)}, {name(i, 2)}, 10, n2v::AnalogyMethod::kAdd);
        }));
    row("analogy 3CosMul (a + b - c), k = 10", time_each(queries, [&](int i) {
          engine.analogy(space, {name(i, 0), name(i, 1)}, {name(i, 2)}, 10, n2v::AnalogyMethod::kMul);
        }));
    n2v::QueryEngine brute(catalog, {n2v::QueryOptions::Index::kBruteForce});
    brute.neighbors(space, concept_name(1), 10);
    row("neighbors via the brute-force oracle", time_each(std::min(queries, 200), [&](int i) {
          brute.neighbors(space, concept_name(pick[i]), 10);
        }));

    // The index alone, one query at a time, on the same vectors.
    const std::vector<n2v::ConceptVector> vectors = engine.vectors(space);
    std::vector<float> x;
    for (const auto& v : vectors) x.insert(x.end(), v.weights.begin(), v.weights.end());
    auto query_of = [&](int i) { return x.data() + static_cast<size_t>(pick[i] - 1) * dim; };
    auto flat = n2v::make_flat_index(dim);
    flat->add(concepts, dim, x.data());
    row("index search nq=1: net2vec's flat index (no FAISS)",
        time_each(queries, [&](int i) { flat->search(1, query_of(i), 10); }));
    if (n2v::faiss_compiled()) {
      auto kernel = n2v::make_faiss_index(dim);
      auto native = n2v::make_faiss_index(dim, {.allow_gpu = false, .native_search = true});
      kernel->add(concepts, dim, x.data());
      native->add(concepts, dim, x.data());
      row("index search nq=1: FAISS storage + inner_products kernel",
          time_each(queries, [&](int i) { kernel->search(1, query_of(i), 10); }));
      row("index search nq=1: FAISS's own search (Debian build)",
          time_each(std::min(queries, 300), [&](int i) { native->search(1, query_of(i), 10); }));
      const int batch = 100;
      const auto tb = Clock::now();
      const int batches = std::max(1, std::min(queries, concepts) / batch);
      for (int b = 0; b < batches; ++b) native->search(batch, x.data() + static_cast<size_t>(b) * batch * dim, 10);
      std::printf("  %-52s %9.1f\n", "index search nq=100 batches (FAISS BLAS), per query",
                  seconds_since(tb) * 1e6 / (batches * batch));
      const auto tf = Clock::now();
      for (int b = 0; b < batches; ++b) flat->search(batch, x.data() + static_cast<size_t>(b) * batch * dim, 10);
      std::printf("  %-52s %9.1f\n", "index search nq=100 batches (flat index), per query",
                  seconds_since(tf) * 1e6 / (batches * batch));
    }

    // ---- compare ----
    // The paper's Figure 10 set: 11 networks x 2 tasks + WordNet + word2vec. conv5 of the
    // AlexNets (7: ImageNet, Places, 5 self-supervised) 256, VGG16 conv5_3 512, GoogLeNet
    // inception5b 1024; WordNet indicators ~1,000 synsets; word2vec 300.
    std::vector<int> dims;
    if (uniform_dim) {
      dims.assign(spaces, dim);
    } else {
      const int kCompareDims[] = {256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
                                  512, 512, 512, 512, 1024, 1024, 1024, 1024, 1000, 300};
      for (int s = 0; s < spaces; ++s) dims.push_back(kCompareDims[s % 24]);
    }
    std::vector<std::string> ids;
    t0 = Clock::now();
    for (int s = 0; s < spaces; ++s)
      ids.push_back(write_space(catalog, "cmp" + std::to_string(s), shared + 20 * (s % 3), dims[s], 100 + s));
    double mean_dim = 0;
    for (int d : dims) mean_dim += d;
    mean_dim /= spaces;
    std::printf("\nCompare: %d spaces sharing %d concepts, dimensions %s (mean %.0f) (written in %.2f s)\n", spaces,
                shared, uniform_dim ? std::to_string(dim).c_str() : "256 x14, 512 x4, 1024 x4, 1000, 300", mean_dim,
                seconds_since(t0));
    n2v::QueryEngine cmp(catalog);
    t0 = Clock::now();
    n2v::SpaceComparison result = cmp.compare(ids);
    std::printf("  cold (catalog reads + normalise + compare): %.1f ms; %d shared, %zu pairs\n", seconds_since(t0) * 1e3,
                result.shared(), result.pairs.size());
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r) {
      t0 = Clock::now();
      result = cmp.compare(ids);
      ms.push_back(seconds_since(t0) * 1e3);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("  warm (cached spaces): median %.1f ms, min %.1f ms over %d calls\n", ms[ms.size() / 2], ms[0], repeats);

    std::printf("\nload average at end: %s (other processes share these cores: compare with nproc)\n",
                load_average().c_str());
    if (temp_db) {
      std::filesystem::remove(db);
      std::filesystem::remove(db + "-wal");
      std::filesystem::remove(db + "-shm");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net2vec-query-bench: %s\n", e.what());
    return 1;
  }
}
