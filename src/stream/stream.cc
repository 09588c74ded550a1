#include "stream/stream.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace eddy::stream {

const char* to_string(StreamStatus s) {
  switch (s) {
    case StreamStatus::kCreating:
      return "CREATING";
    case StreamStatus::kActive:
      return "ACTIVE";
    case StreamStatus::kUpdating:
      return "UPDATING";
    case StreamStatus::kDeleting:
      return "DELETING";
  }
  return "ACTIVE";
}

const char* to_string(StreamMode m) {
  return m == StreamMode::kOnDemand ? "ON_DEMAND" : "PROVISIONED";
}

std::string shard_id(uint32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shardId-%012u", index);
  return buf;
}

std::string ShardInfo::id() const {
  return shard_id(index);
}

std::optional<uint32_t> parse_shard_id(std::string_view id) {
  // As Kinesis: the number after the last hyphen names the shard, whatever comes before it, with
  // or without leading zeros ("shardId-7", "shardId-000000000007", "anything-7"); so does a bare
  // number.
  const size_t hyphen = id.rfind('-');
  const std::string_view digits = hyphen == std::string_view::npos ? id : id.substr(hyphen + 1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

Shard* Stream::route(uint128 hash_key) const {
  auto it = std::upper_bound(open_shards.begin(), open_shards.end(), hash_key,
                             [](uint128 k, const Shard* s) { return k < s->info.range.start; });
  if (it == open_shards.begin()) return nullptr;
  Shard* s = *std::prev(it);
  return s->info.range.contains(hash_key) ? s : nullptr;
}

void Stream::rebuild_open_shards() {
  open_shards.clear();
  for (const auto& s : shards) {
    if (s && s->info.open()) open_shards.push_back(s.get());
  }
  std::sort(open_shards.begin(), open_shards.end(),
            [](const Shard* a, const Shard* b) { return a->info.range.start < b->info.range.start; });
}

}  // namespace eddy::stream
