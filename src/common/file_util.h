// Small POSIX file helpers used by the log and the metadata stores.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace eddy {

// Makes a directory entry durable: fsync the directory that holds it.
Status fsync_dir(const std::filesystem::path& dir);
// Writes `content` to `path` atomically and durably (temp file, fsync, rename, fsync dir).
Status write_file_atomic(const std::filesystem::path& path, std::string_view content);
// The same, with the temporary file at `temp` (same filesystem as `path`), for directories whose
// readers must never see a half-written file under any name (a bucket directory).
Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         const std::filesystem::path& temp);
Result<std::string> read_file(const std::filesystem::path& path);

}  // namespace eddy
