// The one place where eddy's error codes become AWS wire errors: `__type`, HTTP status, message.
#pragma once

#include "api/http_types.h"
#include "api/value.h"
#include "common/error.h"

namespace eddy::api {

const char* aws_error_type(Errc code);
int aws_http_status(Errc code);
HttpResponse error_response(const Error& error, Protocol protocol);
const char* content_type_for(Protocol protocol);

}  // namespace eddy::api
