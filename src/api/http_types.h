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

// A response that stays open and sends bytes as they come (Server-Sent Events, AWS event
// streams): after the headers the server calls `next` at once, then whenever `wake` is called,
// or after `interval` if nothing woke it (and, with `drain`, as soon as each write completes); it
// writes what `next` returns. An empty string sends nothing that time; nullopt ends the response. `next` runs on a
// server thread and must not block.
struct EventStream {
  std::chrono::milliseconds interval{1000};
  std::function<std::optional<std::string>()> next;
  // HTTP/1.1: chunked transfer encoding (the connection still closes at the end); without it the
  // body ends when the connection closes. HTTP/2 frames the body itself.
  bool chunked = false;
  bool drain = false;
  // Set by the server before its first call to `next`: asks for `next` soon, from any thread
  // (a producer calls it when it has something to send, e.g. a shard's new records).
  std::function<void()> wake;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/x-amz-json-1.1";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<EventStream> events;  // set: a streaming response (body is ignored)
};

// A fresh x-amzn-RequestId (a random UUID-shaped id). A response that carries one keeps it.
std::string new_request_id();
// The value of header `name` (any case) of `r`, or "".
std::string response_header(const HttpResponse& r, std::string_view name);

// How a handler answers: once, from any thread.
using Respond = std::function<void(HttpResponse)>;

}  // namespace eddy::api
