// Where one shard's records live: the seam between the stream store and a storage backend.
// ShardLog (a directory of segments on local disk) is today's implementation; cluster mode puts
// a replicated one (a JetStream stream per shard) behind the same calls.
//
// Who calls what: the stream store appends (PutRecord(s), one batch per shard per call, from
// the HTTP threads, serialised per shard by the implementation), reads and finds by time (any
// thread, concurrently with appends), trims (its background thread) and seals (resharding). The
// group committer syncs (its own thread). Offsets are per shard, dense and increasing; arrival
// times never decrease within a shard.
#pragma once

#include <optional>
#include <span>

#include "common/error.h"
#include "log/readable_signal.h"
#include "log/record.h"

namespace eddy::log {

struct AppendResult {
  Offset first_offset;
  uint32_t count;
  TimestampMs arrival_ms;
};

struct ReadResult {
  std::vector<RecordView> records;
  Offset next_offset = 0;  // where the next read continues
  // Keep the views' bytes alive (a backend's own buffers; for ShardLog, the buffers it read its segments into).
  std::vector<std::shared_ptr<const void>> keep_alive;
};

class ShardStorage {
 public:
  virtual ~ShardStorage() = default;

  // Appends the records as one batch with one arrival time: `now`, or the previous batch's time
  // if the clock went backwards. Refused once the shard is sealed.
  virtual Result<AppendResult> append(std::span<const AppendRecord> records, TimestampMs now) = 0;
  // Makes every append that returned before this call durable, then readable (see LogOptions).
  virtual Status sync() = 0;
  virtual bool has_unsynced() const = 0;

  // Up to `max_records` records / `max_bytes` bytes from `from`; a position before the oldest
  // retained record starts at the oldest.
  virtual Result<ReadResult> read(Offset from, size_t max_records, size_t max_bytes) const = 0;
  // First offset whose arrival time is >= ts (end_offset() if none).
  virtual Result<Offset> offset_for_time(TimestampMs ts) const = 0;
  // Arrival time of the record at `offset`, if it is retained and readable.
  virtual Result<TimestampMs> arrival_of(Offset offset) const = 0;

  virtual Offset start_offset() const = 0;    // oldest retained record
  virtual Offset end_offset() const = 0;      // one past the newest readable record
  virtual Offset written_offset() const = 0;  // one past the newest appended record
  virtual TimestampMs last_arrival_ms() const = 0;
  virtual std::optional<TimestampMs> oldest_arrival_ms() const = 0;  // nullopt when empty

  // Retention: drops records older than `cutoff` (a backend may keep some: whole segments go).
  virtual Status trim_before(TimestampMs cutoff) = 0;
  // No appends from now on (a parent shard after a split or merge). Once it returns OK, no append
  // can succeed any more, so written_offset() is final.
  virtual Status seal() = 0;
  // Removes the shard's records for good; the object must not be used afterwards.
  virtual void destroy() = 0;

  // Notified whenever end_offset() advances through this object (an implementation calls
  // readable().notify() after publishing records to readers).
  const ReadableSignal& readable() const { return readable_; }
  ReadableSignal& readable() { return readable_; }

 private:
  ReadableSignal readable_;
};

}  // namespace eddy::log
