#include "api/job_deploy_client.h"

#include "common/digest.h"

namespace eddy::api {

namespace {

using nlohmann::json;

constexpr std::string_view kTarget = "KinesisAnalytics_20180523.";
// CreateApplication requires a role; eddy has no IAM, any ARN does.
constexpr const char* kRole = "arn:aws:iam::000000000000:role/eddy-job";

Result<json> call(ApiClient& client, std::string_view op, const json& body) {
  auto r = client.call(std::string(kTarget) + std::string(op), body.dump());
  if (!r) return tl::unexpected(r.error());
  json answer = json::parse(*r, nullptr, false);
  if (answer.is_discarded()) return make_error(Errc::kInternal, std::string(op) + " answered with no JSON");
  return answer;
}

json parallelism_of(int n) {
  if (n > 0) return {{"ConfigurationType", "CUSTOM"}, {"Parallelism", n}};
  return {{"ConfigurationType", "DEFAULT"}};
}

}  // namespace

Result<json> deploy_job_library(ApiClient& analytics, const std::string& name, std::string_view library,
                                const json& property_groups, int parallelism) {
  const std::string code = base64_encode(library);
  auto described = call(analytics, "DescribeApplication", {{"ApplicationName", name}});
  json detail;
  if (!described && described.error().code == Errc::kResourceNotFound) {
    auto created =
        call(analytics, "CreateApplication",
             {{"ApplicationName", name},
              {"RuntimeEnvironment", "FLINK-1_20"},
              {"ServiceExecutionRole", kRole},
              {"ApplicationConfiguration",
               {{"ApplicationCodeConfiguration",
                 {{"CodeContentType", "ZIPFILE"}, {"CodeContent", {{"ZipFileContent", code}}}}},
                {"EnvironmentProperties", {{"PropertyGroups", property_groups}}},
                {"FlinkApplicationConfiguration", {{"ParallelismConfiguration", parallelism_of(parallelism)}}}}}});
    if (!created) return tl::unexpected(created.error());
    detail = (*created)["ApplicationDetail"];
  } else if (!described) {
    return tl::unexpected(described.error());
  } else {
    const json& now = (*described)["ApplicationDetail"];
    if (now.value("RuntimeEnvironment", "") == "SQL-1_0") {
      return make_error(Errc::kResourceInUse,
                        "Application " + name + " is a SQL application; deploy the job under another name");
    }
    json p = parallelism_of(parallelism);
    json update = {{"ConfigurationTypeUpdate", p["ConfigurationType"]}};
    if (parallelism > 0) update["ParallelismUpdate"] = parallelism;
    auto updated =
        call(analytics, "UpdateApplication",
             {{"ApplicationName", name},
              {"CurrentApplicationVersionId", now["ApplicationVersionId"]},
              {"ApplicationConfigurationUpdate",
               {{"ApplicationCodeConfigurationUpdate",
                 {{"CodeContentTypeUpdate", "ZIPFILE"}, {"CodeContentUpdate", {{"ZipFileContentUpdate", code}}}}},
                {"EnvironmentPropertyUpdates", {{"PropertyGroups", property_groups}}},
                {"FlinkApplicationConfigurationUpdate", {{"ParallelismConfigurationUpdate", update}}}}}});
    if (!updated) return tl::unexpected(updated.error());
    detail = (*updated)["ApplicationDetail"];
  }
  if (detail.value("ApplicationStatus", "") != "RUNNING") {
    auto started =
        call(analytics, "StartApplication",
             {{"ApplicationName", name},
              {"RunConfiguration",
               {{"ApplicationRestoreConfiguration", {{"ApplicationRestoreType", "RESTORE_FROM_LATEST_SNAPSHOT"}}}}}});
    if (!started) return tl::unexpected(started.error());
    auto after = call(analytics, "DescribeApplication", {{"ApplicationName", name}});
    if (!after) return tl::unexpected(after.error());
    detail = (*after)["ApplicationDetail"];
  }
  return detail;
}

}  // namespace eddy::api
