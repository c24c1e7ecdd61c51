#include "server/detail/heavy_pool.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace n2v::detail {

HeavyPool::HeavyPool(int workers, int route_limit, int queue_limit)
    : route_limit_(std::max(1, route_limit)), queue_limit_(std::max(0, queue_limit)) {
  for (int i = 0; i < std::max(1, workers); ++i) workers_.emplace_back([this] { work(); });
}

HeavyPool::~HeavyPool() { stop(); }

bool HeavyPool::submit(const std::string& route, std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    RouteState& r = routes_[route];
    // A job that could start at once still takes a queue place until a worker picks it, so
    // a queue limit of 0 means "only what can run now".
    if (r.running + r.waiting >= route_limit_ + queue_limit_) return false;
    ++r.waiting;
    queue_.push_back({route, std::move(job)});
  }
  ready_.notify_one();
  return true;
}

int HeavyPool::retry_after_seconds(const std::string& route) const {
  std::lock_guard lock(mutex_);
  const auto it = routes_.find(route);
  if (it == routes_.end()) return 1;
  const RouteState& r = it->second;
  const double ahead = static_cast<double>(r.running + r.waiting) / route_limit_;
  return static_cast<int>(std::clamp(std::ceil(ahead * r.mean_seconds), 1.0, 60.0));
}

size_t HeavyPool::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + running_;
}

void HeavyPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // The oldest job whose route has a free slot.
    auto next = queue_.end();
    ready_.wait(lock, [&] {
      if (stopping_) return true;
      next = std::find_if(queue_.begin(), queue_.end(),
                          [&](const Job& j) { return routes_[j.route].running < route_limit_; });
      return next != queue_.end();
    });
    if (stopping_) return;
    Job job = std::move(*next);
    queue_.erase(next);
    RouteState& r = routes_[job.route];
    --r.waiting;
    ++r.running;
    ++running_;
    lock.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    job.run();  // the server's jobs never throw (Api::handle is noexcept)
    job.run = nullptr;  // release what it holds (a connection) before taking the lock
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    lock.lock();
    RouteState& done = routes_[job.route];
    --done.running;
    --running_;
    done.mean_seconds = 0.7 * done.mean_seconds + 0.3 * s;
    // A slot of this route is free: a waiting job of it may start.
    ready_.notify_all();
  }
}

void HeavyPool::stop() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    dropped.swap(queue_);
    for (auto& [route, r] : routes_) r.waiting = 0;
  }
  ready_.notify_all();
  dropped.clear();  // outside the lock: a job's captures may do anything on destruction
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

}  // namespace n2v::detail
