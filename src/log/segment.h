// One segment file of a shard log: batches appended at the end, a sparse index in memory
// (and in `<base>.index` once the segment is sealed), recovery of a torn tail on open.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "log/batch_format.h"

namespace eddy::log {

// Every `index_interval_bytes` of batches, the first batch after the mark is indexed, so a seek by
// offset or arrival time reads at most that many bytes plus one batch.
struct IndexEntry {
  Offset offset;           // base offset of the indexed batch
  TimestampMs arrival_ms;  // its arrival time
  uint64_t position;       // byte position of the batch in the file
};

class Segment {
 public:
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  static std::string file_name(Offset base);  // 20-digit base offset + ".log"
  static Result<std::shared_ptr<Segment>> create(const std::filesystem::path& dir, Offset base);
  // Opens an existing file. With `recover`, scans every batch and truncates at the first invalid
  // one; otherwise trusts a valid index file when present.
  static Result<std::shared_ptr<Segment>> open(const std::filesystem::path& path, Offset base, bool recover,
                                               size_t index_interval_bytes);

  // Appends an encoded batch at the end. Not thread-safe: the shard log serialises appends.
  Status append(std::string_view batch, Offset base_offset, uint32_t count, TimestampMs arrival_ms,
                size_t index_interval_bytes);
  Status sync() const;
  Status write_index() const;  // persists the sparse index (when sealing)
  void remove_files() const;

  // Reads whole batches from `position` up to `limit` bytes of file (a batch crossing the limit is
  // read entirely); appends the raw bytes to `out`.
  Status read_at(uint64_t position, uint64_t limit, std::string& out) const;
  // Reads up to `n` bytes from `position` into `out`: the count read (short at the file's end).
  Result<size_t> read_into(uint64_t position, char* out, size_t n) const;

  // Byte position of the last indexed batch at or before `offset` / arriving before `ts`.
  uint64_t seek_offset(Offset offset) const;
  uint64_t seek_time(TimestampMs ts) const;
  // Byte position of the first indexed batch after `offset` (the batch holding `offset` ends there
  // or before), or the segment's size when none is.
  uint64_t seek_past(Offset offset) const;

  Offset base_offset() const { return base_; }
  Offset next_offset() const { return next_; }
  uint64_t size_bytes() const { return size_; }
  TimestampMs first_arrival_ms() const { return first_ts_; }
  TimestampMs last_arrival_ms() const { return last_ts_; }
  const std::filesystem::path& path() const { return path_; }
  bool empty() const { return next_ == base_; }

 private:
  Segment(std::filesystem::path path, int fd, Offset base);
  Status scan(bool truncate_invalid_tail, size_t index_interval_bytes);
  bool load_index();
  std::filesystem::path index_path() const;

  std::filesystem::path path_;
  uint64_t handle_;  // the file's descriptor, leased from FileHandles::shared() for each use
  Offset base_;
  Offset next_;
  uint64_t size_ = 0;
  uint64_t last_indexed_position_ = 0;
  TimestampMs first_ts_ = 0;
  TimestampMs last_ts_ = 0;
  std::vector<IndexEntry> index_;
};

}  // namespace eddy::log
