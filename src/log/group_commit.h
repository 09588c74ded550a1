// Durability policy for all shard logs of a server.
//
// kAlways: an append is acknowledged only after an fsync that covers it. A single committer
//   thread takes every commit request waiting at that moment, fsyncs each log they touched once,
//   and completes them all: one fsync per log per round, however many appends wait (group commit).
//   Guarantee: an acknowledged record survives kill -9 and power loss.
// kInterval: appends are acknowledged once written to the OS; the committer fsyncs every log with
//   new data every `interval_ms`. Guarantee: survives kill -9 (the OS has the bytes); a power loss
//   may lose up to the last interval of acknowledged records.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"
#include "log/shard_storage.h"

namespace eddy::log {

enum class FsyncMode { kAlways, kInterval };

struct FsyncPolicy {
  FsyncMode mode = FsyncMode::kAlways;
  int interval_ms = 1000;
};

// Parses "always" or "interval=<ms>".
Result<FsyncPolicy> parse_fsync_policy(std::string_view text);

class GroupCommitter {
 public:
  explicit GroupCommitter(FsyncPolicy policy);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  const FsyncPolicy& policy() const { return policy_; }

  // kAlways: `done` runs on the committer thread once every append to `logs` that returned before
  // this call is durable. kInterval: `done` runs at once on the caller's thread.
  void commit(std::vector<std::shared_ptr<ShardStorage>> logs, std::function<void(Status)> done);

  // kInterval: logs to sync periodically (held weakly; a deleted log drops out).
  void track(const std::shared_ptr<ShardStorage>& log);

  // Completes every commit waiting (kAlways) or syncs the tracked logs once more (kInterval), and
  // ends the thread; later commits sync on the caller's thread. A server stops its committer
  // before the network layer its `done` callbacks answer through goes away.
  void stop();

 private:
  struct Pending {
    std::vector<std::shared_ptr<ShardStorage>> logs;
    std::function<void(Status)> done;
  };
  void run();

  FsyncPolicy policy_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<Pending> pending_;
  std::vector<std::weak_ptr<ShardStorage>> tracked_;
  std::thread thread_;
};

}  // namespace eddy::log
