// Managed Service for Apache Flink / Kinesis Data Analytics v2 control plane:
// `KinesisAnalytics_20180523.*` (boto3's `kinesisanalyticsv2`, `aws kinesisanalyticsv2`) over the
// same application host as v1, so both APIs see the same applications.
//
// RuntimeEnvironment SQL-1_0 is a KDA SQL application (TextContent plus
// SqlApplicationConfiguration). A FLINK-* runtime runs either a C++ job library (what a jar is to
// AWS: S3ContentLocation in a bucket directory <data-dir>/bucket/NAME/, or the library itself as
// ZipFileContent) with its EnvironmentProperties, or Flink SQL given as TextContent (an eddy
// extension: AWS runs Flink SQL in Studio notebooks). Flink's ParallelismConfiguration and
// CheckpointConfiguration apply to every runtime.
#pragma once

#include <filesystem>
#include <string_view>

#include "api/analytics_api.h"
#include "api/value.h"
#include "host/application_host.h"

namespace eddy::api {

class AnalyticsV2Api {
 public:
  // `v1` answers the operations whose shapes the two APIs share (tags, DiscoverInputSchema).
  AnalyticsV2Api(host::ApplicationHost& host, AnalyticsApi& v1, std::filesystem::path bucket_dir)
      : host_(host), v1_(v1), bucket_dir_(std::move(bucket_dir)) {}
  void handle(std::string_view op, const Value& input, Protocol protocol, Respond respond);

 private:
  host::ApplicationHost& host_;
  AnalyticsApi& v1_;
  std::filesystem::path bucket_dir_;
};

}  // namespace eddy::api
