#include "api/jobs_endpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/digest.h"

namespace eddy::api {

namespace {

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

HttpResponse error_response(int status, const char* type, const std::string& message) {
  return json_response(status, {{"__type", type}, {"message", message}});
}

}  // namespace

bool handle_jobs_request(runtime::ApplicationHost& host, const HttpRequest& request, std::string_view path, Respond& respond) {
  constexpr std::string_view kPrefix = "/eddy/v1/jobs/";
  if (!path.starts_with(kPrefix) || request.method != "POST") return false;
  const std::string name(path.substr(kPrefix.size()));
  if (name.empty() || name.size() > 128 || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos) {
    respond(error_response(400, "InvalidArgumentException", "a job name is 1 to 128 of [a-zA-Z0-9_.-]"));
    return true;
  }
  const auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("Library") || !body["Library"].is_string()) {
    respond(error_response(400, "InvalidArgumentException", "the body must be JSON with Library (the job's .so in base64)"));
    return true;
  }
  auto library = base64_decode(body["Library"].get<std::string>());
  if (!library || library->empty()) {
    respond(error_response(400, "InvalidArgumentException", "Library is not base64 of a shared library"));
    return true;
  }
  const auto parallelism = body.value("Parallelism", nlohmann::json(0));
  if (!parallelism.is_number_integer()) {
    respond(error_response(400, "InvalidArgumentException", "Parallelism must be an integer (0: the server's)"));
    return true;
  }
  auto app = host.deploy_job(name, *library, body.value("PropertyGroups", nlohmann::json::array()),
                             static_cast<int>(std::clamp<int64_t>(parallelism.get<int64_t>(), -1, 1 << 20)));
  if (!app) {
    const bool in_use = app.error().code == Errc::kResourceInUse;
    respond(error_response(in_use ? 409 : 400, in_use ? "ResourceInUseException" : "InvalidArgumentException", app.error().message));
    return true;
  }
  respond(json_response(200, {{"ApplicationName", name},
                              {"ApplicationARN", host.arn(name)},
                              {"ApplicationStatus", app->status},
                              {"ApplicationVersionId", app->version}}));
  return true;
}

}  // namespace eddy::api
