// /health (liveness) and /ready (readiness), JSON with each service's state, as LocalStack's
// health endpoint answers: {"status", "ready", "version", "commit", "uptime_seconds",
// "services": {"streams", "applications", "delivery_streams", "cluster"}}. Load balancers and
// orchestrators probe them without credentials, so they name no stream or application.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http_types.h"
#include "common/clock.h"
#include "delivery/delivery_host.h"
#include "host/application_host.h"

namespace eddy::web {

struct ClusterHealth {
  bool connected = false;  // to a NATS server
  bool jetstream = false;  // JetStream answers (its meta group has a quorum)
};

class Health {
 public:
  Health(host::ApplicationHost& apps, delivery::DeliveryHost& deliveries, const Clock& clock)
      : apps_(apps), deliveries_(deliveries), clock_(clock), started_ms_(clock.now_ms()) {}

  // eddy serve --apply: "running" until the files are applied (not ready until then), then
  // "done" or "failed"; "" without any.
  void set_init(std::function<std::string()> state) { init_ = std::move(state); }
  // Cluster mode: how the node reaches its servers now (kept fresh by the caller).
  void set_cluster(std::function<ClusterHealth()> probe) { cluster_ = std::move(probe); }

  nlohmann::json state() const;
  // GET /health: 200 while the process serves. GET /ready: 200 when ready, 503 when not.
  api::HttpResponse health() const;
  api::HttpResponse ready() const;

 private:
  host::ApplicationHost& apps_;
  delivery::DeliveryHost& deliveries_;
  const Clock& clock_;
  TimestampMs started_ms_;
  std::function<ClusterHealth()> cluster_;
  std::function<std::string()> init_;
};

}  // namespace eddy::web
