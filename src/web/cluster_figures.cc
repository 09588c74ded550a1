#include "web/cluster_figures.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>

#include "common/fault_log.h"

namespace eddy::web {

using nlohmann::json;

namespace {

// A stream's figures as one array, to keep a node's document small:
// [name, id, incoming records, incoming bytes, put failed, GetRecords calls, outgoing records,
//  outgoing bytes, iterator age ms, millis behind latest, shards], where shards (with enhanced
// monitoring on) are [index, incoming records, incoming bytes, outgoing records, outgoing bytes,
// write throttled, read throttled, iterator age ms].
json stream_row(const stream::StreamMetrics& s) {
  json shards = json::array();
  for (const auto& f : s.shards) {
    shards.push_back(json::array({f.index, f.incoming_records, f.incoming_bytes, f.outgoing_records, f.outgoing_bytes,
                                  f.write_throttled, f.read_throttled, f.iterator_age_ms}));
  }
  return json::array({s.name, s.id, s.incoming_records, s.incoming_bytes, s.put_failed_records, s.get_records_calls,
                      s.outgoing_records, s.outgoing_bytes, s.iterator_age_ms, s.millis_behind_latest,
                      std::move(shards)});
}

bool counts_something(const stream::StreamMetrics& s) {
  return s.incoming_records || s.put_failed_records || s.get_records_calls || s.iterator_age_ms ||
         s.millis_behind_latest || !s.shards.empty();
}

}  // namespace

void ClusterFigures::publish(const std::vector<stream::StreamMetrics>& streams,
                             const std::vector<delivery::DeliveryMetrics>& deliveries) {
  json rows = json::array();
  size_t bytes = 0;
  bool cut = false;
  for (const auto& s : streams) {
    if (!counts_something(s)) continue;
    json row = stream_row(s);
    bytes += row.dump().size();
    if (bytes > kMaxDocumentBytes) {
      cut = true;
      break;
    }
    rows.push_back(std::move(row));
  }
  if (cut) log_fault("publishing this node's stream figures", "too many streams with traffic; some are left out");
  json buffers = json::array();
  for (const auto& d : deliveries) {
    if (d.buffered_bytes || d.buffered_records)
      buffers.push_back(json::array({d.name, d.buffered_bytes, d.buffered_records}));
  }
  json j = {{"node", node_}, {"streams", std::move(rows)}, {"deliveries", std::move(buffers)}};
  const std::string content = j.dump();
  const TimestampMs now = clock_.now_ms();
  std::lock_guard lock(mu_);
  if (content == published_.content && now - published_.at_ms < kRepublishMs) return;
  j["at_ms"] = now;
  std::string text = j.dump();
  auto revision = board_->put(node_, text, published_.revision);
  if (!revision) {
    // A previous run of this node left a document (or a write's answer was lost): write over it.
    auto current = board_->get(node_);
    if (current) revision = board_->put(node_, text, *current ? (**current).revision : 0);
  }
  if (!revision) {
    log_fault("publishing this node's stream figures", revision.error().message);
    return;
  }
  published_ = {content, std::move(text), *revision, now};
}

std::vector<std::string> ClusterFigures::current_documents() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mu_);
    if (!published_.text.empty()) out.push_back(published_.text);
  }
  auto names = board_->names();
  if (!names) return out;
  const TimestampMs now = clock_.now_ms();
  for (const auto& name : *names) {
    if (name == node_) continue;
    auto doc = board_->get(name);
    if (!doc || !*doc) continue;
    const json j = json::parse((**doc).value, nullptr, false);
    if (!j.is_object() || !j.contains("at_ms") || !j["at_ms"].is_number_integer()) continue;
    if (now - j["at_ms"].get<TimestampMs>() > kCurrentMs) continue;
    out.push_back(std::move((**doc).value));
  }
  return out;
}

