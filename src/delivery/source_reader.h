// Where a delivery stream's records come from: its direct-put journal (one shard, index 0, kept
// 24 hours as Firehose keeps records) or the shards of a Kinesis stream (KinesisStreamAsSource),
// read in lineage order: a child only once its parents are read to their end. A Kinesis record in
// the KPL's aggregated format is read as its user records, as Firehose does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "log/shard_storage.h"
#include "stream/stream_store.h"

namespace eddy::delivery {

struct SourceRecord {
  TimestampMs arrival;
  uint32_t shard;
  uint64_t offset;
  std::string data;
  std::string partition_key;  // of a Kinesis-sourced record
  // A user record of a KPL aggregate: its place there (records of one aggregate share `offset`).
  std::optional<uint32_t> subsequence;
  // A KPL aggregate that could not be unpacked (`data` holds it whole): why. It goes to the
  // delivery's failure output, never to the destination.
  std::string deaggregation_error;
};

struct SourceShard {
  uint32_t index;
  std::vector<uint32_t> parents;
};

class SourceReader {
 public:
  // `journal` for a direct-put delivery stream; otherwise the Kinesis stream `stream`.
  SourceReader(std::shared_ptr<log::ShardStorage> journal, const stream::StreamStore& store, std::string stream)
      : journal_(std::move(journal)), store_(store), stream_(std::move(stream)) {}

  bool direct_put() const { return journal_ != nullptr; }
  const std::string& stream() const { return stream_; }  // empty for direct put

  // The shards there are now, with their parents.
  std::vector<SourceShard> shards() const;

  struct Read {
    uint64_t next;  // where the next read continues
    bool done;      // a closed Kinesis shard read to its end
  };
  // Appends the records of [from, to) of `shard` to `out` (to = 0: what is there, up to a batch);
  // offsets count Kinesis records, so an aggregate's user records come all or none.
  // A read that fails appends nothing and says to continue from `from`.
  Read read(uint32_t shard, uint64_t from, uint64_t to, std::vector<SourceRecord>& out) const;

  // Drops journal records older than the retention, at most once a minute (direct put only).
  void apply_retention(TimestampMs now);

 private:
  std::shared_ptr<log::ShardStorage> journal_;
  const stream::StreamStore& store_;
  std::string stream_;
  TimestampMs last_retention_ = 0;
};

}  // namespace eddy::delivery
