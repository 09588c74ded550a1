// A stream: its shards (open and closed, with lineage), their logs, and its settings.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "log/shard_log.h"
#include "stream/hash_range.h"
#include "stream/stream_metrics.h"
#include "stream/throttle.h"

namespace eddy::stream {

enum class StreamStatus { kCreating, kActive, kUpdating, kDeleting };
enum class StreamMode { kProvisioned, kOnDemand };

const char* to_string(StreamStatus s);
const char* to_string(StreamMode m);

struct ShardInfo {
  uint32_t index = 0;
  HashKeyRange range{};
  std::optional<uint32_t> parent;
  std::optional<uint32_t> adjacent_parent;
  TimestampMs created_ms = 0;
  std::optional<TimestampMs> closed_ms;
  log::Offset end_offset = 0;  // one past the last record; meaningful once closed

  bool open() const { return !closed_ms.has_value(); }
  std::string id() const;
};

std::string shard_id(uint32_t index);
// "shardId-000000000007", "shardId-7" and any id ending in "-7" (or "7") -> 7; nullopt if the
// part after the last hyphen is not a number.
std::optional<uint32_t> parse_shard_id(std::string_view id);

struct Shard {
  ShardInfo info;
  std::shared_ptr<log::ShardStorage> log;
  ShardThrottle throttle;
  // Shared with the Shard that replaces this one when a cluster node reloads the stream.
  std::shared_ptr<ShardCounters> counters = std::make_shared<ShardCounters>();
};

// An enhanced fan-out consumer (RegisterStreamConsumer): CREATING until the store's status delay
// has passed since it was registered, then ACTIVE.
struct Consumer {
  std::string name;
  TimestampMs created_ms = 0;
  std::map<std::string, std::string> tags;
};

struct Stream {
  std::string name;
  uint64_t id = 0;  // distinguishes a re-created stream of the same name
  TimestampMs created_ms = 0;
  int retention_hours = 24;
  StreamMode mode = StreamMode::kProvisioned;
  uint32_t max_record_kib = 1024;
  std::map<std::string, std::string> tags;
  std::vector<TimestampMs> scaling_history;  // UpdateShardCount calls, for its 10-per-24h limit
  // Settings clients read back (stream_settings.cc): UpdateStreamWarmThroughput's target, the
  // shard-level metrics EnableEnhancedMonitoring turned on (sorted, "ALL" expanded), and the
  // document PutResourcePolicy stored (empty if none). Guarded by `mu`.
  std::optional<uint32_t> warm_throughput_mibps;
  std::vector<std::string> shard_level_metrics;
  std::string resource_policy;
  std::vector<Consumer> consumers;  // by name; guarded by `mu`
  // StartStreamEncryption's KMS key id (shown as given); empty: records are stored in clear.
  std::string encryption_key_id;
  uint64_t revision = 0;  // of its document in the metadata store; guarded by `mu`

  // Guarded by `mu`.
  StreamStatus status = StreamStatus::kCreating;
  std::vector<std::shared_ptr<Shard>> shards;  // indexed by shard index
  std::vector<Shard*> open_shards;             // sorted by starting hash key

  mutable std::shared_mutex mu;
  // Atomics, updated under a shared lock or none; shared with the Stream that replaces this one
  // when a cluster node reloads its document, so that a change of tags does not reset them.
  std::shared_ptr<StreamCounters> counters = std::make_shared<StreamCounters>();

  Shard* route(uint128 hash_key) const;  // needs mu (shared); nullptr only if no open shard covers it
  void rebuild_open_shards();            // needs mu (exclusive)
  Shard* shard(uint32_t index) const { return index < shards.size() ? shards[index].get() : nullptr; }
};

}  // namespace eddy::stream
