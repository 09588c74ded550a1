// A delivery stream whose destination is an eddy stream (an HTTP endpoint destination whose Url is
// a Kinesis stream ARN; see delivery_host.cc). Each delivered record becomes one stream record.
//
// Exactly-once across crashes: every record's partition key names its source position
// (`<delivery stream>:<shard>-<offset>`), and before the first append the caller persists the end
// of every target shard (`marks`, in the intent). A retried delivery first collects the keys
// already appended after the marks and appends only the others.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "log/group_commit.h"
#include "stream/stream_store.h"

namespace eddy::delivery {

struct StreamRecord {
  std::string partition_key;
  std::string data;
};

struct StreamDeliveryResult {
  bool delivered = false;
  int attempts = 0;
  std::string error_code;  // Kinesis.* when not delivered
  std::string error_message;
  std::vector<size_t> too_large;  // records over the stream's record size limit (never retried)
  std::vector<size_t> refused;    // records not appended when not delivered
  bool uncertain = false;         // a commit failed: appended records may or may not be durable
};

class StreamSink {
 public:
  StreamSink(stream::StreamStore& store, log::GroupCommitter& committer, const Clock& clock)
      : store_(store), committer_(committer), clock_(clock) {}

  // The end of every shard of `target` now.
  Result<std::map<uint32_t, uint64_t>> marks(const std::string& target) const;
  // The partition keys appended to `target` after `marks` (shards absent from marks: from their start).
  std::set<std::string> keys_after(const std::string& target, const std::map<uint32_t, uint64_t>& marks) const;
  // Appends the records (durably) whose keys are not in `skip`; retries refusals with backoff for
  // `retry_seconds` or until `cancelled`.
  StreamDeliveryResult append(const std::string& target, const std::vector<StreamRecord>& records,
                              const std::set<std::string>& skip, int retry_seconds,
                              const std::function<bool()>& cancelled) const;

 private:
  stream::StreamStore& store_;
  log::GroupCommitter& committer_;
  const Clock& clock_;
};

}  // namespace eddy::delivery
