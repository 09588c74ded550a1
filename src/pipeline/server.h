// The three APIs a pipeline is applied through (Kinesis, Kinesis Analytics, Firehose), on one
// server, and reading the live state of the resources a pipeline names.
#pragma once

#include <optional>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "common/error.h"
#include "pipeline/model.h"

namespace eddy::pipeline {

class Server {
 public:
  // Signs with `credentials`, or the environment's (api::credentials_from_environment).
  Server(api::Endpoint endpoint, std::string region, std::optional<aws::AwsCredentials> credentials = std::nullopt);
  ~Server();

  Result<nlohmann::json> kinesis(const std::string& op, const nlohmann::json& body);
  Result<nlohmann::json> analytics(const std::string& op, const nlohmann::json& body);
  Result<nlohmann::json> firehose(const std::string& op, const nlohmann::json& body);
  // eddy jobs deploy (api/job_deploy_client.h): deploys or redeploys a C++ job library and starts it.
  Result<nlohmann::json> deploy_job(const std::string& name, const std::string& library,
                                    const nlohmann::json& property_groups, int parallelism = 0);
  // The latest error_stream rows of an application (eddy's GET endpoint), oldest first.
  Result<nlohmann::json> application_errors(const std::string& name);
  const std::string& region() const { return region_; }

 private:
  std::string region_;
  std::unique_ptr<api::ApiClient> kinesis_, analytics_, firehose_;
};

// True for an error answer of type ResourceNotFoundException.
bool is_not_found(const Error& e);

// Describes every resource `desired` declares or refers to (absent ones are simply missing).
Result<LiveState> read_live_state(Server& server, const DesiredState& desired);

// The parts of a destination configuration that a pipeline sets, with Firehose's defaults filled
// in, so that a declared destination and a described one compare equal when they mean the same.
nlohmann::json comparable_destination(const std::string& kind, const nlohmann::json& destination);

}  // namespace eddy::pipeline
