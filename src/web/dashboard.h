// What `eddy serve` answers to GET besides the AWS APIs: the dashboard page and its assets at `/`,
// its JSON endpoints under /dashboard/api/, live updates as Server-Sent Events, and /metrics.
//
//   GET /metrics                                         Prometheus text (metrics_text.h)
//   GET /dashboard/api/overview                          streams, applications, delivery streams
//   GET /dashboard/api/events                            SSE: an `overview` event every second;
//       ?application=A&output=S&since_ms=T                  also a `rows` event with the output's new rows
//   GET /dashboard/api/streams/NAME/records              the latest records of a stream
//   GET /dashboard/api/applications/NAME                 SQL, status, outputs, error_stream rows
//   GET /dashboard/api/applications/NAME/rows?output=S   the latest rows of an output (from its stream,
//                                                        or a delivery stream's 24 h journal)
//   GET /dashboard/api/delivery-streams/NAME             configuration and figures
// `records` and `rows` take limit=N (1..50000, default 1000) and since_ms=T (rows that arrived at
// or after T, UTC ms). Unknown names answer 404, bad parameters 400, both with {"message": ...}.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "api/kinesis_api.h"
#include "common/clock.h"
#include "delivery/delivery_host.h"
#include "host/application_host.h"
#include "stream/stream_store.h"
#include "web/cluster_figures.h"

namespace eddy::web {

class Dashboard {
 public:
  Dashboard(stream::StreamStore& store, host::ApplicationHost& apps, delivery::DeliveryHost& deliveries,
            const Clock& clock)
      : store_(store), apps_(apps), deliveries_(deliveries), clock_(clock) {}

  // Answers GET `path` if it is one of the above (or a dashboard asset); false otherwise.
  bool handle(const HttpRequest& request, std::string_view path, api::Respond& respond) const;

  nlohmann::json overview() const;

  // More Prometheus families appended to /metrics (cluster mode's), already in the text format.
  void set_extra_metrics(std::function<std::string()> extra) { extra_metrics_ = std::move(extra); }
  // The server's own state for the overview's "server" member (health, version, uptime, disk).
  void set_server_info(std::function<nlohmann::json()> info) { server_info_ = std::move(info); }
  // Cluster mode: stream and buffer figures are the cluster's (cluster_figures.h), not this node's.
  void set_cluster_figures(std::shared_ptr<const ClusterFigures> figures) { cluster_figures_ = std::move(figures); }

 private:
  api::HttpResponse application(const std::string& name) const;
  api::HttpResponse application_rows(const std::string& name, std::string_view query) const;
  api::HttpResponse stream_records(const std::string& name, std::string_view query) const;
  api::HttpResponse delivery_stream(const std::string& name) const;
  api::HttpResponse events(std::string_view query) const;
  // The output `output` (or the first) of application `name`, or the error response for it.
  Result<host::ApplicationOutputInfo> find_output(const std::string& name, const std::string* output,
                                                  int& status) const;
  // The latest records of `stream` (a delivery stream's journal if `delivery`) that arrived at or
  // after `since_ms`, at most `limit`, oldest first.
  Result<nlohmann::json> tail(const std::string& stream, bool delivery, TimestampMs since_ms, size_t limit) const;
  // The streams' and delivery streams' figures, the cluster's in cluster mode.
  struct Figures {
    std::vector<stream::StreamMetrics> streams;
    std::vector<delivery::DeliveryMetrics> deliveries;
  };
  Figures figures() const;

  stream::StreamStore& store_;
  host::ApplicationHost& apps_;
  delivery::DeliveryHost& deliveries_;
  const Clock& clock_;
  std::function<std::string()> extra_metrics_;
  std::function<nlohmann::json()> server_info_;
  std::shared_ptr<const ClusterFigures> cluster_figures_;
};

}  // namespace eddy::web
