// StreamStore's resharding: SplitShard, MergeShards and UpdateShardCount, which all close their
// parent shards and open children with lineage through reshard().

#include "stream/stream_store.h"

#include <algorithm>

#include "stream/stream_store_internal.h"

namespace eddy::stream {
namespace {

constexpr TimestampMs kDayMs = 24LL * 3600 * 1000;

}  // namespace

size_t StreamStore::open_shards_elsewhere(const Stream* except) const {
  size_t total = 0;
  std::shared_lock mlock(mu_);
  for (const auto& [_, other] : by_name_) {
    if (other.get() == except) continue;
    std::shared_lock slock(other->mu);
    total += other->open_shards.size();
  }
  return total;
}

Status StreamStore::reshard(const std::shared_ptr<Stream>& self, const std::vector<uint32_t>& parents,
                            std::vector<ShardInfo> children) {
  Stream& s = *self;
  const TimestampMs now = clock_.now_ms();
  std::vector<std::shared_ptr<Shard>> opened;
  for (auto& c : children) {
    c.created_ms = now;
    auto shard = open_shard(s, std::move(c));
    if (!shard) {
      for (const auto& o : opened) o->log->destroy();
      return tl::unexpected(shard.error());
    }
    opened.push_back(std::move(*shard));
  }
  // Seal before reading the parents' ends: in cluster mode another node may still append to them
  // until the seal. If the seal or the write below fails, the request fails; the parents may stay
  // sealed, and the caller's retry of the same request completes the resharding (sealing twice is
  // harmless).
  for (uint32_t p : parents) {
    if (auto sealed = s.shards[p]->log->seal(); !sealed) {
      for (const auto& o : opened) o->log->destroy();
      return sealed;
    }
  }
  for (uint32_t p : parents) {
    auto& info = s.shards[p]->info;
    info.closed_ms = now;
    info.end_offset = s.shards[p]->log->written_offset();
  }
  for (auto& o : opened) s.shards.push_back(std::move(o));
  s.rebuild_open_shards();
  s.status = StreamStatus::kUpdating;
  if (auto st = persist(s); !st) return st;
  schedule(options_.status_delay_ms, [self] {
    std::unique_lock lock(self->mu);
    if (self->status == StreamStatus::kUpdating) self->status = StreamStatus::kActive;
  });
  return {};
}

Status StreamStore::split_shard(const std::string& name, const std::string& shard_id_text,
                                const std::string& new_starting_hash_key) {
  const auto key = parse_decimal_u128(new_starting_hash_key);
  if (!key) {  // the argument first, as AWS checks it; its range against the shard's below
    return make_error(Errc::kInvalidArgument, "NewStartingHashKey " + new_starting_hash_key +
                                                  " used in SplitShard() on shard " + shard_id_text + " in stream " +
                                                  name + " under account " + options_.account +
                                                  " is not a hash key in [0, 2^128-1].");
  }
  auto s = require(name);
  if (!s) return tl::unexpected(s.error());
  // Lock order is the store's map before a stream's: count other streams' shards first.
  const size_t open_total = open_shards_elsewhere(s->get());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.mode == StreamMode::kOnDemand) {
    return make_error(Errc::kValidation,
                      "SplitShard is not supported for streams in ON_DEMAND mode; use "
                      "UpdateStreamMode to switch to PROVISIONED first.");
  }
  if (st.status != StreamStatus::kActive) return not_active(st);
  const auto index = parse_shard_id(shard_id_text);
  Shard* shard = index ? st.shard(*index) : nullptr;
  if (!shard) {
    return make_error(Errc::kResourceNotFound, "Could not find shard " + shard_id_text + " in stream " + name +
                                                   " under account " + options_.account + ".");
  }
  if (!shard->info.open()) {
    return make_error(Errc::kResourceInUse,
                      "Shard " + shard_id_text + " in stream " + name + " under account " + options_.account +
                          " has already been merged or split, and thus is not eligible for merging or splitting.");
  }
  const auto& r = shard->info.range;
  if (!(r.start + 1 < *key && *key < r.end)) {
    return make_error(Errc::kInvalidArgument,
                      "NewStartingHashKey " + new_starting_hash_key + " used in SplitShard() on shard " +
                          shard_id_text + " in stream " + name + " under account " + options_.account +
                          " is not both greater than one plus the shard's StartingHashKey " + to_decimal(r.start) +
                          " and less than the shard's EndingHashKey " + to_decimal(r.end) + ".");
  }
  if (open_total + st.open_shards.size() + 1 > options_.shard_limit) {
    return make_error(Errc::kLimitExceeded,
                      "This request would exceed the shard limit for the account " + options_.account + ".");
  }
  const auto next = static_cast<uint32_t>(st.shards.size());
  ShardInfo a, b;
  a.index = next;
  a.range = {r.start, *key - 1};
  a.parent = *index;
  b.index = next + 1;
  b.range = {*key, r.end};
  b.parent = *index;
  return reshard(*s, {*index}, {a, b});
}

