#include "delivery/stream_sink.h"

#include <algorithm>
#include <future>
#include <thread>

namespace eddy::delivery {

Result<std::map<uint32_t, uint64_t>> StreamSink::marks(const std::string& target) const {
  auto shards = store_.shards(target);
  if (!shards) return tl::unexpected(shards.error());
  std::map<uint32_t, uint64_t> out;
  for (const auto& s : *shards) {
    auto end = store_.shard_position(target, s.index, stream::IteratorType::kLatest);
    if (end) out[s.index] = *end;
  }
  return out;
}

std::set<std::string> StreamSink::keys_after(const std::string& target,
                                             const std::map<uint32_t, uint64_t>& marks) const {
  std::set<std::string> keys;
  auto shards = store_.shards(target);
  if (!shards) return keys;
  for (const auto& s : *shards) {
    const auto m = marks.find(s.index);
    uint64_t from = m == marks.end() ? 0 : m->second;
    for (;;) {
      auto r = store_.read_shard(target, s.index, from, 10'000);
      if (!r || r->read.records.empty()) break;
      for (const auto& rec : r->read.records) keys.emplace(rec.partition_key);
      from = r->next;
    }
  }
  return keys;
}

StreamDeliveryResult StreamSink::append(const std::string& target, const std::vector<StreamRecord>& records,
                                        const std::set<std::string>& skip, int retry_seconds,
                                        const std::function<bool()>& cancelled) const {
  StreamDeliveryResult result;
  std::vector<size_t> pending;
  const auto limit = store_.max_record_bytes(target);
  for (size_t i = 0; i < records.size(); ++i) {
    if (skip.count(records[i].partition_key)) continue;
    if (limit && records[i].data.size() > *limit) {
      result.too_large.push_back(i);
      continue;
    }
    pending.push_back(i);
  }
  const TimestampMs deadline = clock_.now_ms() + retry_seconds * 1000LL;
  int backoff_ms = 100;
  while (!pending.empty()) {
    ++result.attempts;
    std::vector<size_t> refused;
    for (size_t start = 0; start < pending.size(); start += 500) {
      const size_t n = std::min<size_t>(500, pending.size() - start);
      std::vector<stream::PutEntry> entries(n);
      for (size_t j = 0; j < n; ++j) {
        const auto& r = records[pending[start + j]];
        entries[j] = {r.partition_key, "", r.data};
      }
      auto put = store_.put(target, entries);
      if (!put) {
        result.error_code =
            put.error().code == Errc::kResourceNotFound ? "Kinesis.ResourceNotFound" : "Kinesis.DestinationException";
        result.error_message = put.error().message;
        refused.insert(refused.end(), pending.begin() + static_cast<long>(start), pending.end());
        break;
      }
      std::promise<Status> committed;
      committer_.commit(put->touched, [&committed](Status st) { committed.set_value(st); });
      if (auto st = committed.get_future().get(); !st) {
        // Durability unknown: the caller asks the target what it holds (keys_after) and retries.
        result.error_code = "Kinesis.DestinationException";
        result.error_message = st.error().message;
        result.uncertain = true;
        return result;
      }
      for (size_t j = 0; j < n; ++j) {
        const auto& o = put->outcomes[j];
        if (o.ok) continue;
        refused.push_back(pending[start + j]);
        result.error_code = o.error == Errc::kProvisionedThroughputExceeded ? "Kinesis.ProvisionedThroughputExceeded"
                                                                            : "Kinesis.DestinationException";
        result.error_message = o.message;
      }
    }
    pending = std::move(refused);
    if (pending.empty()) break;
    if (cancelled() || clock_.now_ms() >= deadline) {
      result.refused = std::move(pending);
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
  result.delivered = true;
  result.error_code.clear();
  result.error_message.clear();
  return result;
}

}  // namespace eddy::delivery
