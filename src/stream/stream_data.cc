// StreamStore's data plane as Kinesis clients see it: PutRecord(s) routed by hash key and
// appended per shard, shard iterators, GetRecords with throttling and child shards, and the
// counters those calls keep for /metrics.

#include "stream/stream_store.h"

#include <algorithm>

#include "common/digest.h"
#include "common/fault_log.h"
#include "stream/sequence_number.h"
#include "stream/stream_store_internal.h"
#include "stream/tokens.h"

namespace eddy::stream {

std::optional<IteratorType> parse_iterator_type(std::string_view s) {
  if (s == "AT_SEQUENCE_NUMBER") return IteratorType::kAtSequenceNumber;
  if (s == "AFTER_SEQUENCE_NUMBER") return IteratorType::kAfterSequenceNumber;
  if (s == "TRIM_HORIZON") return IteratorType::kTrimHorizon;
  if (s == "LATEST") return IteratorType::kLatest;
  if (s == "AT_TIMESTAMP") return IteratorType::kAtTimestamp;
  return std::nullopt;
}

Result<uint32_t> StreamStore::max_record_bytes(const std::string& name) const {
  auto s = find(name);
  if (!s) return not_found(name);
  return s->max_record_kib * 1024;
}

Status StreamStore::put_round(Stream& stream, const std::string& name, std::span<const PutEntry> entries,
                              const std::vector<uint128>& keys, std::vector<uint32_t>& pending, PutResult& result,
                              bool throttle) {
  Stream* s = &stream;
  const TimestampMs now = clock_.now_ms();
  std::shared_lock lock(s->mu);
  if (s->status == StreamStatus::kCreating || s->status == StreamStatus::kDeleting) return not_found(name);
  // Group record indices by shard, keeping request order within each shard.
  std::vector<std::pair<Shard*, std::vector<uint32_t>>> groups;
  for (uint32_t i : pending) {
    Shard* shard = s->route(keys[i]);
    auto& out = result.outcomes[i];
    if (!shard) {
      out.error = Errc::kInternal;
      out.message = "Internal Service Failure";
      ++result.failed;
      continue;
    }
    if (throttle && options_.enforce_limits &&
        !shard->throttle.admit_write(entries[i].data.size() + entries[i].partition_key.size(), now)) {
      shard->counters->write_throttled.fetch_add(1, std::memory_order_relaxed);
      out.error = Errc::kProvisionedThroughputExceeded;
      out.message = "Rate exceeded for shard " + shard->info.id() + " in stream " + name + " under account " +
                    options_.account + ".";
      ++result.failed;
      continue;
    }
    auto it = std::find_if(groups.begin(), groups.end(), [shard](const auto& g) { return g.first == shard; });
    if (it == groups.end()) {
      groups.push_back({shard, {}});
      it = std::prev(groups.end());
    }
    it->second.push_back(i);
  }
  pending.clear();
  std::vector<log::AppendRecord> batch;
  // An encrypted stream's records are sealed before they reach the log (sealed[j]: indices[j]).
  if (!s->encryption_key_id.empty() && !options_.cipher) {
    // Never store in clear what the stream promises to encrypt.
    return make_error(Errc::kKmsNotFound,
                      "Stream " + name +
                          " encrypts its records at rest and this eddy server has no key: start "
                          "eddy serve with the --encryption-key-file the stream was encrypted with.");
  }
  const bool encrypt = !s->encryption_key_id.empty();
  result.encrypted = encrypt;
  std::vector<std::string> sealed;
  for (const auto& [shard, indices] : groups) {
    batch.clear();
    if (encrypt) sealed.assign(indices.size(), std::string());
    for (size_t j = 0; j < indices.size(); ++j) {
      const uint32_t i = indices[j];
      if (encrypt) {
        options_.cipher->seal(entries[i].data, sealed[j]);
        batch.push_back({entries[i].partition_key, entries[i].explicit_hash_key, sealed[j], true});
      } else {
        batch.push_back({entries[i].partition_key, entries[i].explicit_hash_key, entries[i].data});
      }
    }
    auto appended = shard->log->append(batch, now);
    if (!appended && appended.error().code == Errc::kInvalidArgument && shard->info.open()) {
      // Sealed by another node's resharding: route these again once the stream is reloaded.
      pending.insert(pending.end(), indices.begin(), indices.end());
      continue;
    }
    if (!appended) log_fault("append to " + name + "/" + shard->info.id(), appended.error().message);
    for (size_t j = 0; j < indices.size(); ++j) {
      auto& out = result.outcomes[indices[j]];
      if (!appended) {
        // A cluster without quorum is worth retrying: the SDKs retry a 503.
        out.error = appended.error().code == Errc::kUnavailable ? Errc::kUnavailable : Errc::kInternal;
        out.message = "Internal Service Failure";
        ++result.failed;
        continue;
      }
      out.ok = true;
      out.shard_index = shard->info.index;
      out.sequence_number = encode_sequence_number(shard->info.index, appended->first_offset + j);
    }
    if (appended) {
      result.touched.push_back(shard->log);
      uint64_t bytes = 0;
      for (uint32_t i : indices) bytes += entries[i].data.size();
      shard->counters->incoming_records.fetch_add(indices.size(), std::memory_order_relaxed);
      shard->counters->incoming_bytes.fetch_add(bytes, std::memory_order_relaxed);
    }
  }
  return {};
}

Result<PutResult> StreamStore::put(const std::string& name, std::span<const PutEntry> entries) {
  std::vector<uint128> keys(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (!e.explicit_hash_key.empty()) {
      const auto k = parse_decimal_u128(e.explicit_hash_key);
      if (!k) {
        return make_error(
            Errc::kInvalidArgument,
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " +
                std::string(e.explicit_hash_key));
      }
      keys[i] = *k;
    } else {
      keys[i] = partition_key_hash(e.partition_key);
    }
  }
  auto s = find(name);  // after the arguments, as AWS checks them
  if (!s) return not_found(name);
  PutResult result;
  result.outcomes.resize(entries.size());
  std::vector<uint32_t> pending(entries.size());
  for (uint32_t i = 0; i < pending.size(); ++i) pending[i] = i;
  // A second round only for records whose shard turned out closed: in cluster mode another node
  // may have split or merged it, and this node learns the new shards by reloading the stream.
  for (int round = 0; round < 2 && !pending.empty(); ++round) {
    if (round > 0) {
      if (auto r = reload(name); !r) log_fault("reloading stream " + name, r.error().message);
      if (auto fresh = find(name)) s = std::move(fresh);
    }
    auto st = put_round(*s, name, entries, keys, pending, result, round == 0);
    if (!st) return tl::unexpected(st.error());
  }
  for (uint32_t i : pending) {  // still closed after a reload
    result.outcomes[i].error = Errc::kInternal;
    result.outcomes[i].message = "Internal Service Failure";
    ++result.failed;
  }
  uint64_t bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (result.outcomes[i].ok) bytes += entries[i].data.size();
  }
  // Relaxed: counters for /metrics, ordered with nothing else.
  s->counters->incoming_records.fetch_add(entries.size() - result.failed, std::memory_order_relaxed);
  s->counters->incoming_bytes.fetch_add(bytes, std::memory_order_relaxed);
  s->counters->put_failed_records.fetch_add(result.failed, std::memory_order_relaxed);
  return result;
}

