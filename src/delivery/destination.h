// What a delivery stream delivers to, as its worker uses it: the stored CreateDeliveryStream
// request's destination (ExtendedS3, or HTTP endpoint whose S3Configuration is the backup bucket
// for failed records, or an eddy stream named by its ARN in place of the endpoint URL), read and
// checked once. A request this rejects is never stored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "delivery/http_endpoint.h"
#include "delivery/lambda_transform.h"
#include "delivery/prefix.h"

namespace eddy::delivery {

// What a Lambda processor needs to resolve where its function runs.
struct LambdaSetup {
  const std::map<std::string, std::string>* functions;
  std::string runner;
};

struct Destination {
  std::optional<LambdaTransform> lambda;
  bool partitioning = false;               // dynamic partitioning: one object per partition key set
  std::optional<PartitionQuery> query;     // MetadataExtraction (JQ subset)
  std::optional<HttpEndpointConfig> http;  // else an S3-style bucket (or the stream below)
  std::string stream_arn;                  // an eddy stream as destination
  int stream_retry_seconds = 300;
  bool backup_all = false;  // HTTP: also write every record to the backup bucket
  std::string bucket;
  std::string prefix, error_prefix;
  uint64_t size_bytes = 5ull << 20;
  TimestampMs interval_ms = 300'000;
  bool gzip = false;
  bool append_newline = false;
  std::string extension;
};

// The destination of a stored (or about to be stored) CreateDeliveryStream request, or
// InvalidArgument with the reason.
Result<Destination> destination_of_stream(const nlohmann::json& request, const LambdaSetup& setup);

// The longest object name (the key after its prefix) that `name` writes at `version`:
// NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID and the extension (an error object has none).
std::string longest_object_name(const std::string& name, int64_t version, const Destination& d);

}  // namespace eddy::delivery
