// `eddy jobs deploy` and `eddy apply` of a C++ job, as a client of the Kinesis Analytics v2 API
// (signed like every AWS call, so it works against a server that requires SigV4): a new name is
// CreateApplication (FLINK-1_20, the library's bytes as ZipFileContent, the property groups as
// EnvironmentProperties) and StartApplication; an existing job is UpdateApplication with the new
// library, property groups and parallelism (the server restarts it from its checkpoint, keeping
// the state its steps still have), then StartApplication if it was not running.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "api/client.h"
#include "common/error.h"

namespace eddy::api {

// `analytics` signs for the service "kinesisanalytics". `parallelism` 0: the server's. Returns
// the application's ApplicationDetail after the start.
Result<nlohmann::json> deploy_job_library(ApiClient& analytics, const std::string& name, std::string_view library,
                                          const nlohmann::json& property_groups, int parallelism);

}  // namespace eddy::api
