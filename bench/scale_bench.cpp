// net2vec-scale-bench: a catalog at the scale of many networks and layers (issue 11,
// docs/SCALE.md). Writes --spaces spaces of --concepts concepts each (widths cycling over
// layer widths of the paper's networks), as --shards shard catalogs the way a job array
// would, merges them into one catalog, then measures what a server over it sees: open, the
// first and later neighbour queries of one space, a pass over every space under a cache
// budget, and compare over a few spaces; with --compare-all, the streamed compare over every
// space (5 largest D_ijc per pair) under --compare-mb. Prints figures; asserts nothing about
// time.

#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "query/gemm.h"
#include "query/query.h"
#include "synthetic_space.h"

namespace {

using Clock = std::chrono::steady_clock;
using n2v::Catalog;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Layer widths of the paper's networks (AlexNet conv1-5, VGG16 blocks, GoogLeNet inception
// outputs, ResNet-50 stages): each space takes the next one.
const int kWidths[] = {96, 256, 384, 384, 256, 64, 128, 256, 512, 512, 256, 480, 512, 832, 1024, 256, 512, 1024, 2048};

size_t file_mb(const std::string& path) {
  std::error_code ec;
  size_t bytes = fs::file_size(path, ec);
  if (fs::exists(path + "-wal", ec)) bytes += fs::file_size(path + "-wal", ec);
  return bytes >> 20;
}

// Peak resident memory of the process so far (getrusage), MiB.
long peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// /proc/self/status's VmHWM (peak RSS), which writing 5 to /proc/self/clear_refs resets
// (Linux >= 4.0): the peak of one step rather than of the whole run. -1 if unavailable.
long step_peak_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return -1;
}
bool reset_step_peak() { return static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5"); }

long rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return -1;
}

// Where the CPUs' time went, for figures on a shared machine: this process's user + system
// CPU seconds (getrusage) and the machine's busy and I/O-wait seconds summed over its CPUs
// (/proc/stat; busy = user, nice, system, irq, softirq, steal).
struct CpuMark {
  Clock::time_point when{};
  double self = 0, busy = 0, iowait = 0;
  bool set = false;
};
CpuMark cpu_mark() {
  CpuMark m;
  m.when = Clock::now();
  m.set = true;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  m.self = u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
  std::ifstream f("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) {
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    m.busy = (user + nice + system + irq + softirq + steal) / tick;
    m.iowait = iowait / tick;
  }
  return m;
}
// "wall W s, this process's CPU S s, other processes' CPU O s, I/O wait I s" between two marks.
std::string cpu_between(const CpuMark& a, const CpuMark& b) {
  char text[160];
  const double self = b.self - a.self;
  std::snprintf(text, sizeof text, "wall %.1f s, its CPU %.1f s, other processes' CPU %.1f s, I/O wait %.1f s",
                std::chrono::duration<double>(b.when - a.when).count(), self, std::max(0.0, b.busy - a.busy - self),
                b.iowait - a.iowait);
  return text;
}

