// Names are data, never paths: how a caller's name becomes one directory entry under a folder the
// server owns, and how a caller's object key is checked before it becomes a relative path.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace eddy {

// The directory entry that holds the entity `name` (a stream, an application, a delivery stream,
// a bucket). Injective and never a path: bytes outside [A-Za-z0-9_.-] and a leading '.' are written
// as %XX, so "." and ".." are "%2E" and "%2E.", nothing contains '/', and no entity's entry starts
// with '.', which leaves dot-names to the server's own files (".deleting-7", ".eddy-staging").
// Every name AWS's patterns accept maps to itself unless it starts with a dot.
std::string path_component(std::string_view name);

// Renames `found` (an entity's folder as a directory listing met it) to `entry` when they differ:
// folders that an eddy before path_component named after the raw name (".hidden") move to their
// entry. A no-op for every folder written since.
Status move_to_entry(const std::filesystem::path& found, const std::filesystem::path& entry);

// The longest object key accepted, in bytes (S3's limit).
inline constexpr size_t kMaxObjectKeyBytes = 1024;

// Checks an object key (S3 key, Firehose prefix + partition values, a FileKey) before it is used
// as a path relative to a bucket directory: non-empty, at most 1024 bytes, valid UTF-8 without NUL
// or control characters, not absolute, no "." or ".." segment, no empty segment, no segment longer
// than 255 bytes (a file name's limit). The error says which rule the key breaks.
Status check_object_key(std::string_view key);

// `root / key` for a key that passed check_object_key; an error (the same as check_object_key's)
// otherwise. The result is lexically inside `root`.
Result<std::filesystem::path> object_path(const std::filesystem::path& root, std::string_view key);

// "arn:aws:s3:::NAME" -> NAME, for a NAME that can be a bucket directory: 1 to 255 characters of
// [A-Za-z0-9._-] that start and end with a letter or digit (S3's rules, relaxed to the legacy
// upper case and underscores), so never "." or "..". InvalidArgument with the rule otherwise.
Result<std::string> bucket_from_arn(std::string_view arn);

// The file of object `key` in the bucket `bucket_arn` under `bucket_root` (a bucket directory
// root such as <data-dir>/bucket), or InvalidArgument when the ARN or the key is not allowed.
Result<std::filesystem::path> bucket_object_path(const std::filesystem::path& bucket_root, std::string_view bucket_arn,
                                                 std::string_view key);

}  // namespace eddy