Result<std::string> StreamStore::shard_iterator(const std::string& name, const std::string& shard_text,
                                                IteratorType type, std::optional<std::string> sequence_number,
                                                std::optional<TimestampMs> timestamp) const {
  return position(name, shard_text, type, std::move(sequence_number), timestamp).map(encode_iterator);
}

Result<ShardCursor> StreamStore::starting_position(const std::string& name, const std::string& shard_text,
                                                   IteratorType type, std::optional<std::string> sequence_number,
                                                   std::optional<TimestampMs> timestamp) const {
  return position(name, shard_text, type, std::move(sequence_number), timestamp).map([](const IteratorToken& t) {
    return ShardCursor{t.stream_id, t.shard_index, t.offset};
  });
}

Status StreamStore::check_position(const std::string& name, const std::string& shard_text, IteratorType type,
                                   const std::optional<std::string>& sequence_number,
                                   std::optional<TimestampMs> timestamp) const {
  const bool by_sequence = type == IteratorType::kAtSequenceNumber || type == IteratorType::kAfterSequenceNumber;
  if (by_sequence && !sequence_number) {
    return make_error(
        Errc::kInvalidArgument,
        "Must specify StartingSequenceNumber for " +
            std::string(type == IteratorType::kAtSequenceNumber ? "AT_SEQUENCE_NUMBER" : "AFTER_SEQUENCE_NUMBER") +
            " ShardIteratorType.");
  }
  if (type == IteratorType::kAtTimestamp && timestamp && *timestamp > clock_.now_ms()) {
    return make_error(Errc::kInvalidArgument,
                      "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                      "timestampInMillis: " +
                          std::to_string(*timestamp) +
                          ", currentTimestampInMillis: " + std::to_string(clock_.now_ms()));
  }
  if (type == IteratorType::kAtTimestamp && !timestamp) {
    return make_error(Errc::kInvalidArgument,
                      "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has "
                      "no timestamp parameter.");
  }
  if ((!by_sequence && sequence_number) || (type != IteratorType::kAtTimestamp && timestamp)) {
    return make_error(Errc::kInvalidArgument,
                      "Request should not contain a startingSequenceNumber or a timestamp for this ShardIteratorType.");
  }
  if (by_sequence && !decode_sequence_number(*sequence_number)) {
    return make_error(Errc::kInvalidArgument, "StartingSequenceNumber " + *sequence_number +
                                                  " used in GetShardIterator on shard " + shard_text + " in stream " +
                                                  name + " under account " + options_.account +
                                                  " is invalid because it did not come from this stream.");
  }
  return {};
}

