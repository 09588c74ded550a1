#include "web/health.h"

#include "common/build_info.h"

namespace eddy::web {

nlohmann::json Health::state() const {
  // Applications: "starting" while one is being restored or started, "degraded" while one that
  // runs cannot make progress (its fault says why), else "running".
  std::string apps = "running";
  for (const auto& a : apps_.list()) {
    if (a.status == "STARTING") apps = "starting";
    if (a.status == "RUNNING" && a.fault && apps == "running") apps = "degraded";
  }
  std::string deliveries = "running";
  for (const auto& d : deliveries_.list()) {
    if (d.status == "CREATING" && deliveries == "running") deliveries = "starting";
  }
  std::string cluster = "disabled";
  bool cluster_ok = true;
  if (cluster_) {
    const ClusterHealth c = cluster_();
    cluster_ok = c.connected && c.jetstream;
    cluster = !c.connected ? "disconnected" : !c.jetstream ? "no_quorum" : "running";
  }
  const std::string init = init_ ? init_() : std::string();
  const bool ready = cluster_ok && apps != "starting" && init != "running";
  nlohmann::json out = {{"status", "ok"},
                        {"ready", ready},
                        {"version", build_version()},
                        {"commit", build_commit()},
                        {"uptime_seconds", static_cast<double>(clock_.now_ms() - started_ms_) / 1000.0},
                        {"services",
                         {{"streams", cluster_ok ? "running" : "unavailable"},
                          {"applications", apps},
                          {"delivery_streams", deliveries},
                          {"cluster", cluster}}}};
  if (!init.empty()) out["init"] = init;  // --apply's files: running, done or failed
  return out;
}

api::HttpResponse Health::health() const {
  api::HttpResponse r;
  r.content_type = "application/json";
  r.body = state().dump();
  return r;
}

api::HttpResponse Health::ready() const {
  api::HttpResponse r;
  r.content_type = "application/json";
  const auto s = state();
  r.status = s.at("ready").get<bool>() ? 200 : 503;
  r.body = s.dump();
  return r;
}

}  // namespace eddy::web
