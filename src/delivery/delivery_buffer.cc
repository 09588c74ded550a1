#include "delivery/delivery_buffer.h"

#include <algorithm>

namespace eddy::delivery {

size_t DeliveryBuffer::fill(const SourceReader& source, DeliveryPositions& state) {
  const auto shards = source.shards();
  auto present = [&](uint32_t index) {
    return std::any_of(shards.begin(), shards.end(), [&](const SourceShard& s) { return s.index == index; });
  };
  size_t taken_in = 0;
  for (const auto& shard : shards) {
    const uint32_t s = shard.index;
    if (state.finished.count(s)) continue;
    const bool ready = std::none_of(shard.parents.begin(), shard.parents.end(),
                                    [&](uint32_t p) { return present(p) && !state.finished.count(p); });
    if (!ready) continue;
    if (bytes_ >= size_bytes_) break;  // full: deliver before reading more
    std::vector<SourceRecord> recs;
    const uint64_t from = read_to_.count(s) ? read_to_[s] : 0;
    auto [next, done] = source.read(s, from, 0, recs);
    if (!recs.empty()) {
      if (records_.empty()) started_ = recs.front().arrival;
      auto& range = ranges_.try_emplace(s, recs.front().offset, recs.front().offset).first->second;
      size_t taken = 0;
      for (size_t i = 0; i < recs.size(); ++i) {
        bytes_ += recs[i].data.size() + (append_newline_ ? 1 : 0);
        range.second = recs[i].offset + 1;
        records_.push_back(std::move(recs[i]));
        ++taken;
        // Full, but not inside a KPL aggregate: its user records share an offset, and a position
        // can only say "all of it" or "none of it".
        if (bytes_ >= size_bytes_ && (i + 1 == recs.size() || recs[i + 1].offset != records_.back().offset)) break;
      }
      if (taken < recs.size()) {
        next = range.second;
        done = false;
      }
      taken_in += taken;
    }
    read_to_[s] = next;
    if (done && recs.empty()) {
      state.finished.insert(s);
      if (!state.positions.count(s) || state.positions[s] < next) state.positions[s] = next;
    }
  }
  return taken_in;
}

bool DeliveryBuffer::due(TimestampMs now) const {
  return !records_.empty() && (bytes_ >= size_bytes_ || now - started_ >= interval_ms_);
}

DeliveryBuffer::Batch DeliveryBuffer::take() {
  Batch out{std::move(ranges_), std::move(records_)};
  ranges_.clear();
  records_.clear();
  bytes_ = 0;
  return out;
}

void DeliveryBuffer::read_again_from(const std::map<uint32_t, uint64_t>& positions) {
  read_to_ = positions;
  ranges_.clear();
  records_.clear();
  bytes_ = 0;
}

}  // namespace eddy::delivery
