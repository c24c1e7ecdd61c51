#pragma once
// Wall-clock timing of pipeline stages (the per-stage timings stored with every run).

#include <chrono>

namespace n2v {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace n2v
