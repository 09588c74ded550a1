// The one place where eddy's error codes become AWS wire errors: `__type`, HTTP status, message.
#pragma once

#include <string_view>

#include "api/http_types.h"
#include "api/value.h"
#include "common/error.h"

namespace eddy::api {

const char* aws_error_type(Errc code);
// The other way, for eddy's clients: an AWS `__type` (without its namespace) as the code it comes
// from; one eddy does not send maps by status (5xx: kInternal, else kInvalidArgument).
Errc errc_of_aws_error_type(std::string_view type, int http_status);
int aws_http_status(Errc code);
HttpResponse error_response(const Error& error, Protocol protocol);
const char* content_type_for(Protocol protocol);

}  // namespace eddy::api
