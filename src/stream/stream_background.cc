// StreamStore's background thread: the status changes that wait status_delay_ms (CREATING and
// UPDATING becoming ACTIVE, a deleted stream leaving the registry) and retention, which trims
// every shard's log of what is older than its stream's retention period.

#include "stream/stream_store.h"

#include <algorithm>

#include "common/fault_log.h"

namespace eddy::stream {

void StreamStore::schedule(TimestampMs delay, std::function<void()> fn) {
  {
    std::lock_guard lock(tasks_mu_);
    tasks_.emplace(clock_.now_ms() + delay, std::move(fn));
  }
  tasks_cv_.notify_all();
}

void StreamStore::run_background() {
  TimestampMs next_retention = clock_.now_ms() + options_.retention_check_ms;
  std::unique_lock lock(tasks_mu_);
  while (!stopping_) {
    const TimestampMs now = clock_.now_ms();
    if (!tasks_.empty() && tasks_.begin()->first <= now) {
      auto fn = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
      lock.unlock();
      fn();
      lock.lock();
      continue;
    }
    if (now >= next_retention) {
      lock.unlock();
      enforce_retention();
      lock.lock();
      next_retention = now + options_.retention_check_ms;
      continue;
    }
    TimestampMs wake = next_retention;
    if (!tasks_.empty()) wake = std::min(wake, tasks_.begin()->first);
    // Wake at least every 50 ms: the clock may be a test clock that jumps.
    tasks_cv_.wait_for(lock, std::chrono::milliseconds(std::clamp<TimestampMs>(wake - now, 1, 50)));
  }
}

void StreamStore::enforce_retention() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::shared_lock lock(mu_);
    for (const auto& [_, s] : by_name_) streams.push_back(s);
  }
  const TimestampMs now = clock_.now_ms();
  for (const auto& s : streams) {
    std::vector<std::shared_ptr<Shard>> shards;
    TimestampMs cutoff;
    {
      std::shared_lock lock(s->mu);
      if (s->status == StreamStatus::kDeleting) continue;
      shards = s->shards;
      cutoff = now - TimestampMs{s->retention_hours} * 3600 * 1000;
    }
    for (const auto& sh : shards) {
      if (auto st = sh->log->trim_before(cutoff); !st)
        log_fault("retention of " + sh->info.id() + " of a stream", st.error().message);  // tried again next round
    }
  }
}

}  // namespace eddy::stream
