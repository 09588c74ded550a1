#include "api/request_metrics.h"

#include <algorithm>
#include <cstdio>

#include "api/service_model.h"

namespace eddy::api {

void RequestMetrics::add_service(const std::string& label, const ServiceModel& model) {
  Service& s = services_[&model];
  s.label = label;
  for (const auto& name : model.operation_names()) s.ops.emplace(name, std::make_unique<Operation>());
}

RequestMetrics::Operation& RequestMetrics::find(const ServiceModel* model, std::string_view operation) {
  auto s = services_.find(model);
  if (s == services_.end()) return unknown_;
  auto o = s->second.ops.find(operation);
  return o == s->second.ops.end() ? unknown_ : *o->second;
}

void RequestMetrics::record(const ServiceModel* model, std::string_view operation, std::string_view error_type,
                            double seconds) {
  Operation& op = find(model, operation);
  op.requests.fetch_add(1, std::memory_order_relaxed);
  op.micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    if (seconds <= kBuckets[b]) {
      op.buckets[b].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  if (!error_type.empty()) {
    std::lock_guard lock(op.errors_mu);
    auto it = op.errors.find(error_type);
    if (it == op.errors.end()) it = op.errors.emplace(std::string(error_type), 0).first;
    ++it->second;
  }
}

std::string RequestMetrics::render() const {
  std::string requests =
      "# HELP eddy_api_requests_total API requests answered, by service and operation.\n"
      "# TYPE eddy_api_requests_total counter\n";
  std::string errors =
      "# HELP eddy_api_errors_total API requests answered with an error, by AWS error type.\n"
      "# TYPE eddy_api_errors_total counter\n";
  std::string latency =
      "# HELP eddy_api_request_duration_seconds Time from a request's arrival to its answer.\n"
      "# TYPE eddy_api_request_duration_seconds histogram\n";
  char buf[256];
  auto each = [&](const std::string& service, const std::string& name, const Operation& op) {
    const uint64_t n = op.requests.load(std::memory_order_relaxed);
    if (n == 0) return;  // operations never called stay out: ~100 series fewer
    const std::string labels = "service=\"" + service + "\",operation=\"" + name + "\"";
    requests += "eddy_api_requests_total{" + labels + "} " + std::to_string(n) + "\n";
    {
      std::lock_guard lock(op.errors_mu);
      for (const auto& [type, count] : op.errors)
        errors += "eddy_api_errors_total{" + labels + ",error=\"" + type + "\"} " + std::to_string(count) + "\n";
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      // At most the count read above: requests answered since then are not in it.
      cumulative = std::min(n, cumulative + op.buckets[b].load(std::memory_order_relaxed));
      std::snprintf(buf, sizeof buf, "{%s,le=\"%g\"} %llu\n", labels.c_str(), kBuckets[b],
                    static_cast<unsigned long long>(cumulative));
      latency += "eddy_api_request_duration_seconds_bucket";
      latency += buf;
    }
    latency += "eddy_api_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(n) + "\n";
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(op.micros.load(std::memory_order_relaxed)) / 1e6);
    latency += "eddy_api_request_duration_seconds_sum{" + labels + "} " + buf + "\n";
    latency += "eddy_api_request_duration_seconds_count{" + labels + "} " + std::to_string(n) + "\n";
  };
  for (const auto& [model, service] : services_) {
    for (const auto& [name, op] : service.ops) each(service.label, name, *op);
  }
  each("unknown", "unknown", unknown_);
  return requests + errors + latency;
}

}  // namespace eddy::api
