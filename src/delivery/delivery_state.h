// What a delivery stream's worker keeps (state_files.h: files in its folder, or blobs in cluster
// mode) to deliver exactly once:
//   state.json   the positions delivered up to (exclusive) per source shard, the shards read to
//                their end, and the figures (objects, records, failed records, last delivery);
//   intent.json  the object a round is writing: its key, its error key and its source ranges,
//                fixed before the object is written, so that after a crash the same ranges are
//                read again and the same object is written again; for an eddy stream as
//                destination, also the target's shard ends before the first append (`target`).
// A file whose contents cannot be understood is kept aside (`<file>.unreadable-<ms>[-n]`) for a
// person to look at and reported, never deleted: an intent's object may have been written in
// part. A file that cannot be read now (a disk or cluster error) is an error: the worker retries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "delivery/state_files.h"

namespace eddy::delivery {

// Source shard -> [from, to): the records an object holds.
using SourceRanges = std::map<uint32_t, std::pair<uint64_t, uint64_t>>;

class DeliveryPositions {
 public:
  // Reads state.json. Positions that cannot be understood are kept aside and reported, and
  // delivery starts over from the oldest retained record: records may be delivered twice (as
  // Firehose may), none is skipped. An error if state.json cannot be read now.
  static Result<DeliveryPositions> load(const StateFiles& files, const std::string& name, const Clock& clock);

  std::map<uint32_t, uint64_t> positions;  // delivered up to (exclusive)
  std::set<uint32_t> finished;             // shards read to their end

  // Records written to the error prefix (counted from their lines) since the last save.
  void count_failed(const std::string& lines);
  // Writes the positions and the figures after an object is written. A failure is reported and
  // leaves the file as it was: the caller retries.
  bool save(uint64_t add_objects, uint64_t add_records);

 private:
  DeliveryPositions(StateFiles files, std::string name, const Clock& clock)
      : files_(std::move(files)), name_(std::move(name)), clock_(&clock) {}

  StateFiles files_;
  std::string name_;
  const Clock* clock_;
  nlohmann::json state_ = nlohmann::json::object();  // as last saved
  uint64_t failed_since_save_ = 0;
};

struct Intent {
  std::string key;
  std::string error_key;
  SourceRanges ranges;
};

class IntentRecord {
 public:
  explicit IntentRecord(StateFiles files) : files_(std::move(files)) {}

  // A new round's intent (no target marks yet).
  bool write(const Intent& intent) const;
  // The interrupted round's intent, if any: an error when it cannot be read now; throws
  // std::exception when its contents cannot be understood (keep_aside then).
  Result<std::optional<Intent>> read() const;
  // The target's shard ends recorded by this round, if any; throws when the file cannot be read.
  std::optional<std::map<uint32_t, uint64_t>> target_marks() const;
  // Adds the target's shard ends to the intent written by this round.
  bool write_target_marks(const std::map<uint32_t, uint64_t>& marks) const;
  bool remove() const;
  // Keeps an intent that cannot be understood for a person to look at (state_files.h).
  std::string keep_aside(TimestampMs now) const;

 private:
  static constexpr const char* kFile = "intent.json";
  StateFiles files_;
};

}  // namespace eddy::delivery