// One space's ingest, its probe set recognised as the same one in every shard (content hash).
n2v::IngestRecord record(const std::string& net, const std::string& layer, int concepts, int dim, uint32_t seed) {
  n2v::IngestRecord r = n2v::bench::synthetic_ingest(net, layer, concepts, dim, seed);
  r.probe.content_hash = "fnv1a64:scalebench000000";
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"net2vec-scale-bench: shards, merge and serving figures for a catalog of many spaces"};
  int spaces = 1000, concepts = 1200, shards = 20, compare_spaces = 10, cache_mb = 256;
  int compare_mb = 256, compare_first = 0;
  std::string dir = "/tmp/net2vec-scale";
  bool keep = false, reuse = false, compare_all = false;
  app.add_option("--spaces", spaces, "Spaces in all")->capture_default_str();
  app.add_option("--concepts", concepts, "Concepts per space")->capture_default_str();
  app.add_option("--shards", shards, "Shard catalogs (array tasks) the spaces are written to")->capture_default_str();
  app.add_option("--compare", compare_spaces, "Spaces compared at once")->capture_default_str();
  app.add_option("--cache-mb", cache_mb, "Cache budget for the pass over every space")->capture_default_str();
  app.add_option("--dir", dir, "Work folder (its shard and catalog files are replaced)")->capture_default_str();
  app.add_flag("--keep", keep, "Keep the files afterwards");
  app.add_flag("--reuse", reuse,
               "Use the catalog.db a --keep run with the same --spaces and --concepts left in --dir "
               "(skips writing and merging)");
  app.add_flag("--compare-all", compare_all,
               "Also compare every space (per_concept 5) under --compare-mb, with a --cache-mb space cache");
  app.add_option("--compare-mb", compare_mb, "Memory budget of --compare-all, MiB")->capture_default_str();
  app.add_option("--compare-first", compare_first, "--compare-all over only the first N spaces (0: all)")
      ->capture_default_str();
  std::string precision = "auto";
  app.add_option("--precision", precision, "Gram precision of --compare-all: auto, double or float")
      ->check(CLI::IsMember({"auto", "double", "float"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (spaces < 2 || concepts < 2 || shards < 1 || compare_spaces < 2) {
    std::fprintf(stderr, "scale-bench: --spaces, --concepts, --compare >= 2 and --shards >= 1\n");
    return 2;
  }
  fs::create_directories(dir);
  std::vector<std::string> ids, shard_paths;
  double floats = 0;

  // The spaces' ids and widths (the same with --reuse).
  for (int s = 0; s < spaces; ++s) {
    ids.push_back(n2v::space_id("net" + std::to_string(s / 8), "layer" + std::to_string(s % 8), n2v::Task::kSegmentation));
    floats += static_cast<double>(concepts) * kWidths[s % (sizeof kWidths / sizeof kWidths[0])];
  }
  const std::string target = dir + "/catalog.db";
  double write_s = 0, merge_s = 0;
  size_t shard_mb = 0;
  n2v::Catalog::MergeReport merged;
  if (!reuse) {
    // 1. Shards: space s goes to shard s % shards, one ingest each (as a job array writes).
    auto t0 = Clock::now();
    for (int k = 0; k < shards; ++k) {
      const std::string path = dir + "/shard-" + std::to_string(k) + ".db";
      fs::remove(path);
      fs::remove(path + "-wal");
      shard_paths.push_back(path);
    }
    {
      std::vector<Catalog> open;
      for (const std::string& p : shard_paths) open.push_back(Catalog::open(p));
      for (int s = 0; s < spaces; ++s) {
        const int dim = kWidths[s % (sizeof kWidths / sizeof kWidths[0])];
        const std::string net = "net" + std::to_string(s / 8), layer = "layer" + std::to_string(s % 8);
        open[s % shards].write_ingest(record(net, layer, concepts, dim, static_cast<uint32_t>(s + 1)));
        if ((s + 1) % 100 == 0) std::fprintf(stderr, "  written %d/%d spaces\n", s + 1, spaces);
      }
    }
    write_s = seconds_since(t0);
    for (const std::string& p : shard_paths) shard_mb += file_mb(p);

    // 2. Merge into one catalog.
    fs::remove(target);
    fs::remove(target + "-wal");
    auto t1 = Clock::now();
    {
      Catalog c = Catalog::open(target);
      merged = c.merge(shard_paths);
    }
    merge_s = seconds_since(t1);
  } else if (!fs::exists(target)) {
    std::fprintf(stderr, "scale-bench: --reuse: no %s\n", target.c_str());
    return 2;
  }

  // 3. What a server sees: open, first query (reads the space, builds its index), later ones.
  auto t2 = Clock::now();
  Catalog catalog = Catalog::open(target, Catalog::Mode::kReadOnly);
  n2v::QueryEngine engine(catalog);
  const size_t listed = catalog.spaces().size();
  const double open_s = seconds_since(t2);
  const std::string one = ids[ids.size() - 1];  // the widest layers come last in each cycle
  auto t3 = Clock::now();
  engine.neighbors(one, "concept1", 10);
  const double first_ms = seconds_since(t3) * 1e3;
  std::vector<double> later;
  for (int i = 0; i < 200; ++i) {
    auto t = Clock::now();
    engine.neighbors(one, "concept" + std::to_string(1 + i % concepts), 10);
    later.push_back(seconds_since(t) * 1e6);
  }
  std::sort(later.begin(), later.end());

  // 4. One neighbour query in every space under a cache budget (serve --cache-mb).
  n2v::QueryEngine budget(catalog, {n2v::QueryOptions::Index::kDefault, static_cast<size_t>(cache_mb) << 20});
  auto t4 = Clock::now();
  for (const std::string& id : ids) budget.neighbors(id, "concept2", 10);
  const double pass_s = seconds_since(t4);
  const n2v::CacheStats stats = budget.cache_stats();

  // 5. compare over the first spaces (Figure 10 over a subset; every space: --compare-all).
  std::vector<std::string> some(ids.begin(), ids.begin() + std::min<int>(compare_spaces, spaces));
  auto t5 = Clock::now();
  const n2v::SpaceComparison cmp = engine.compare(some);
  const double compare_s = seconds_since(t5);

  std::printf("catalog of %d spaces x %d concepts (widths %d..%d), %.2f G float32 weights\n", spaces, concepts, 96,
              2048, floats / 1e9);
  if (reuse) {
    std::printf("  reused %s, %zu MiB\n", target.c_str(), file_mb(target));
  } else {
    std::printf("  write %d shards (one ingest per space): %.1f s, %zu MiB on disk\n", shards, write_s, shard_mb);
    std::printf("  merge into one catalog: %.1f s (%d spaces added), %zu MiB\n", merge_s, merged.spaces_added,
                file_mb(target));
  }
  std::printf("  open read-only + list %zu spaces: %.3f s\n", listed, open_s);
  std::printf("  first neighbours query of %s (%d x %d): %.1f ms; later p50 %.0f us, p99 %.0f us\n", one.c_str(),
              concepts, kWidths[(spaces - 1) % (sizeof kWidths / sizeof kWidths[0])], first_ms,
              later[later.size() / 2], later[later.size() * 99 / 100]);
  std::printf("  one query in every space, cache budget %d MiB: %.1f s (%.1f ms a space), %d spaces / %zu MiB cached, "
              "%lld loads, %lld evictions, RSS %ld MiB\n",
              cache_mb, pass_s, pass_s * 1e3 / spaces, stats.spaces, stats.bytes >> 20,
              static_cast<long long>(stats.loads), static_cast<long long>(stats.evictions), rss_mb());
  std::printf("  compare of %zu spaces on %d shared concepts: %.2f s\n", some.size(), static_cast<int>(cmp.concepts.size()), compare_s);

  // 6. compare over every space (or the first --compare-first), streamed under --compare-mb,
  // the 5 largest D_ijc per pair kept, spaces read through step 4's --cache-mb cache.
  if (compare_all) {
    const int n = compare_first > 0 ? std::min(compare_first, spaces) : spaces;
    const std::vector<std::string> all(ids.begin(), ids.begin() + n);
    n2v::CompareOptions options;
    options.per_concept = 5;
    options.memory_bytes = static_cast<size_t>(compare_mb) << 20;
    options.precision = precision == "double"  ? n2v::ComparePrecision::kDouble
                        : precision == "float" ? n2v::ComparePrecision::kFloat
                                               : n2v::ComparePrecision::kAuto;
    int shown = -1;
    CpuMark first_gram, grams_done;  // the first and the last Gram's progress call
    options.progress = [&](int64_t done, int64_t total) {
      if (!first_gram.set) first_gram = cpu_mark();
      if (done == n) grams_done = cpu_mark();
      const int tenth = static_cast<int>(done * 10 / total);
      if (tenth == shown) return;
      shown = tenth;
      std::fprintf(stderr, "  compare --all: %lld/%lld steps\n", static_cast<long long>(done), static_cast<long long>(total));
    };
    const long peak_before = peak_rss_mb(), rss_before = rss_mb();
    const bool step_peak = reset_step_peak();
    auto t6 = Clock::now();
    const CpuMark start = cpu_mark();
    // The engine of step 4: its space cache is already at its budget, so what the process
    // grows by is compare's own memory and its result.
    const n2v::SpaceComparison all_cmp = budget.compare(all, {}, options);
    const double all_s = seconds_since(t6);
    const CpuMark end = cpu_mark();
    const n2v::CompareStats& st = all_cmp.stats;
    const double C = static_cast<double>(all_cmp.shared());
    // GEMM work: per block pair and row, bi x bj x C multiply-adds (diagonal blocks: half).
    const double gemm_flop = 2.0 * n * n / 2 * C * C;
    double gram_flop = 0;
    for (int s = 0; s < n; ++s) gram_flop += C * C * kWidths[s % (sizeof kWidths / sizeof kWidths[0])];  // upper half x 2
    size_t largest_kept = 0;
    for (const n2v::PairComparison& p : all_cmp.pairs) largest_kept += p.largest.size();
    std::printf("  compare --all of %d spaces on %d shared concepts, budget %d MiB: %.1f s (Grams %.1f s, %.0f GFLOP/s; "
                "pairs %.1f s, %.0f GFLOP/s), %zu pairs, %zu largest kept\n",
                n, all_cmp.shared(), compare_mb, all_s, st.gram_seconds, gram_flop / st.gram_seconds / 1e9,
                st.pairs_seconds, gemm_flop / st.pairs_seconds / 1e9, all_cmp.pairs.size(), largest_kept);
    std::printf("    Grams in %s (--precision %s): %zu MiB in %s; block %d spaces, %d blocks, %d block pairs, %d threads; %lld row pairs "
                "recomputed directly; estimated working memory %zu MiB; products: %s kernel (NET2VEC_SIMD=%s)\n",
                st.double_precision ? "double" : "float", precision.c_str(), st.store_bytes >> 20,
                st.temp_file ? "an unlinked temporary file" : "memory", st.block, st.blocks,
                st.block_pairs, st.threads, static_cast<long long>(st.rows_recomputed), st.working_bytes >> 20,
                n2v::gemm_path_name(n2v::gemm_path()), std::getenv("NET2VEC_SIMD") ? std::getenv("NET2VEC_SIMD") : "");
    if (first_gram.set && grams_done.set) {
      std::printf("    CPU, names (to the first Gram): %s\n", cpu_between(start, first_gram).c_str());
      std::printf("    CPU, Grams (from the first): %s\n", cpu_between(first_gram, grams_done).c_str());
      std::printf("    CPU, pairs (and the result): %s\n", cpu_between(grams_done, end).c_str());
    }
    std::printf("    CPU, whole compare: %s\n", cpu_between(start, end).c_str());
    std::printf("    RSS before %ld MiB, after %ld MiB (result included); peak RSS (ru_maxrss) before %ld MiB, "
                "after %ld MiB; peak during compare (VmHWM reset) %ld MiB\n",
                rss_before, rss_mb(), peak_before, peak_rss_mb(), step_peak ? step_peak_mb() : -1L);
  }
  if (!keep) fs::remove_all(dir);
  return 0;
}
