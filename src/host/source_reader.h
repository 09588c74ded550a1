// An application's reading of its source stream: each shard in order, children only after every
// parent has been read to its end, several ranges of a shard per round on the runner's pool, and
// the records handed out merged by arrival time. Used by one runner thread; not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/worker_pool.h"
#include "stream/stream_store.h"

namespace eddy::host {

// A record read from the source stream, waiting to be merged into ROWTIME order. Its bytes are
// a copy in a buffer shared by the records copied together (copy_records): each followed by a
// newline, the buffer by simdjson's padding, so that the program parses a run of one shard's
// records in place as lines, and any record in place on its own. The buffer is held by the
// batch the record is in (SourceBatch), not by each record: records are plain values that move
// between threads without reference counts.
struct SourceCopy {
  // What few records have, kept in their buffer.
  struct Extra {
    std::string rejection;       // a corrupt KPL aggregate (`data`): why it cannot be unpacked
    std::string partition_key;   // only for whole records (SourceReader::set_whole_records)
    std::string rejection_name;  // the rejection's error row name (empty: Record_Parse_Error)
  };

  TimestampMs arrival;
  uint32_t shard;
  uint64_t offset;
  std::string_view data;  // in a SourceBuffer once copied
  const Extra* extra = nullptr;

  std::string_view rejection() const { return extra ? std::string_view(extra->rejection) : std::string_view(); }
  std::string_view partition_key() const { return extra ? std::string_view(extra->partition_key) : std::string_view(); }
  std::string_view rejection_name() const {
    return extra ? std::string_view(extra->rejection_name) : std::string_view();
  }
};

// The bytes of records copied together, and their extras (std::deque: they stay where they are).
struct SourceBuffer {
  std::string bytes;
  std::deque<SourceCopy::Extra> extras;
  const SourceCopy::Extra* add(SourceCopy::Extra extra) { return &extras.emplace_back(std::move(extra)); }
};

// Records handed out together, in ROWTIME order, with the buffers they are in.
struct SourceBatch {
  std::vector<SourceCopy> records;
  std::vector<std::shared_ptr<const SourceBuffer>> buffers;
};

// Copies the bytes `data` of each record points to (a read of the log, a Lambda's answer) into
// `into`'s bytes and points them there.
void copy_records(std::vector<SourceCopy>& records, SourceBuffer& into);

// One range of a shard, [from, from + read_batch) in offsets, read for a round.
struct RangeRead {
  uint32_t shard;
  uint64_t from;
  bool ok = false;  // read (else: an error, read again next round)
  std::vector<SourceCopy> records;
  std::shared_ptr<SourceBuffer> buffer;  // the records' copy
  size_t read_count = 0;                 // Kinesis records read (a KPL aggregate is one, of several user records)
  uint64_t next = 0;                     // the offset after the last record read
  bool finished = false;                 // the shard is closed and this read reached its end
};

// Reads `rd`'s range of `stream` and copies its records (copy_records); KPL aggregates are
// unpacked unless `whole` (SourceReader::set_whole_records).
void read_range(const stream::StreamStore& store, const std::string& stream, RangeRead& rd, size_t read_batch,
                bool whole);

class SourceReader {
 public:
  // Reads `read_batch` records at a time, up to this many reads of a shard per round.
  static constexpr size_t kReadBatchesPerRound = 4;

  SourceReader(const stream::StreamStore& store, std::string stream, WorkerPool& pool)
      : store_(store), stream_(std::move(stream)), pool_(pool) {}
  ~SourceReader() { wait(); }

  // Records as they are stored, KPL aggregates not unpacked, with their partition keys: what a
  // preprocessing Lambda gets (KDA hands it the stream's records).
  void set_whole_records(bool whole) { whole_ = whole; }

  const std::string& stream() const { return stream_; }
  const stream::StreamStore& store() const { return store_; }
  // Where reading goes on: the next offset of each shard, and the closed shards read to their end.
  void resume(std::map<uint32_t, uint64_t> positions, std::set<uint32_t> finished) {
    wait();
    positions_ = std::move(positions);
    finished_ = std::move(finished);
  }
  // Each open shard from its end now (a NOW start); closed shards count as read.
  Status start_at_latest();

  // One round, in three steps. begin_round lists the shards and returns the ones being read
  // (not read to their end, parents done), for event-time watermarks; nothing if the stream
  // cannot be listed now. read() fills each ready shard's buffer. take() hands out, in batches of
  // at most `read_batch`, the buffered records in arrival order up to the horizon every shard
  // with more to read has reached (see source_reader.cc).
  std::optional<std::vector<uint32_t>> begin_round();
  void read(size_t read_batch);
  // read() on the reader's own thread, returning at once: the program runs the records taken while
  // the next are read and copied. Every other call waits for it to end first.
  void read_ahead(size_t read_batch);
  std::vector<SourceBatch> take(size_t read_batch, const std::atomic<bool>& stop);

  // After begin_round: the one shard to read this round, and its next offset, when no other shard
  // has records to read and nothing read is waiting to be handed out. Its ranges, one after the
  // other, are then what take() would hand out, so the program's threads may read them
  // themselves (read_range; ApplicationRunner), and advance() says where reading goes on.
  std::optional<std::pair<uint32_t, uint64_t>> sole_shard() const;
  void advance(uint32_t shard, uint64_t next, bool more, bool finished);
  bool whole_records() const { return whole_; }

  // For a checkpoint: the first record not yet handed out of each shard, and the closed shards
  // handed out to their end.
  std::map<uint32_t, uint64_t> checkpoint_positions() const;
  std::vector<uint32_t> checkpoint_finished() const;

 private:
  void read(size_t read_batch, bool parallel);
  void wait() const;  // for read_ahead's read to end
  bool parents_done(const stream::ShardInfo& s) const;
  bool drained(uint32_t shard) const;

  const stream::StreamStore& store_;
  std::string stream_;
  WorkerPool& pool_;
  bool whole_ = false;
  std::map<uint32_t, uint64_t> positions_;  // next offset to read
  std::set<uint32_t> finished_;             // closed shards read to their end
  // A shard's records read but not yet handed out: runs of records copied together, in order.
  struct Run {
    std::shared_ptr<const SourceBuffer> buffer;
    std::vector<SourceCopy> records;
    size_t next = 0;  // the first not handed out
  };
  struct Buffered {
    std::deque<Run> runs;
    size_t count = 0;  // records in the runs not handed out
    bool empty() const { return count == 0; }
    SourceCopy& front() { return runs.front().records[runs.front().next]; }
    const SourceCopy& front() const { return runs.front().records[runs.front().next]; }
    const SourceCopy& back() const { return runs.back().records.back(); }
    void pop_front();
  };
  std::map<uint32_t, Buffered> buffered_;
  std::map<uint32_t, bool> more_;          // the last read of the shard came back full
  std::set<uint32_t> present_;             // the shards listed at the start of the round
  std::vector<stream::ShardInfo> shards_;  // as listed at the start of the round
  // read_ahead's thread (the second part of a two-part job; the first is the waiting caller's).
  // Its read runs alone: `pool_` is the program's then.
  // Made at the first read_ahead: a runner on several threads never reads ahead.
  mutable std::unique_ptr<WorkerPool> ahead_;
  mutable bool reading_ahead_ = false;
};

}  // namespace eddy::host
