// Kinesis Data Analytics for SQL (v1) control plane: `KinesisAnalytics_20150814.*` over the
// application host.
#pragma once

#include <filesystem>
#include <string_view>

#include "api/kinesis_api.h"
#include "api/value.h"
#include "host/application_host.h"

namespace eddy::api {

class AnalyticsApi {
 public:
  // `bucket_dir` holds bucket directories (arn:aws:s3:::NAME -> bucket_dir/NAME) for
  // DiscoverInputSchema's S3Configuration.
  AnalyticsApi(host::ApplicationHost& host, stream::StreamStore& store, std::filesystem::path bucket_dir)
      : host_(host), store_(store), bucket_dir_(std::move(bucket_dir)) {}
  void handle(std::string_view op, const Value& input, Protocol protocol, Respond respond);

 private:
  host::ApplicationHost& host_;
  stream::StreamStore& store_;
  std::filesystem::path bucket_dir_;
};

}  // namespace eddy::api
