#include "host/checkpoint.h"

#include "common/digest.h"
#include "common/file_util.h"
#include "runtime/state_codec.h"

namespace eddy::host {

using runtime::StateReader;
using runtime::StateWriter;

namespace {
constexpr std::string_view kMagic = "eddy-checkpoint-1";
constexpr const char* kFile = kCheckpointFile;
}  // namespace

std::string encode_checkpoint(const Checkpoint& c) {
  StateWriter w;
  w.str(kMagic);
  w.i64(c.taken_ms);
  w.u64(c.positions.size());
  for (const auto& [shard, offset] : c.positions) {
    w.u64(shard);
    w.u64(offset);
  }
  w.u64(c.finished.size());
  for (uint32_t s : c.finished) w.u64(s);
  w.str(c.state);
  w.u64(c.outputs.size());
  for (const auto& o : c.outputs) {
    w.str(o.key);
    w.u64(o.next_ordinal);
    w.u64(o.ends.size());
    for (const auto& [shard, end] : o.ends) {
      w.u64(shard);
      w.u64(end);
    }
    w.u64(o.pending.size());
    for (const auto& row : o.pending) w.str(row);
  }
  std::string bytes = w.take();
  StateWriter crc;
  crc.u64(crc32c(bytes));
  return bytes + crc.bytes();
}

Result<Checkpoint> decode_checkpoint(std::string_view bytes) {
  auto corrupt = [] { return make_error(Errc::kCorruption, "the checkpoint is corrupt"); };
  if (bytes.size() < 8) return corrupt();
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  StateReader crc(bytes.substr(bytes.size() - 8));
  if (crc.u64() != crc32c(body)) return corrupt();
  StateReader r(body);
  Checkpoint c;
  if (r.str() != kMagic) return corrupt();
  c.taken_ms = r.i64();
  size_t n = r.count(16);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    const auto shard = static_cast<uint32_t>(r.u64());
    c.positions[shard] = r.u64();
  }
  c.finished.resize(r.count());
  for (auto& s : c.finished) s = static_cast<uint32_t>(r.u64());
  c.state = r.str();
  c.outputs.resize(r.count(32));
  for (auto& o : c.outputs) {
    o.key = r.str();
    o.next_ordinal = r.u64();
    n = r.count(16);
    for (size_t i = 0; i < n && r.ok(); ++i) {
      const auto shard = static_cast<uint32_t>(r.u64());
      o.ends[shard] = r.u64();
    }
    o.pending.resize(r.count());
    for (auto& row : o.pending) row = r.str();
  }
  if (!r.done()) return corrupt();
  return c;
}

Status write_checkpoint(const std::filesystem::path& dir, const Checkpoint& c) {
  return write_file_atomic(dir / kFile, encode_checkpoint(c));
}

Result<std::optional<Checkpoint>> read_checkpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / kFile, ec)) return std::optional<Checkpoint>{};
  auto bytes = read_file(dir / kFile);
  if (!bytes) return tl::unexpected(bytes.error());
  auto c = decode_checkpoint(*bytes);
  if (!c) return make_error(Errc::kCorruption, (dir / kFile).string() + ": " + c.error().message);
  return std::optional<Checkpoint>(std::move(*c));
}

}  // namespace eddy::host
