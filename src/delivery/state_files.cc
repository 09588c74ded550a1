#include "delivery/state_files.h"

#include <system_error>

#include "common/file_util.h"

namespace eddy::delivery {

namespace fs = std::filesystem;

Status StateFiles::claim() const {
  if (!blobs_) return {};
  for (const char* file : {"state.json", "intent.json"}) {
    if (auto st = blobs_->claim(blob(file)); !st) return st;
  }
  return {};
}

Result<std::optional<std::string>> StateFiles::read(std::string_view file) const {
  if (blobs_) {
    auto bytes = blobs_->read(blob(file));
    if (!bytes) return tl::unexpected(bytes.error());
    if (!*bytes || (*bytes)->empty()) return std::optional<std::string>();
    return bytes;
  }
  const fs::path path = dir_ / file;
  std::error_code ec;
  if (!fs::exists(path, ec) && !ec) return std::optional<std::string>();
  auto text = read_file(path);
  if (!text) return tl::unexpected(text.error());
  return std::optional<std::string>(std::move(*text));
}

Status StateFiles::write(std::string_view file, std::string_view text) const {
  if (blobs_) return blobs_->write(blob(file), text);
  return write_file_atomic(dir_ / file, text);
}

Status StateFiles::remove(std::string_view file) const {
  if (blobs_) return blobs_->write(blob(file), "");
  std::error_code ec;
  fs::remove(dir_ / file, ec);
  if (ec) return make_error(Errc::kIo, "cannot remove " + (dir_ / file).string() + ": " + ec.message());
  return {};
}

std::string StateFiles::keep_aside(std::string_view file, std::string_view text, TimestampMs now) const {
  const std::string base = std::string(file) + ".unreadable-" + std::to_string(now);
  if (blobs_) {
    const std::string aside = blob(base);
    if (auto st = blobs_->claim(aside); !st) return "it could not be kept (" + st.error().message + ")";
    if (auto st = blobs_->write(aside, text); !st) return "it could not be kept (" + st.error().message + ")";
    (void)remove(file);
    return "kept as blob " + aside;
  }
  fs::path aside = dir_ / base;
  for (int n = 2; fs::exists(aside) && n < 1000; ++n) aside = dir_ / (base + "-" + std::to_string(n));
  std::error_code ec;
  fs::rename(dir_ / file, aside, ec);
  return ec ? "it could not be moved aside (" + ec.message() + ")" : "kept as " + aside.filename().string();
}

Status StateFiles::remove_all() const {
  if (!blobs_) return {};  // the delivery stream's folder goes with it
  for (const char* file : {"state.json", "intent.json"}) {
    if (auto st = blobs_->remove(blob(file)); !st) return st;
  }
  return {};
}

std::string StateFiles::where(std::string_view file) const {
  return blobs_ ? "blob " + blob(file) : (dir_ / file).string();
}

}  // namespace eddy::delivery
