#include "delivery/source_reader.h"

#include <algorithm>

#include "common/fault_log.h"
#include "stream/kpl_aggregation.h"

namespace eddy::delivery {

namespace {
constexpr TimestampMs kJournalRetentionMs = 24LL * 3600 * 1000;  // Firehose keeps records 24 h
constexpr size_t kReadBatch = 2000;
}  // namespace

std::vector<SourceShard> SourceReader::shards() const {
  if (journal_) return {{0, {}}};
  std::vector<SourceShard> out;
  if (auto infos = store_.shards(stream_)) {
    for (const auto& s : *infos) {
      SourceShard shard{s.index, {}};
      for (auto p : {s.parent, s.adjacent_parent}) {
        if (p) shard.parents.push_back(*p);
      }
      out.push_back(std::move(shard));
    }
  }
  return out;
}

SourceReader::Read SourceReader::read(uint32_t shard, uint64_t from, uint64_t to,
                                      std::vector<SourceRecord>& out) const {
  const size_t max = to ? static_cast<size_t>(to - from) : kReadBatch;
  if (max == 0) return {from, false};
  if (journal_) {
    auto r = journal_->read(from, max, 64u << 20);
    if (!r) return {from, false};
    for (const auto& rec : r->records) out.push_back({rec.arrival_ms, 0, rec.offset, std::string(rec.data), ""});
    return {r->records.empty() ? std::max(from, r->next_offset) : r->records.back().offset + 1, false};
  }
  auto r = store_.read_shard(stream_, shard, from, max);
  if (!r) return {from, false};
  for (const auto& rec : r->read.records) {
    if (!stream::kpl::is_aggregated(rec.data)) {
      out.push_back({rec.arrival_ms, shard, rec.offset, std::string(rec.data), std::string(rec.partition_key)});
      continue;
    }
    auto users = stream::kpl::deaggregate(rec.data);
    if (!users) {
      out.push_back({rec.arrival_ms, shard, rec.offset, std::string(rec.data), std::string(rec.partition_key),
                     std::nullopt, users.error().message});
      continue;
    }
    for (uint32_t i = 0; i < users->size(); ++i) {
      const auto& u = (*users)[i];
      out.push_back(
          {rec.arrival_ms, shard, rec.offset, std::string(u.data), std::string(u.partition_key), i, std::string()});
    }
  }
  return {r->next, r->finished};
}

void SourceReader::apply_retention(TimestampMs now) {
  if (!journal_ || now - last_retention_ <= 60'000) return;
  // A failure is logged and tried again a minute later; the journal only grows meanwhile.
  if (auto st = journal_->trim_before(now - kJournalRetentionMs); !st)
    log_fault("retention of a delivery stream's journal", st.error().message);
  last_retention_ = now;
}

}  // namespace eddy::delivery
