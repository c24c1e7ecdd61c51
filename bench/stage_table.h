#pragma once
// The benchmarks' result table: one row per stage (items, unit, wall seconds, items/s and,
// where measured, CPU seconds), free-text notes between rows; printf-formatted to stdout, each
// finished stage also reported on stderr as it ends. Not the CLI's table (src/service/render.cpp):
// that one is private to n2v_service, which needs FAISS, and net2vec-bench is built without it.

#include <cstdio>
#include <string>
#include <vector>

namespace n2v::bench {

struct Row {
  std::string stage;
  double items = 0;
  std::string unit;
  double seconds = 0;
  double cpu = -1;  // CPU seconds, where measured around the whole call
};

class Table {
 public:
  void add(const std::string& stage, double items, const std::string& unit, double seconds,
           double cpu = -1) {
    rows_.push_back({stage, items, unit, seconds, cpu});
    std::fprintf(stderr, "  done: %s (%.2f s)\n", stage.c_str(), seconds);
  }
  void note(const std::string& text) { rows_.push_back({text, -1, "", 0, -1}); }
  void print() const {
    std::printf("%-46s %12s %-7s %10s %12s %9s\n", "stage", "items", "unit", "seconds", "items/s",
                "cpu s");
    std::printf("%s\n", std::string(101, '-').c_str());
    for (const Row& r : rows_) {
      if (r.items < 0) {
        std::printf("%s\n", r.stage.c_str());
        continue;
      }
      const double rate = r.seconds > 0 ? r.items / r.seconds : 0;
      std::printf(r.items < 100 ? "%-46s %12.1f %-7s %10.3f %12.1f" : "%-46s %12.0f %-7s %10.3f %12.1f",
                  r.stage.c_str(), r.items, r.unit.c_str(), r.seconds, rate);
      if (r.cpu >= 0) std::printf(" %9.1f", r.cpu);
      std::printf("\n");
    }
  }

 private:
  std::vector<Row> rows_;
};

}  // namespace n2v::bench
