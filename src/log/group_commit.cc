#include "log/group_commit.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "common/fault_log.h"

namespace eddy::log {

Result<FsyncPolicy> parse_fsync_policy(std::string_view text) {
  if (text == "always") return FsyncPolicy{FsyncMode::kAlways, 0};
  constexpr std::string_view kInterval = "interval=";
  if (text.starts_with(kInterval)) {
    int ms = 0;
    const auto digits = text.substr(kInterval.size());
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ms);
    if (ec == std::errc() && p == digits.data() + digits.size() && ms > 0) {
      return FsyncPolicy{FsyncMode::kInterval, ms};
    }
  }
  return make_error(
      Errc::kInvalidArgument,
      "--fsync must be 'always' or 'interval=<milliseconds>' (e.g. interval=100), got '" + std::string(text) + "'");
}

GroupCommitter::GroupCommitter(FsyncPolicy policy) : policy_(policy), thread_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() {
  stop();
}

void GroupCommitter::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GroupCommitter::commit(std::vector<std::shared_ptr<ShardStorage>> logs, std::function<void(Status)> done) {
  if (policy_.mode == FsyncMode::kInterval || logs.empty()) {
    done({});
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!stop_) {
      pending_.push_back({std::move(logs), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  // Stopped (or stopping): this commit's logs are synced here, as a round would sync them.
  std::sort(logs.begin(), logs.end());
  logs.erase(std::unique(logs.begin(), logs.end()), logs.end());
  Status status;
  for (const auto& l : logs) {
    if (auto st = l->sync(); !st) status = st;
  }
  done(status);
}

void GroupCommitter::track(const std::shared_ptr<ShardStorage>& log) {
  std::lock_guard lock(mu_);
  tracked_.push_back(log);
}

void GroupCommitter::run() {
  std::unique_lock lock(mu_);
  while (true) {
    if (policy_.mode == FsyncMode::kAlways) {
      cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (pending_.empty() && stop_) return;
      std::vector<Pending> round;
      round.swap(pending_);
      lock.unlock();
      std::vector<ShardStorage*> logs;
      for (const auto& p : round) {
        for (const auto& l : p.logs) logs.push_back(l.get());
      }
      std::sort(logs.begin(), logs.end());
      logs.erase(std::unique(logs.begin(), logs.end()), logs.end());
      Status status;
      for (auto* l : logs) {
        if (auto st = l->sync(); !st) status = st;
      }
      for (auto& p : round) p.done(status);
      lock.lock();
    } else {
      cv_.wait_for(lock, std::chrono::milliseconds(policy_.interval_ms), [this] { return stop_; });
      std::vector<std::shared_ptr<ShardStorage>> logs;
      std::erase_if(tracked_, [&logs](const std::weak_ptr<ShardStorage>& w) {
        auto l = w.lock();
        if (!l) return true;
        if (l->has_unsynced()) logs.push_back(std::move(l));
        return false;
      });
      const bool stopping = stop_;
      lock.unlock();
      // Interval mode acknowledged these writes already; a failed fsync is logged with its reason
      // (the bytes stay unsynced and the next round tries again).
      for (const auto& l : logs) {
        if (auto st = l->sync(); !st) log_fault("an interval fsync of a shard log", st.error().message);
      }
      lock.lock();
      if (stopping) return;
    }
  }
}

}  // namespace eddy::log
