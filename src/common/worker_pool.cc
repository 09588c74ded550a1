#include "common/worker_pool.h"

#include <utility>

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

void WorkerPool::start(size_t parts, std::function<void(size_t)> fn) {
  if (parts > size()) parts = size();
  {
    std::lock_guard lock(mu_);
    fn_ = std::move(fn);
    parts_ = parts;
    pending_ = parts > 1 ? parts - 1 : 0;
    ++generation_;
  }
  if (parts > 1) start_.notify_all();
}

void WorkerPool::finish() {
  if (parts_ > 0) fn_(0);
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
  fn_ = nullptr;
  parts_ = 0;
}

void WorkerPool::loop(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(size_t)>* fn = nullptr;  // fn_ stays until finish() has seen every part
    {
      std::unique_lock lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= parts_) continue;  // this job has fewer parts than workers
      fn = &fn_;
    }
    (*fn)(index);
    std::lock_guard lock(mu_);
    if (--pending_ == 0) done_.notify_all();
  }
}

}  // namespace eddy
