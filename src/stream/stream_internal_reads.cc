// StreamStore's reads for eddy's own consumers (applications, delivery streams): shards and
// positions by name, without iterators or throttling.

#include "stream/stream_store.h"

#include <algorithm>

#include "stream/stream_store_internal.h"

namespace eddy::stream {

Result<std::vector<ShardInfo>> StreamStore::shards(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  std::vector<ShardInfo> out;
  for (const auto& sh : s->shards) {
    if (!shard_expired(*s, sh->info)) out.push_back(sh->info);
  }
  return out;
}

Result<StreamStore::ShardRead> StreamStore::read_shard(const std::string& name, uint32_t index, log::Offset from,
                                                       size_t max_records) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_ptr<Shard> shard;
  ShardInfo info;
  log::Offset horizon;
  std::vector<uint32_t> children;
  {
    std::shared_lock lock(s->mu);
    if (s->status == StreamStatus::kDeleting) return not_found(name);
    if (index >= s->shards.size()) {
      return make_error(Errc::kResourceNotFound, "Shard " + shard_id(index) + " in stream " + name + " does not exist");
    }
    shard = s->shards[index];
    info = shard->info;
    horizon = trim_horizon(*s, *shard);
    for (const auto& c : s->shards) {
      if (c->info.parent == index || c->info.adjacent_parent == index) children.push_back(c->info.index);
    }
  }
  ShardRead out;
  const log::Offset start = std::max(from, horizon);
  auto read = shard->log->read(start, max_records, kMaxGetRecordsBytes);
  if (!read) return tl::unexpected(read.error());
  if (auto opened = open_sealed(*read); !opened) return tl::unexpected(opened.error());
  out.read = std::move(*read);
  while (!out.read.records.empty() && !info.open() && out.read.records.back().offset >= info.end_offset) {
    out.read.records.pop_back();
  }
  out.next = out.read.records.empty()
                 ? std::max(start, std::min(out.read.next_offset, info.open() ? out.read.next_offset : info.end_offset))
                 : out.read.records.back().offset + 1;
  if (!info.open() && out.next >= info.end_offset) {
    out.finished = true;
    out.children = std::move(children);
  }
  return out;
}

Result<log::Offset> StreamStore::shard_position(const std::string& name, uint32_t index, IteratorType type) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  Shard* shard = s->shard(index);
  if (!shard)
    return make_error(Errc::kResourceNotFound, "Shard " + shard_id(index) + " in stream " + name + " does not exist");
  if (type == IteratorType::kLatest) return shard->info.open() ? shard->log->written_offset() : shard->info.end_offset;
  return trim_horizon(*s, *shard);
}

Result<log::Offset> StreamStore::shard_position_at(const std::string& name, uint32_t index, TimestampMs t) const {
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  Shard* shard = s->shard(index);
  if (!shard)
    return make_error(Errc::kResourceNotFound, "Shard " + shard_id(index) + " in stream " + name + " does not exist");
  const log::Offset horizon = trim_horizon(*s, *shard);
  auto off = shard->log->offset_for_time(t);
  return off ? std::max(*off, horizon) : horizon;
}

}  // namespace eddy::stream
