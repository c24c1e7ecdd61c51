#pragma once
// Internal to src/server: the worker pool heavy routes run on (docs/API.md, "Limits"), so a
// few slow requests (a map, a large compare) never occupy the I/O threads that answer the
// light ones. Admission control per route: at most `route_limit` jobs of one route run at
// once and at most `queue_limit` more wait; past that submit() refuses and the server answers
// 503 with Retry-After. Jobs start in submission order among those whose route has room.
// Socket-free (the server posts the answer back to the connection's strand).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace n2v::detail {

class HeavyPool {
 public:
  HeavyPool(int workers, int route_limit, int queue_limit);
  ~HeavyPool();  // stop()
  HeavyPool(const HeavyPool&) = delete;
  HeavyPool& operator=(const HeavyPool&) = delete;

  // Queues `job` for `route`; false (and `job` untouched by any thread) when that route
  // already has route_limit running and queue_limit waiting, or the pool is stopping.
  bool submit(const std::string& route, std::function<void()> job);
  // Seconds a refused client should wait: the route's recent mean job time times the jobs
  // ahead of it per slot, 1 to 60.
  int retry_after_seconds(const std::string& route) const;
  // Jobs waiting or running.
  size_t pending() const;
  // Drops the jobs still waiting (destroyed on this thread), waits for the running ones and
  // joins the workers. Idempotent.
  void stop();

 private:
  struct Job {
    std::string route;
    std::function<void()> run;
  };
  struct RouteState {
    int running = 0, waiting = 0;
    double mean_seconds = 1.0;  // moving average of job time
  };
  void work();

  const int route_limit_, queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> queue_;
  std::map<std::string, RouteState> routes_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace n2v::detail
