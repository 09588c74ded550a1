// An application's checkpoint: everything a restarted runner needs to go on as if it had never
// stopped — where reading continues in each source shard, the operators' state at that point,
// and per output the next row ordinal, the rows not yet written, and where each shard of the
// destination stream ended when the checkpoint was taken. Rows found after those ends are the
// ones written since: a replay skips them (exactly-once outputs).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::host {

// The file a checkpoint is kept in, in the application's folder.
inline constexpr const char* kCheckpointFile = "checkpoint";

struct OutputCheckpoint {
  std::string key;                    // "<in-application stream> -> <destination>"
  uint64_t next_ordinal = 0;          // of the next row written
  std::map<uint32_t, uint64_t> ends;  // destination shard -> its end offset when taken
  std::vector<std::string> pending;   // rows emitted but not yet written
};

struct Checkpoint {
  TimestampMs taken_ms = 0;
  std::map<uint32_t, uint64_t> positions;  // source shard -> first record not yet processed
  std::vector<uint32_t> finished;          // closed source shards processed to their end
  std::string state;                       // Application::save_state
  std::vector<OutputCheckpoint> outputs;
};

std::string encode_checkpoint(const Checkpoint& c);  // ends with a CRC of the rest
Result<Checkpoint> decode_checkpoint(std::string_view bytes);

// <dir>/checkpoint, written atomically (a crash leaves the previous one or this one).
Status write_checkpoint(const std::filesystem::path& dir, const Checkpoint& c);
// Nothing if the application never took one.
Result<std::optional<Checkpoint>> read_checkpoint(const std::filesystem::path& dir);

}  // namespace eddy::host
