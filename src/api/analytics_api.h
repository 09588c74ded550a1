// Kinesis Data Analytics for SQL (v1) control plane: `KinesisAnalytics_20150814.*` over the
// application host.
#pragma once

#include <string_view>

#include "api/kinesis_api.h"
#include "api/value.h"
#include "runtime/application_host.h"

namespace eddy::api {

class AnalyticsApi {
 public:
  AnalyticsApi(runtime::ApplicationHost& host, stream::StreamStore& store) : host_(host), store_(store) {}
  void handle(std::string_view op, const Value& input, Protocol protocol, Respond respond);

 private:
  runtime::ApplicationHost& host_;
  stream::StreamStore& store_;
};

}  // namespace eddy::api
