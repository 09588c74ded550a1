// DeliveryHost::metrics() and tail(): read-only views for /metrics and the dashboard, from what the
// workers persist (state.json: positions, objects, records, last delivery), the ends of their
// sources and the direct-put journal. Kept apart from the workers so that reading never touches
// the delivery path.
#include "delivery/delivery_host.h"

#include <algorithm>
#include <tuple>

namespace eddy::delivery {

std::vector<DeliveryMetrics> DeliveryHost::buffers() const {
  std::lock_guard lock(mu_);
  std::vector<DeliveryMetrics> out;
  for (const auto& [name, entry] : streams_) {
    DeliveryMetrics m;
    m.name = name;
    std::tie(m.buffered_bytes, m.buffered_records) = buffered(*entry);
    if (m.buffered_bytes || m.buffered_records) out.push_back(std::move(m));
  }
  return out;
}

std::vector<DeliveryMetrics> DeliveryHost::metrics() const {
  // What is read outside the lock (state files may be blobs across the network).
  struct Seen {
    std::string name;
    DeliveryStream stream;
    std::shared_ptr<log::ShardStorage> journal;
    std::shared_ptr<const StateFiles> files;
    std::pair<uint64_t, uint64_t> buffered;
  };
  std::vector<Seen> seen;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, entry] : streams_)
      seen.push_back({name, entry->stream, entry->journal, entry->files, buffered(*entry)});
  }
  std::vector<DeliveryMetrics> out;
  for (const auto& entry : seen) {
    const auto& config = entry.stream.config;
    DeliveryMetrics m;
    m.name = entry.name;
    m.status = entry.stream.status;
    m.destination = config.contains("HttpEndpointDestinationConfiguration") ? "http" : "s3";
    const auto url = config.value("HttpEndpointDestinationConfiguration", nlohmann::json::object())
                         .value("EndpointConfiguration", nlohmann::json::object())
                         .value("Url", "");
    if (url.starts_with("arn:aws:kinesis:")) m.destination = "stream";
    nlohmann::json state = nlohmann::json::object();
    if (auto text = entry.files->read("state.json"); text && *text) {
      state = nlohmann::json::parse(**text, nullptr, false);
      if (!state.is_object()) state = nlohmann::json::object();
    }
    m.objects = state.value("objects", uint64_t{0});
    m.delivered_records = state.value("records", uint64_t{0});
    m.last_delivery_ms = state.value("last_delivery_ms", TimestampMs{0});
    m.failed_records = state.value("failed_records", uint64_t{0});
    std::tie(m.buffered_bytes, m.buffered_records) = entry.buffered;
    const auto positions = state.value("positions", nlohmann::json::object());
    auto delivered_up_to = [&](uint32_t shard) {
      const auto it = positions.find(std::to_string(shard));
      return it == positions.end() || !it->is_number_unsigned() ? uint64_t{0} : it->get<uint64_t>();
    };
    if (entry.journal) {
      m.source = "direct-put";
      const uint64_t end = entry.journal->end_offset();
      m.incoming_records = end;
      m.backlog_records = end - std::min(end, delivered_up_to(0));
      out.push_back(std::move(m));
      continue;
    }
    const auto arn =
        config.value("KinesisStreamSourceConfiguration", nlohmann::json::object()).value("KinesisStreamARN", "");
    auto source = store_.name_from_arn(arn);
    m.source = source ? *source : arn;
    if (source) {
      if (auto shards = store_.shards(*source)) {
        for (const auto& s : *shards) {
          auto end = store_.shard_position(*source, s.index, stream::IteratorType::kLatest);
          if (end) m.backlog_records += *end - std::min<uint64_t>(*end, delivered_up_to(s.index));
        }
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<DeliveryHost::JournalRecord>> DeliveryHost::tail(const std::string& name, TimestampMs since_ms,
                                                                    size_t limit) const {
  std::shared_ptr<log::ShardStorage> journal;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return make_error(Errc::kResourceNotFound, "Delivery stream " + name + " not found");
    journal = it->second->journal;
  }
  if (!journal) {
    return make_error(Errc::kInvalidArgument,
                      "Delivery stream " + name + " reads a stream: its records are that stream's");
  }
  const uint64_t end = journal->end_offset();
  uint64_t from = journal->start_offset();
  if (since_ms > 0) {
    if (auto at = journal->offset_for_time(since_ms)) from = std::max(from, *at);
  }
  if (end > limit) from = std::max<uint64_t>(from, end - limit);
  std::vector<JournalRecord> out;
  while (from < end) {
    auto read = journal->read(from, std::min<size_t>(5000, end - from), 64u << 20);
    if (!read || read->records.empty()) break;
    for (const auto& r : read->records) out.push_back({r.arrival_ms, r.offset, std::string(r.data)});
    from = read->records.back().offset + 1;
  }
  return out;
}

}  // namespace eddy::delivery
