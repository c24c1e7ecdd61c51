#pragma once
// Progress reporting for long stages. On a terminal: one redrawn bar per stage with
// items/s and ETA. Otherwise (logs, CI, tests): a plain line at start, every few seconds,
// and at the end. Reporting is cheap to call per item; output is rate-limited.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace n2v {

class Progress {
 public:
  enum class Mode { kAuto, kBar, kLines, kQuiet };

  // `stage` names the work ("activations conv5"), `total` counts items (0: unknown),
  // `unit` names them ("images", "pairs").
  Progress(std::string stage, int64_t total, std::string unit, Mode mode = Mode::kAuto,
           std::FILE* out = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t items = 1);
  void set_total(int64_t total);
  // Ends the stage (also done by the destructor) and returns its wall time in seconds.
  double finish();
  double elapsed() const;

  // The default mode for new Progress objects (the CLI sets it from --quiet/--progress).
  static void set_default_mode(Mode mode);

 private:
  void draw(bool final_line);

  std::string stage_, unit_;
  int64_t total_, done_ = 0;
  Mode mode_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool finished_ = false;
  double finished_seconds_ = 0;
};

}  // namespace n2v