Status StreamStore::merge_shards(const std::string& name, const std::string& shard_text,
                                 const std::string& adjacent_text) {
  if (parse_shard_id(shard_text) && parse_shard_id(shard_text) == parse_shard_id(adjacent_text)) {
    return make_error(Errc::kInvalidArgument, "Shards " + shard_text + " and " + adjacent_text + " in stream " + name +
                                                  " under account " + options_.account +
                                                  " are not an adjacent pair of shards eligible for merging");
  }
  auto s = require(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.mode == StreamMode::kOnDemand) {
    return make_error(Errc::kValidation,
                      "MergeShards is not supported for streams in ON_DEMAND mode; use "
                      "UpdateStreamMode to switch to PROVISIONED first.");
  }
  if (st.status != StreamStatus::kActive) return not_active(st);
  const auto ia = parse_shard_id(shard_text), ib = parse_shard_id(adjacent_text);
  Shard* a = ia ? st.shard(*ia) : nullptr;
  Shard* b = ib ? st.shard(*ib) : nullptr;
  for (auto [sh, text] : {std::pair{a, &shard_text}, std::pair{b, &adjacent_text}}) {
    if (!sh) {
      return make_error(Errc::kResourceNotFound, "Could not find shard " + *text + " in stream " + name +
                                                     " under account " + options_.account + ".");
    }
    if (!sh->info.open()) {
      return make_error(Errc::kResourceInUse,
                        "Shard " + *text + " in stream " + name + " under account " + options_.account +
                            " has already been merged or split, and thus is not eligible for merging or splitting.");
    }
  }
  const auto& ra = a->info.range;
  const auto& rb = b->info.range;
  const bool adjacent =
      (ra.end != kUint128Max && ra.end + 1 == rb.start) || (rb.end != kUint128Max && rb.end + 1 == ra.start);
  if (!adjacent || a == b) {
    return make_error(Errc::kInvalidArgument, "Shards " + shard_text + " and " + adjacent_text + " in stream " + name +
                                                  " under account " + options_.account +
                                                  " are not an adjacent pair of shards eligible for merging");
  }
  ShardInfo c;
  c.index = static_cast<uint32_t>(st.shards.size());
  c.range = {std::min(ra.start, rb.start), std::max(ra.end, rb.end)};
  c.parent = *ia;
  c.adjacent_parent = *ib;
  return reshard(*s, {*ia, *ib}, {c});
}

Result<std::pair<int, int>> StreamStore::update_shard_count(const std::string& name, int target) {
  auto s = require(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  Stream& st = **s;
  if (st.mode == StreamMode::kOnDemand) {
    return make_error(Errc::kValidation, "UpdateShardCount is not supported for streams in ON_DEMAND mode.");
  }
  if (st.status != StreamStatus::kActive) return not_active(st);
  const int current = static_cast<int>(st.open_shards.size());
  if (target > 2 * current) {
    return make_error(
        Errc::kLimitExceeded,
        "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: " +
            std::to_string(current) + " Target shard count: " + std::to_string(target));
  }
  if (target * 2 < current) {
    return make_error(
        Errc::kLimitExceeded,
        "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: " +
            std::to_string(current) + " Target shard count: " + std::to_string(target));
  }
  const TimestampMs now = clock_.now_ms();
  std::erase_if(st.scaling_history, [now](TimestampMs t) { return now - t >= kDayMs; });
  if (st.scaling_history.size() >= 10) {
    return make_error(
        Errc::kLimitExceeded,
        "Exceeded the limit of 10 UpdateShardCount calls in a rolling 24-hour period for stream " + name + ".");
  }
  if (target == current) return std::pair{current, target};
  // Uniform scaling: the new open shards split the key space evenly. Each child names the old
  // shard holding its first key as parent and, when its range reaches into a second old shard,
  // that one as adjacent parent: a clean split (x2) or merge (/2) of uniform shards reads exactly
  // like SplitShard / MergeShards lineage.
  std::vector<uint32_t> parents;
  for (const Shard* o : st.open_shards) parents.push_back(o->info.index);
  std::vector<ShardInfo> children;
  const auto ranges = split_evenly(static_cast<uint32_t>(target));
  for (size_t i = 0; i < ranges.size(); ++i) {
    ShardInfo c;
    c.index = static_cast<uint32_t>(st.shards.size() + i);
    c.range = ranges[i];
    for (const Shard* o : st.open_shards) {
      if (!o->info.range.overlaps(c.range)) continue;
      if (!c.parent)
        c.parent = o->info.index;
      else if (!c.adjacent_parent)
        c.adjacent_parent = o->info.index;
    }
    children.push_back(c);
  }
  st.scaling_history.push_back(now);
  if (auto r = reshard(*s, parents, std::move(children)); !r) return tl::unexpected(r.error());
  return std::pair{current, target};
}

}  // namespace eddy::stream
