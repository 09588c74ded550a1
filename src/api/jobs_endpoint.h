// POST /eddy/v1/jobs/<name>: `eddy jobs deploy`. The body is {"Library": base64 of the .so,
// "PropertyGroups": [{"PropertyGroupId", "PropertyMap"}]}; the answer, the application as
// DescribeApplication names it (ApplicationName, ApplicationARN, ApplicationStatus,
// ApplicationVersionId), or {"__type", "message"} with 400/409.
#pragma once

#include <string_view>

#include "api/http_types.h"
#include "api/kinesis_api.h"
#include "runtime/application_host.h"

namespace eddy::api {

// False if `path` is not a jobs path.
bool handle_jobs_request(runtime::ApplicationHost& host, const HttpRequest& request, std::string_view path, Respond& respond);

}  // namespace eddy::api