Result<IteratorToken> StreamStore::position(const std::string& name, const std::string& shard_text, IteratorType type,
                                            std::optional<std::string> sequence_number,
                                            std::optional<TimestampMs> timestamp) const {
  // The arguments first, as AWS checks them, then whether the stream and shard exist.
  if (auto st = check_position(name, shard_text, type, sequence_number, timestamp); !st)
    return tl::unexpected(st.error());
  const bool by_sequence = type == IteratorType::kAtSequenceNumber || type == IteratorType::kAfterSequenceNumber;
  SequencePosition pos{};
  if (by_sequence) pos = *decode_sequence_number(*sequence_number);  // check_position decoded it
  auto s = find(name);
  if (!s) return not_found(name);
  std::shared_lock lock(s->mu);
  if (s->status == StreamStatus::kCreating || s->status == StreamStatus::kDeleting) return not_found(name);
  const auto index = parse_shard_id(shard_text);
  Shard* shard = index ? s->shard(*index) : nullptr;
  if (!shard || shard_expired(*s, shard->info)) {
    return make_error(Errc::kResourceNotFound, "Shard " + shard_text + " in stream " + name + " under account " +
                                                   options_.account + " does not exist");
  }
  const log::Offset horizon = trim_horizon(*s, *shard);
  const log::Offset end = shard->info.open() ? shard->log->written_offset() : shard->info.end_offset;
  log::Offset offset = horizon;
  switch (type) {
    case IteratorType::kTrimHorizon:
      break;
    case IteratorType::kLatest:
      offset = end;
      break;
    case IteratorType::kAtTimestamp: {
      auto o = shard->log->offset_for_time(*timestamp);
      if (!o) return tl::unexpected(o.error());
      offset = std::max(*o, horizon);
      break;
    }
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      if (pos.shard_index != *index) {
        return make_error(Errc::kInvalidArgument, "Invalid StartingSequenceNumber. It encodes " +
                                                      shard_id(pos.shard_index) +
                                                      ", while it was used in a call to a shard with " + shard_text);
      }
      offset = pos.offset + (type == IteratorType::kAfterSequenceNumber ? 1 : 0);
      if (offset > end) {
        return make_error(Errc::kInvalidArgument,
                          "StartingSequenceNumber " + *sequence_number + " used in GetShardIterator on shard " +
                              shard_text + " in stream " + name + " under account " + options_.account +
                              " is invalid because it is beyond the newest record of the shard.");
      }
      offset = std::max(offset, horizon);
      break;
    }
  }
  return IteratorToken{s->id, *index, offset, clock_.now_ms()};
}

