// Per API operation: requests, errors by AWS error type and latency, for /metrics
// (eddy_api_requests_total, eddy_api_errors_total, eddy_api_request_duration_seconds). The
// operations are the services' models' own, made when the server starts: a caller cannot add
// label values by naming operations that do not exist (those count as operation="unknown").
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace eddy::api {

class ServiceModel;

class RequestMetrics {
 public:
  // Histogram bounds in seconds: from a put on a quiet server to a slow Lambda-backed call.
  static constexpr std::array<double, 13> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,    0.25,  0.5,    1,     2.5,  10};

  // `label` is the service label's value ("kinesis", "firehose", "kinesisanalyticsv2", ...).
  void add_service(const std::string& label, const ServiceModel& model);
  // A request answered: `error_type` is the AWS error type ("" for a success). A model not added
  // or an operation it does not have counts under "unknown".
  void record(const ServiceModel* model, std::string_view operation, std::string_view error_type, double seconds);
  // The three families in the Prometheus text format.
  std::string render() const;

 private:
  struct Operation {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> micros{0};  // the sum of latencies
    std::array<std::atomic<uint64_t>, kBuckets.size()> buckets{};
    mutable std::mutex errors_mu;
    std::map<std::string, uint64_t, std::less<>> errors;  // AWS error types: a bounded set
  };
  Operation& find(const ServiceModel* model, std::string_view operation);

  struct Service {
    std::string label;
    std::map<std::string, std::unique_ptr<Operation>, std::less<>> ops;
  };
  // Built by add_service before the server answers, then only read.
  std::map<const ServiceModel*, Service> services_;
  Operation unknown_;
};

}  // namespace eddy::api
