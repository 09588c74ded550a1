#include "common/worker_pool.h"

namespace eddy {

WorkerPool::WorkerPool(size_t threads) {
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { loop(i); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerPool::run(size_t parts, const std::function<void(size_t)>& fn) {
  if (parts == 0) return;
  if (parts > size()) parts = size();
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    parts_ = parts;
    pending_ = parts - 1;
    ++generation_;
  }
  if (parts > 1) start_.notify_all();
  fn(0);
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
  fn_ = nullptr;
}

void WorkerPool::loop(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(size_t)>* fn = nullptr;
    {
      std::unique_lock lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= parts_) continue;  // this job has fewer parts than workers
      fn = fn_;
    }
    (*fn)(index);
    std::lock_guard lock(mu_);
    if (--pending_ == 0) done_.notify_all();
  }
}

}  // namespace eddy
