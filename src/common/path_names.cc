#include "common/path_names.h"

#include "common/file_util.h"

namespace eddy {
namespace {

bool plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not valid UTF-8.
size_t utf8_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;  // overlong
  if (n == 3) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;  // overlong, surrogate
  }
  if (n == 4) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xF0 && c1 < 0x90) || c > 0xF4 || (c == 0xF4 && c1 >= 0x90)) return 0;
  }
  return n;
}

}  // namespace

std::string path_component(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size() + 2);
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (plain(c) && !(i == 0 && c == '.')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  if (out.empty()) out = "%";  // the empty name (never valid) still gets an entry of its own
  return out;
}

Status move_to_entry(const std::filesystem::path& found, const std::filesystem::path& entry) {
  if (found.filename() == entry.filename()) return {};
  std::error_code ec;
  if (std::filesystem::exists(entry, ec))
    return make_error(Errc::kCorruption, "both " + found.string() + " and " + entry.string() +
                                             " hold the same entity; move one of them out of the data directory");
  std::filesystem::rename(found, entry, ec);
  if (ec) return make_error(Errc::kIo, "rename " + found.string() + " to " + entry.string() + ": " + ec.message());
  return fsync_dir(entry.parent_path());
}

Status check_object_key(std::string_view key) {
  auto refuse = [&](const std::string& why) {
    const std::string shown = key.size() > 80 ? std::string(key.substr(0, 80)) + "..." : std::string(key);
    return make_error(Errc::kInvalidArgument, "object key '" + shown + "' " + why);
  };
  if (key.empty()) return refuse("is empty");
  if (key.size() > kMaxObjectKeyBytes)
    return refuse("is " + std::to_string(key.size()) + " bytes long; the limit is " +
                  std::to_string(kMaxObjectKeyBytes));
  if (key.front() == '/') return refuse("starts with '/'; keys are relative to their bucket");
  for (size_t i = 0; i < key.size();) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7F) return refuse("holds a control character");
    const size_t n = utf8_length(key, i);
    if (n == 0) return refuse("is not valid UTF-8");
    i += n;
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const auto segment = key.substr(start, end - start);
    if (segment.empty()) return refuse(end == key.size() ? "ends with '/'" : "has an empty segment ('//')");
    if (segment == "." || segment == "..") return refuse("has a '" + std::string(segment) + "' segment");
    if (segment.size() > 255) return refuse("has a segment longer than 255 bytes");
    start = end + 1;
  }
  return {};
}

Result<std::filesystem::path> object_path(const std::filesystem::path& root, std::string_view key) {
  if (auto st = check_object_key(key); !st) return tl::unexpected(st.error());
  return root / std::filesystem::path(std::string(key));
}

Result<std::string> bucket_from_arn(std::string_view arn) {
  constexpr std::string_view kPrefix = "arn:aws:s3:::";
  auto refuse = [&](const std::string& why) {
    const std::string shown = arn.size() > 80 ? std::string(arn.substr(0, 80)) + "..." : std::string(arn);
    return make_error(Errc::kInvalidArgument,
                      "BucketARN must look like arn:aws:s3:::bucket-name (" + why + "), got " + shown);
  };
  if (!arn.starts_with(kPrefix)) return refuse("it does not start with arn:aws:s3:::");
  const auto name = arn.substr(kPrefix.size());
  if (name.empty() || name.size() > 255) return refuse("a bucket name has 1 to 255 characters");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  for (char c : name)
    if (!alnum(c) && c != '.' && c != '-' && c != '_')
      return refuse("a bucket name holds letters, digits, '.', '-' and '_'");
  if (!alnum(name.front()) || !alnum(name.back()))
    return refuse("a bucket name starts and ends with a letter or digit");
  return std::string(name);
}

Result<std::filesystem::path> bucket_object_path(const std::filesystem::path& bucket_root, std::string_view bucket_arn,
                                                 std::string_view key) {
  auto bucket = bucket_from_arn(bucket_arn);
  if (!bucket) return tl::unexpected(bucket.error());
  return object_path(bucket_root / *bucket, key);
}

}  // namespace eddy
