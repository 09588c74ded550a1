#include "host/shared_status.h"

#include <nlohmann/json.hpp>

#include "common/fault_log.h"

namespace eddy::host {

using nlohmann::json;

void SharedStatus::publish(const std::string& app, const Status& s) {
  const ApplicationMetrics& f = s.figures;
  json outputs = json::array();
  for (const auto& o : f.outputs) outputs.push_back({o.in_app_stream, o.target, o.delivery});
  json j = {{"node", node_},
            {"errors", json::array()},
            {"figures",
             {{"source", f.source},
              {"outputs", outputs},
              {"input_records", f.input_records},
              {"output_rows", f.output_rows},
              {"error_rows", f.error_rows},
              {"last_arrival_ms", f.last_arrival_ms},
              {"millis_behind_latest", f.millis_behind_latest},
              {"last_checkpoint_ms", f.last_checkpoint_ms}}}};
  if (f.watermark_ms) j["figures"]["watermark_ms"] = *f.watermark_ms;
  if (s.fault) j["fault"] = {{"reason", s.fault->reason}, {"since_ms", s.fault->since_ms}};
  // The newest rows that fit: a row may hold a 40 KB field.
  size_t bytes = 0;
  std::vector<const std::string*> kept;
  for (auto it = s.errors.rbegin(); it != s.errors.rend() && bytes + it->size() <= kMaxErrorBytes; ++it) {
    bytes += it->size();
    kept.push_back(&*it);
  }
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) j["errors"].push_back(**it);
  const std::string content = j.dump();
  const TimestampMs now = clock_.now_ms();
  std::lock_guard lock(mu_);
  Published& p = published_[app];
  if (p.text == content && now - p.at_ms < kRepublishMs) return;
  j["at_ms"] = now;
  const std::string text = j.dump();
  auto revision = board_->put(app, text, p.revision);
  if (!revision) {
    // Another node ran it before: write over what it left.
    auto current = board_->get(app);
    if (current) revision = board_->put(app, text, *current ? (**current).revision : 0);
  }
  if (!revision) {
    log_fault("publishing the status of application " + app, revision.error().message);
    return;
  }
  p = {content, *revision, now};
}

std::optional<SharedStatus::Status> SharedStatus::read(const std::string& app) const {
  auto doc = board_->get(app);
  if (!doc || !*doc) return std::nullopt;
  try {
    const json j = json::parse((**doc).value);
    if (clock_.now_ms() - j.at("at_ms").get<TimestampMs>() > kCurrentMs) return std::nullopt;
    Status s;
    if (j.contains("fault"))
      s.fault = ApplicationRunner::Fault{j["fault"].at("reason").get<std::string>(),
                                         j["fault"].at("since_ms").get<TimestampMs>()};
    for (const auto& row : j.at("errors")) s.errors.push_back(row.get<std::string>());
    const json& f = j.at("figures");
    ApplicationMetrics& m = s.figures;
    m.source = f.at("source").get<std::string>();
    for (const auto& o : f.at("outputs"))
      m.outputs.push_back({o.at(0).get<std::string>(), o.at(1).get<std::string>(), o.at(2).get<bool>()});
    m.input_records = f.at("input_records").get<uint64_t>();
    m.output_rows = f.at("output_rows").get<uint64_t>();
    m.error_rows = f.at("error_rows").get<uint64_t>();
    m.last_arrival_ms = f.at("last_arrival_ms").get<int64_t>();
    m.millis_behind_latest = f.at("millis_behind_latest").get<int64_t>();
    m.last_checkpoint_ms = f.at("last_checkpoint_ms").get<int64_t>();
    if (f.contains("watermark_ms")) {
      m.watermark_ms = f["watermark_ms"].get<int64_t>();
      m.watermark_lag_ms = std::max<int64_t>(0, clock_.now_ms() - *m.watermark_ms);
    }
    m.fault = s.fault ? std::optional<std::string>(s.fault->reason) : std::nullopt;
    return s;
  } catch (const std::exception&) {
    return std::nullopt;  // not eddy's: as if none
  }
}

void SharedStatus::remove(const std::string& app) {
  std::lock_guard lock(mu_);
  published_.erase(app);
  if (auto doc = board_->get(app); doc && *doc) (void)board_->remove(app, (**doc).revision);
}

}  // namespace eddy::host