void ClusterFigures::merge(std::vector<stream::StreamMetrics>& streams,
                           std::vector<delivery::DeliveryMetrics>& deliveries) const {
  {
    std::lock_guard lock(mu_);
    if (published_.text.empty()) return;  // nothing published yet: this node's own, live
  }
  std::map<std::pair<std::string, uint64_t>, stream::StreamMetrics> stream_sums;
  std::map<std::tuple<std::string, uint64_t, uint32_t>, stream::ShardFigures> shard_sums;
  std::map<std::string, std::pair<uint64_t, uint64_t>> buffer_sums;
  for (const auto& text : current_documents()) {
    try {
      const json j = json::parse(text);
      for (const auto& row : j.at("streams")) {
        auto& m = stream_sums[{row.at(0).get<std::string>(), row.at(1).get<uint64_t>()}];
        m.incoming_records += row.at(2).get<uint64_t>();
        m.incoming_bytes += row.at(3).get<uint64_t>();
        m.put_failed_records += row.at(4).get<uint64_t>();
        m.get_records_calls += row.at(5).get<uint64_t>();
        m.outgoing_records += row.at(6).get<uint64_t>();
        m.outgoing_bytes += row.at(7).get<uint64_t>();
        // Gauges: the furthest behind of the nodes' consumers.
        m.iterator_age_ms = std::max(m.iterator_age_ms, row.at(8).get<int64_t>());
        m.millis_behind_latest = std::max(m.millis_behind_latest, row.at(9).get<int64_t>());
        if (row.size() < 11) continue;
        for (const auto& f : row.at(10)) {
          auto& sum = shard_sums[{row.at(0).get<std::string>(), row.at(1).get<uint64_t>(), f.at(0).get<uint32_t>()}];
          sum.incoming_records += f.at(1).get<uint64_t>();
          sum.incoming_bytes += f.at(2).get<uint64_t>();
          sum.outgoing_records += f.at(3).get<uint64_t>();
          sum.outgoing_bytes += f.at(4).get<uint64_t>();
          sum.write_throttled += f.at(5).get<uint64_t>();
          sum.read_throttled += f.at(6).get<uint64_t>();
          sum.iterator_age_ms = std::max(sum.iterator_age_ms, f.at(7).get<int64_t>());
        }
      }
      for (const auto& row : j.at("deliveries")) {
        auto& b = buffer_sums[row.at(0).get<std::string>()];
        b.first += row.at(1).get<uint64_t>();
        b.second += row.at(2).get<uint64_t>();
      }
    } catch (const std::exception&) {
      // Not eddy's document: counted as nothing.
    }
  }
  for (auto& s : streams) {
    const auto it = stream_sums.find({s.name, s.id});
    const stream::StreamMetrics none;
    const stream::StreamMetrics& sum = it == stream_sums.end() ? none : it->second;
    std::tie(s.incoming_records, s.incoming_bytes, s.put_failed_records, s.get_records_calls, s.outgoing_records,
             s.outgoing_bytes, s.iterator_age_ms, s.millis_behind_latest) =
        std::tie(sum.incoming_records, sum.incoming_bytes, sum.put_failed_records, sum.get_records_calls,
                 sum.outgoing_records, sum.outgoing_bytes, sum.iterator_age_ms, sum.millis_behind_latest);
    for (auto& f : s.shards) {
      const uint32_t index = f.index;
      const auto shard = shard_sums.find({s.name, s.id, index});
      f = shard == shard_sums.end() ? stream::ShardFigures{} : shard->second;
      f.index = index;
    }
  }
  for (auto& d : deliveries) {
    const auto it = buffer_sums.find(d.name);
    std::tie(d.buffered_bytes, d.buffered_records) =
        it == buffer_sums.end() ? std::pair<uint64_t, uint64_t>{0, 0} : it->second;
  }
}

void ClusterFigures::withdraw() {
  std::lock_guard lock(mu_);
  if (published_.revision) (void)board_->remove(node_, published_.revision);
  published_ = {};
}

}  // namespace eddy::web
