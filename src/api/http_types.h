// The HTTP request/response as the API handlers see them, independent of the server library.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_request.h"

namespace eddy::api {

// A response that stays open and sends text as it comes (Server-Sent Events): after the headers
// the server calls `next` at once and then every `interval`, and writes what it returns; an empty
// string sends nothing that time; nullopt ends the response. `next` runs on a server thread and
// must not block. (HTTP/1.1 only; the connection closes when the stream ends.)
struct EventStream {
  std::chrono::milliseconds interval{1000};
  std::function<std::optional<std::string>()> next;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/x-amz-json-1.1";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<EventStream> events;  // set: a streaming response (body is ignored)
};

// How a handler answers: once, from any thread.
using Respond = std::function<void(HttpResponse)>;

}  // namespace eddy::api
