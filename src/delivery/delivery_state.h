// What a delivery stream's worker keeps on disk, in its folder, to deliver exactly once:
//   state.json   the positions delivered up to (exclusive) per source shard, the shards read to
//                their end, and the figures (objects, records, failed records, last delivery);
//   intent.json  the object a round is writing: its key, its error key and its source ranges,
//                fixed before the object is written, so that after a crash the same ranges are
//                read again and the same object is written again; for an eddy stream as
//                destination, also the target's shard ends before the first append (`target`).
// A file that cannot be read is moved aside (`<file>.unreadable-<ms>[-n]`) for a person to look
// at and reported, never deleted: an intent's object may have been written in part.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace eddy::delivery {

// Source shard -> [from, to): the records an object holds.
using SourceRanges = std::map<uint32_t, std::pair<uint64_t, uint64_t>>;

// Moves `file` to `<file>.unreadable-<now>[-n]` (never over an earlier one); returns the name it
// got, or why it could not be moved, for the report.
std::string keep_aside(const std::filesystem::path& file, TimestampMs now);

class DeliveryPositions {
 public:
  // Reads `dir`/state.json. Positions that cannot be read are kept aside and reported, and
  // delivery starts over from the oldest retained record: records may be delivered twice (as
  // Firehose may), none is skipped.
  static DeliveryPositions load(const std::filesystem::path& dir, const std::string& name, const Clock& clock);

  std::map<uint32_t, uint64_t> positions;  // delivered up to (exclusive)
  std::set<uint32_t> finished;             // shards read to their end

  // Records written to the error prefix (counted from their lines) since the last save.
  void count_failed(const std::string& lines);
  // Writes the positions and the figures after an object is written. A failure is reported and
  // leaves the file as it was: the caller retries.
  bool save(uint64_t add_objects, uint64_t add_records);

 private:
  DeliveryPositions(std::filesystem::path file, std::string name, const Clock& clock)
      : file_(std::move(file)), name_(std::move(name)), clock_(&clock) {}

  std::filesystem::path file_;
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
  explicit IntentRecord(const std::filesystem::path& dir) : file_(dir / "intent.json") {}

  // A new round's intent (no target marks yet).
  bool write(const Intent& intent) const;
  // The interrupted round's intent, if any; throws std::exception when it cannot be read.
  std::optional<Intent> read() const;
  // The target's shard ends recorded by this round, if any; throws when the file cannot be read.
  std::optional<std::map<uint32_t, uint64_t>> target_marks() const;
  // Adds the target's shard ends to the intent written by this round.
  bool write_target_marks(const std::map<uint32_t, uint64_t>& marks) const;
  void remove() const;
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace eddy::delivery
