// Per-stream counters behind /metrics and the dashboard, named after their CloudWatch
// counterparts. Counters count since the server started (Prometheus counters may reset); the
// gauges hold the value of the latest GetRecords call.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace eddy::stream {

struct StreamCounters {
  std::atomic<uint64_t> incoming_records{0};     // IncomingRecords: records accepted by PutRecord(s)
  std::atomic<uint64_t> incoming_bytes{0};       // IncomingBytes: their data bytes
  std::atomic<uint64_t> put_failed_records{0};   // PutRecords entries refused (throttled, failed)
  std::atomic<uint64_t> get_records_calls{0};    // GetRecords.Success
  std::atomic<uint64_t> outgoing_records{0};     // GetRecords.Records
  std::atomic<uint64_t> outgoing_bytes{0};       // GetRecords.Bytes
  std::atomic<int64_t> iterator_age_ms{0};       // GetRecords.IteratorAgeMilliseconds
  std::atomic<int64_t> millis_behind_latest{0};  // MillisBehindLatest
};

// One shard's counters, for the shard-level metrics EnableEnhancedMonitoring turns on (CloudWatch's
// names). Counted always (a relaxed add each), shown only for the metrics enabled.
struct ShardCounters {
  std::atomic<uint64_t> incoming_records{0}, incoming_bytes{0};
  std::atomic<uint64_t> outgoing_records{0}, outgoing_bytes{0};
  std::atomic<uint64_t> write_throttled{0}, read_throttled{0};  // (Write|Read)ProvisionedThroughputExceeded
  std::atomic<int64_t> iterator_age_ms{0};                      // IteratorAgeMilliseconds of the latest read
};

struct ShardFigures {
  uint32_t index = 0;
  uint64_t incoming_records = 0, incoming_bytes = 0, outgoing_records = 0, outgoing_bytes = 0;
  uint64_t write_throttled = 0, read_throttled = 0;
  int64_t iterator_age_ms = 0;
};

// One stream's figures at one moment.
struct StreamMetrics {
  std::string name;
  uint64_t id = 0;  // tells a re-created stream of the same name from the old one
  std::string status;
  size_t open_shards = 0;
  uint64_t incoming_records = 0, incoming_bytes = 0, put_failed_records = 0;
  uint64_t get_records_calls = 0, outgoing_records = 0, outgoing_bytes = 0;
  int64_t iterator_age_ms = 0, millis_behind_latest = 0;
  // EnableEnhancedMonitoring's metrics (sorted) and, when there are any, every open shard's figures.
  std::vector<std::string> shard_level_metrics;
  std::vector<ShardFigures> shards;
};

}  // namespace eddy::stream
