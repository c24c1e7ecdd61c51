#include "common/progress.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <exception>

#include "common/text.h"

namespace n2v {
namespace {
std::atomic<Progress::Mode> g_default_mode{Progress::Mode::kAuto};
constexpr double kBarRedrawSeconds = 0.1;
constexpr double kLineEverySeconds = 5.0;
}  // namespace

void Progress::set_default_mode(Mode mode) { g_default_mode = mode; }

Progress::Progress(std::string stage, int64_t total, std::string unit, Mode mode, std::FILE* out)
    : stage_(std::move(stage)), unit_(std::move(unit)), total_(total), mode_(mode), out_(out) {
  if (mode_ == Mode::kAuto) mode_ = g_default_mode.load();
  if (mode_ == Mode::kAuto) mode_ = isatty(fileno(out_)) ? Mode::kBar : Mode::kLines;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (mode_ == Mode::kLines) {
    if (total_ > 0)
      std::fprintf(out_, "[%s] started: %lld %s\n", stage_.c_str(), static_cast<long long>(total_),
                   unit_.c_str());
    else
      std::fprintf(out_, "[%s] started\n", stage_.c_str());
    std::fflush(out_);
  }
}

Progress::~Progress() {
  // Unwinding: say the stage stopped rather than print a misleading "done".
  if (!finished_ && std::uncaught_exceptions() > 0) {
    finished_ = true;
    if (mode_ != Mode::kQuiet) {
      std::fprintf(out_, "%s[%s] stopped after %lld %s\n", mode_ == Mode::kBar ? "\n" : "",
                   stage_.c_str(), static_cast<long long>(done_), unit_.c_str());
      std::fflush(out_);
    }
    return;
  }
  finish();
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::set_total(int64_t total) { total_ = total; }

void Progress::advance(int64_t items) {
  done_ += items;
  if (mode_ == Mode::kQuiet) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (mode_ == Mode::kBar ? kBarRedrawSeconds : kLineEverySeconds)) {
    last_draw_ = now;
    draw(false);
  }
}

double Progress::finish() {
  if (finished_) return finished_seconds_;
  finished_ = true;
  finished_seconds_ = elapsed();
  if (mode_ != Mode::kQuiet) draw(true);
  return finished_seconds_;
}

void Progress::draw(bool final_line) {
  double secs = final_line ? finished_seconds_ : elapsed();
  double rate = secs > 0 ? done_ / secs : 0;
  std::string rate_text;
  {
    char buf[64];
    if (rate >= 100)
      std::snprintf(buf, sizeof buf, "%.0f %s/s", rate, unit_.c_str());
    else
      std::snprintf(buf, sizeof buf, "%.2f %s/s", rate, unit_.c_str());
    rate_text = buf;
  }
  std::string eta = "";
  if (!final_line && total_ > 0 && rate > 0 && done_ < total_)
    eta = ", ETA " + format_duration((total_ - done_) / rate);

  if (mode_ == Mode::kBar) {
    constexpr int kWidth = 30;
    std::string bar;
    if (total_ > 0) {
      int filled = static_cast<int>(kWidth * std::min<double>(1.0, double(done_) / total_));
      bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    }
    std::fprintf(out_, "\r\033[K%-28s %s%lld", stage_.c_str(), bar.c_str(),
                 static_cast<long long>(done_));
    if (total_ > 0) std::fprintf(out_, "/%lld", static_cast<long long>(total_));
    std::fprintf(out_, " %s  %s%s%s", unit_.c_str(), rate_text.c_str(), eta.c_str(),
                 final_line ? (" in " + format_duration(secs) + "\n").c_str() : "");
  } else {
    std::fprintf(out_, "[%s] %s %lld", stage_.c_str(), final_line ? "done" : "at",
                 static_cast<long long>(done_));
    if (total_ > 0) std::fprintf(out_, "/%lld", static_cast<long long>(total_));
    std::fprintf(out_, " %s, %s%s%s\n", unit_.c_str(), rate_text.c_str(), eta.c_str(),
                 final_line ? (", " + format_duration(secs)).c_str() : "");
  }
  std::fflush(out_);
}

}  // namespace n2v
