// Tells whoever waits on a shard that records became readable, so that a push consumer
// (SubscribeToShard) hears of an append when it happens instead of polling for it. Waiters are
// called on the thread that made the records readable (the group committer, an appender), so they
// must be quick: post work elsewhere, never block.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace eddy::log {

class ReadableSignal {
 public:
  using Waiter = std::function<void()>;

  // Returns an id for remove(). A waiter may still be running when remove() returns, so it must
  // hold what it touches (e.g. a weak pointer to its subscription).
  uint64_t add(Waiter waiter) {
    std::lock_guard lock(mu_);
    const uint64_t id = next_id_++;
    waiters_.emplace(id, std::move(waiter));
    count_.store(waiters_.size(), std::memory_order_release);
    if (waiters_.size() == 1 && watched_) watched_(true);
    return id;
  }

  void remove(uint64_t id) {
    std::lock_guard lock(mu_);
    if (waiters_.erase(id) == 0) return;
    count_.store(waiters_.size(), std::memory_order_release);
    if (waiters_.empty() && watched_) watched_(false);
  }

  // Called with true when the first waiter comes and false when the last goes, in order (under
  // the signal's lock: it must not wait for notify()). A backend that learns of appends made
  // elsewhere (another cluster node's) listens only meanwhile.
  void set_watched_hook(std::function<void(bool)> hook) {
    std::lock_guard lock(mu_);
    watched_ = std::move(hook);
  }

  // Cheap when nobody waits: one atomic load (it runs on every sync of every shard).
  void notify() const {
    if (count_.load(std::memory_order_acquire) == 0) return;
    std::vector<Waiter> now;
    {
      std::lock_guard lock(mu_);
      now.reserve(waiters_.size());
      for (const auto& [_, w] : waiters_) now.push_back(w);
    }
    for (const auto& w : now) w();
  }

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, Waiter> waiters_;
  std::function<void(bool)> watched_;
  uint64_t next_id_ = 1;
  std::atomic<size_t> count_{0};
};

}  // namespace eddy::log