Result<GetRecordsResult> StreamStore::get_records(std::string_view iterator, size_t limit) const {
  const auto token = decode_iterator(iterator);
  if (!token) return make_error(Errc::kInvalidArgument, "Invalid ShardIterator.");
  const TimestampMs now = clock_.now_ms();
  if (now - token->issued_ms > options_.iterator_ttl_ms) {
    return make_error(Errc::kExpiredIterator, "Iterator expired. The iterator was created at time " +
                                                  std::to_string(token->issued_ms) + " while right now it is " +
                                                  std::to_string(now) +
                                                  " which is further in the future than the tolerated delay of " +
                                                  std::to_string(options_.iterator_ttl_ms) + " milliseconds.");
  }
  return read_from({token->stream_id, token->shard_index, token->offset}, limit, true);
}

Result<GetRecordsResult> StreamStore::read_for_subscriber(const ShardCursor& cursor, size_t limit) const {
  return read_from(cursor, limit, false);
}

Result<std::unique_ptr<ShardWatch>> StreamStore::watch(const ShardCursor& cursor, std::function<void()> wake) const {
  auto s = find_by_id(cursor.stream_id);
  if (!s) return make_error(Errc::kResourceNotFound, "The stream of this subscription no longer exists.");
  std::shared_lock lock(s->mu);
  if (cursor.shard_index >= s->shards.size()) return make_error(Errc::kInvalidArgument, "No such shard.");
  return std::make_unique<ShardWatch>(s->shards[cursor.shard_index]->log, std::move(wake));
}

