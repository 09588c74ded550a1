// Firehose's HTTP endpoint destination: records POSTed as JSON with Firehose's request and
// response contract (firehose.md §7): request id (the same on retries), access key and common
// attributes headers, base64 records, 200 with the same request id as the only success, 413 final,
// everything else retried with backoff for RetryOptions.DurationInSeconds.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::delivery {

struct HttpEndpointConfig {
  std::string url;
  std::string name;
  std::string access_key;
  std::string common_attributes_json;  // {"commonAttributes":{...}} or empty
  bool gzip = false;
  int retry_seconds = 300;
};

struct HttpDeliveryResult {
  bool delivered = false;
  int attempts = 0;
  std::string error_code;  // HttpEndpoint.* when not delivered
  std::string error_message;
};

// Sends `records` (at most 10000) in one request with `request_id`; blocks through the retries
// (or until `cancelled` returns true).
HttpDeliveryResult deliver_http(const HttpEndpointConfig& config, const std::string& source_arn,
                                const std::string& request_id, const std::vector<std::string>& records,
                                const Clock& clock, const std::function<bool()>& cancelled);

}  // namespace eddy::delivery
