// The append-only log of one shard on local disk: a directory of segments (the local ShardStorage).
//
// Durability contract: append() writes the batch to the OS; sync() makes everything appended
// before it durable. With `visible_after_sync` readers see a record only once it is durable, so a
// consumer never observes a record that a crash could take back.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "log/record.h"
#include "log/segment.h"
#include "log/shard_storage.h"

namespace eddy::log {

struct LogOptions {
  uint64_t segment_bytes = 64ull << 20;     // roll to a new segment past this size
  TimestampMs segment_ms = 60 * 60 * 1000;  // ...or when the segment's first record is this old
  size_t index_interval_bytes = 4096;       // sparse index density
  bool visible_after_sync = true;           // readers see only durable records
  // Fault injection for tests: called before each fsync of a segment; an error stands for a
  // failed fsync.
  std::function<Status()> before_sync;
};

class ShardLog final : public ShardStorage {
 public:
  static Result<std::unique_ptr<ShardLog>> open(const std::filesystem::path& dir, LogOptions options);
  ~ShardLog() override;

  // Appends the records as one batch with one arrival time: `now`, or the previous batch's time
  // if the clock went backwards, so arrival times never decrease within a shard.
  Result<AppendResult> append(std::span<const AppendRecord> records, TimestampMs now) override;

  // Makes every append that returned before this call durable; then publishes it to readers.
  Status sync() override;
  bool has_unsynced() const override { return written_.load() != synced_.load(); }

  // Reads up to `max_records` records / `max_bytes` bytes (data + partition key) from `from`.
  // A position before the oldest retained record starts at the oldest.
  Result<ReadResult> read(Offset from, size_t max_records, size_t max_bytes) const override;

  // First offset whose arrival time is >= ts (end_offset() if none).
  Result<Offset> offset_for_time(TimestampMs ts) const override;
  // Arrival time of the record at `offset`, if it is retained and visible.
  Result<TimestampMs> arrival_of(Offset offset) const override;

  Offset start_offset() const override;  // oldest retained record
  Offset end_offset() const override;    // one past the newest visible record
  TimestampMs last_arrival_ms() const override;
  // Arrival time of the oldest retained record; nullopt when the log holds none.
  std::optional<TimestampMs> oldest_arrival_ms() const override;
  Offset written_offset() const override { return written_.load(); }

  // Deletes whole sealed segments whose newest record arrived before `cutoff`.
  Status drop_segments_before(TimestampMs cutoff);
  Status trim_before(TimestampMs cutoff) override { return drop_segments_before(cutoff); }
  Status seal() override {
    std::lock_guard lock(append_mu_);  // an append in flight completes first
    sealed_ = true;
    return {};
  }
  // Removes the log's files; the object must not be used afterwards.
  void destroy() override;

 private:
  ShardLog(std::filesystem::path dir, LogOptions options);
  Status roll(Offset next_base);
  // After a failed fsync of a segment: stops the log, and returns the error to report.
  tl::unexpected<Error> fail(const Error& fsync_error);
  tl::unexpected<Error> failure() const;
  std::shared_ptr<Segment> segment_for(Offset offset) const;  // needs mu_ shared

  std::filesystem::path dir_;
  LogOptions options_;
  std::mutex append_mu_;          // serialises appenders and rolls
  std::mutex sync_mu_;            // serialises sync()
  mutable std::shared_mutex mu_;  // guards segments_ and their indexes
  std::vector<std::shared_ptr<Segment>> segments_;
  std::atomic<Offset> written_{0};
  std::atomic<Offset> synced_{0};   // covered by an fsync
  std::atomic<Offset> visible_{0};  // readers see offsets below this
  std::atomic<TimestampMs> last_arrival_{0};
  std::atomic<bool> sealed_{false};
  std::atomic<bool> failed_{false};  // an fsync failed: see fail()
  mutable std::mutex failure_mu_;    // guards failure_
  std::string failure_;              // why
  std::string scratch_;              // batch encoding buffer, under append_mu_
};

}  // namespace eddy::log
