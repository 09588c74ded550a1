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
  constexpr std::string_view kPrefix = "shardId-";
  if (!id.starts_with(kPrefix) || id.size() != kPrefix.size() + 12) return std::nullopt;
  uint32_t v = 0;
  const auto digits = id.substr(kPrefix.size());
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return v;
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
