// How much the data directory holds, for the dashboard and /metrics: a walk of its files,
// remembered for a while, since a large log has many segment files and each look would walk them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>

#include "common/clock.h"

namespace eddy::web {

class DiskUsage {
 public:
  struct Figures {
    uint64_t used_bytes = 0;  // the files under the directory (apparent sizes)
    uint64_t files = 0;
    bool partial = false;  // the walk stopped at its bound: used_bytes is at least this
    uint64_t filesystem_size_bytes = 0;
    uint64_t filesystem_avail_bytes = 0;
  };

  DiskUsage(std::filesystem::path dir, const Clock& clock, int64_t refresh_ms = 30000)
      : dir_(std::move(dir)), clock_(clock), refresh_ms_(refresh_ms) {}

  // The figures, walked again when older than the refresh interval (one walk at a time).
  Figures get();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  static constexpr uint64_t kMaxFiles = 1'000'000;  // bounds a walk's work

  std::filesystem::path dir_;
  const Clock& clock_;
  int64_t refresh_ms_;
  std::mutex mu_;
  Figures last_;
  TimestampMs walked_ms_ = INT64_MIN;
};

}  // namespace eddy::web