Result<GetRecordsResult> StreamStore::read_from(const ShardCursor& cursor, size_t limit, bool as_get_records) const {
  const TimestampMs now = clock_.now_ms();
  auto s = find_by_id(cursor.stream_id);
  if (!s) return make_error(Errc::kResourceNotFound, "The stream this shard iterator belongs to no longer exists.");
  std::shared_ptr<Shard> shard;
  ShardInfo info;
  log::Offset horizon;
  std::vector<ChildShard> children;
  {
    std::shared_lock lock(s->mu);
    if (s->status == StreamStatus::kDeleting) return not_found(s->name);
    if (cursor.shard_index >= s->shards.size()) return make_error(Errc::kInvalidArgument, "Invalid ShardIterator.");
    shard = s->shards[cursor.shard_index];
    info = shard->info;
    horizon = trim_horizon(*s, *shard);
    if (!info.open()) {
      for (const auto& c : s->shards) {
        const auto& ci = c->info;
        if (ci.parent != info.index && ci.adjacent_parent != info.index) continue;
        ChildShard child{ci.id(), {shard_id(*ci.parent)}, ci.range};
        if (ci.adjacent_parent) child.parent_shards.push_back(shard_id(*ci.adjacent_parent));
        children.push_back(std::move(child));
      }
    }
  }
  if (as_get_records && options_.enforce_limits && !shard->throttle.admit_read(now)) {
    shard->counters->read_throttled.fetch_add(1, std::memory_order_relaxed);
    return make_error(Errc::kProvisionedThroughputExceeded, "Rate exceeded for shard " + info.id() + " in stream " +
                                                                s->name + " under account " + options_.account + ".");
  }
  GetRecordsResult result;
  result.shard_index = cursor.shard_index;
  const log::Offset start = std::max(cursor.offset, horizon);
  const log::Offset end = info.open() ? shard->log->end_offset() : std::min(info.end_offset, shard->log->end_offset());
  auto read = shard->log->read(start, limit, kMaxGetRecordsBytes);
  if (!read) return tl::unexpected(read.error());
  if (auto opened = open_sealed(*read); !opened) return tl::unexpected(opened.error());
  result.read = std::move(*read);
  // Closed shards stop at their end offset (the log itself has nothing after it).
  while (!result.read.records.empty() && !info.open() && result.read.records.back().offset >= info.end_offset) {
    result.read.records.pop_back();
  }
  log::Offset next =
      result.read.records.empty() ? std::max(start, result.read.next_offset) : result.read.records.back().offset + 1;
  result.next_offset = next;
  if (as_get_records && options_.enforce_limits) {
    size_t bytes = 0;
    for (const auto& r : result.read.records) bytes += r.data.size() + r.partition_key.size();
    shard->throttle.charge_read_bytes(bytes, now);
  }
  if (!info.open() && next >= info.end_offset) {
    result.child_shards = std::move(children);
  } else {
    result.next_iterator = encode_iterator({s->id, cursor.shard_index, next, now});
  }
  if (next >= end) {
    result.millis_behind_latest = 0;
  } else if (!result.read.records.empty()) {
    result.millis_behind_latest = std::max<int64_t>(0, now - result.read.records.back().arrival_ms);
  } else {
    auto t = shard->log->arrival_of(next);
    result.millis_behind_latest = t ? std::max<int64_t>(0, now - *t) : 0;
  }
  uint64_t bytes = 0;
  for (const auto& r : result.read.records) bytes += r.data.size();
  if (as_get_records) s->counters->get_records_calls.fetch_add(1, std::memory_order_relaxed);
  s->counters->outgoing_records.fetch_add(result.read.records.size(), std::memory_order_relaxed);
  s->counters->outgoing_bytes.fetch_add(bytes, std::memory_order_relaxed);
  s->counters->iterator_age_ms =
      result.read.records.empty() ? 0 : std::max<int64_t>(0, now - result.read.records.back().arrival_ms);
  s->counters->millis_behind_latest = result.millis_behind_latest;
  shard->counters->outgoing_records.fetch_add(result.read.records.size(), std::memory_order_relaxed);
  shard->counters->outgoing_bytes.fetch_add(bytes, std::memory_order_relaxed);
  shard->counters->iterator_age_ms = s->counters->iterator_age_ms.load();
  return result;
}

std::vector<StreamMetrics> StreamStore::metrics() const {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::shared_lock lock(mu_);
    for (const auto& [_, s] : by_name_) streams.push_back(s);
  }
  std::vector<StreamMetrics> out;
  for (const auto& s : streams) {
    StreamMetrics m;
    m.name = s->name;
    m.id = s->id;
    {
      std::shared_lock lock(s->mu);
      m.status = to_string(s->status);
      m.open_shards = s->open_shards.size();
      m.shard_level_metrics = s->shard_level_metrics;
      if (!m.shard_level_metrics.empty()) {
        for (const Shard* sh : s->open_shards) {
          const ShardCounters& c = *sh->counters;
          m.shards.push_back({sh->info.index, c.incoming_records.load(), c.incoming_bytes.load(),
                              c.outgoing_records.load(), c.outgoing_bytes.load(), c.write_throttled.load(),
                              c.read_throttled.load(), c.iterator_age_ms.load()});
        }
      }
    }
    const auto& c = *s->counters;
    m.incoming_records = c.incoming_records;
    m.incoming_bytes = c.incoming_bytes;
    m.put_failed_records = c.put_failed_records;
    m.get_records_calls = c.get_records_calls;
    m.outgoing_records = c.outgoing_records;
    m.outgoing_bytes = c.outgoing_bytes;
    m.iterator_age_ms = c.iterator_age_ms;
    m.millis_behind_latest = c.millis_behind_latest;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace eddy::stream
