// An application's outputs: the rows each in-application stream (or Flink sink table, or job
// sink) emits, written exactly once to a stream or a delivery stream. Each row is written under
// its ordinal ("<application>/<in-application stream>:<n>"); a checkpoint keeps the next ordinal,
// the rows not yet written and where each destination ended, so that after a restart the replay
// passes over the rows the previous run already wrote. Used by one runner thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "host/checkpoint.h"
#include "log/group_commit.h"
#include "stream/stream_store.h"

namespace eddy::host {

// Where outputs to delivery streams (KinesisFirehoseOutput) go: a delivery stream's journal.
struct DeliveryOutput {
  // Journals rows durably, each under its key (the row's ordinal).
  std::function<Status(const std::string& delivery_stream, const std::vector<std::string_view>& rows,
                       const std::vector<std::string_view>& keys)>
      put;
  // The journal's end now, and its (key, row) records from an offset on: exactly-once outputs
  // after a restart, as with streams.
  std::function<Result<uint64_t>(const std::string& delivery_stream)> end;
  std::function<Status(const std::string& delivery_stream, uint64_t from,
                       const std::function<void(std::string_view key, std::string_view row)>& each)>
      scan;
};

// What the writer needs of its runner: error_stream rows, and pauses that a stop cuts short.
struct OutputContext {
  std::function<void(const char* level, const char* error_name, const std::string& message)> report;
  std::function<void(std::chrono::milliseconds)> pause;
  const std::atomic<bool>* stop = nullptr;
};

class OutputWriter {
 public:
  struct Destination {
    std::string stream;
    bool delivery = false;  // a delivery stream (KinesisFirehoseOutput), not a Kinesis stream
    bool csv = false;
    std::vector<std::string> pending;
    std::string output;      // the in-application stream (or Flink sink table, or job sink)
    std::string key;         // in the checkpoint: "<in-application stream> -> <destination>"
    std::string key_prefix;  // of the partition keys of its records: "<application>/<in-application stream>:"
    uint64_t ordinal = 0;    // of the next row written (its partition key)
    // After a restore: the rows the previous run wrote after its last checkpoint (how many of
    // each, and the last ordinal among them). The replay emits them again — not always in the
    // same order: a window's groups come in the order their first rows did, and rows of different
    // shards may interleave differently than they did live — so up to that ordinal a row is
    // passed over if the previous run wrote the same row. Until then, checkpoints keep the marks
    // they were found from.
    std::unordered_map<std::string, uint32_t> written;
    uint64_t written_through = 0;
    std::map<uint32_t, uint64_t> marks;  // destination shard ends of the checkpoint in effect
  };

  OutputWriter(stream::StreamStore& store, log::GroupCommitter& committer, DeliveryOutput delivery,
               OutputContext context)
      : store_(store), committer_(committer), delivery_(std::move(delivery)), context_(std::move(context)) {}

  // A destination of `application`'s output `output`; its rows are appended to pending().
  Destination& add(const std::string& application, const std::string& output, const std::string& target, bool delivery,
                   bool csv);
  const std::vector<std::unique_ptr<Destination>>& destinations() const { return destinations_; }

  // From a checkpoint: ordinals, unwritten rows, and the rows written since it was taken.
  Status restore(const Checkpoint& c);
  // Writes every destination's pending rows, durably, in order; rows that cannot be written yet
  // stay pending (reported) and nothing after them is written. Returns false if a write failed.
  bool write();
  // The outputs' part of a checkpoint.
  std::vector<OutputCheckpoint> checkpoint();

 private:
  Status collect_written(Destination& d);

  stream::StreamStore& store_;
  log::GroupCommitter& committer_;
  DeliveryOutput delivery_;
  OutputContext context_;
  std::vector<std::unique_ptr<Destination>> destinations_;
};

}  // namespace eddy::host
