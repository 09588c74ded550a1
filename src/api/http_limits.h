// What one server lets its callers hold: connections, buffered request bodies and time. Shared by
// the HTTP/1.1 sessions and the HTTP/2 connections (http_server.cc, http2_connection.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

namespace eddy::api {

struct HttpLimits {
  size_t max_connections = 1024;            // more are answered 503 and closed
  size_t body_budget_bytes = 512u << 20;    // request bodies buffered at once, all connections together
  size_t max_body_bytes = 32u << 20;        // one request (a 10 MiB record in base64 in JSON fits)
  std::chrono::seconds idle_timeout{60};    // a kept-alive connection waiting for its next request
  std::chrono::seconds header_timeout{30};  // from the first byte to the end of the headers
  std::chrono::seconds body_timeout{120};   // reading one body (32 MiB at ~270 KB/s)
  std::chrono::seconds write_timeout{60};   // one response, or one event of a stream
};

// The budget of buffered request bytes. take() reserves before a body is read; the bytes are
// given back when the request has been handled.
class BodyBudget {
 public:
  explicit BodyBudget(size_t cap) : cap_(cap) {}
  bool take(size_t n) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > cap_ - std::min(used, cap_)) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const size_t cap_;
  std::atomic<size_t> used_{0};
};

// Everything a connection needs from its server; the connection count is held by a slot that
// gives itself back when the connection (HTTP/1.1 or HTTP/2) is gone.
struct HttpShared {
  explicit HttpShared(HttpLimits l) : limits(l), budget(l.body_budget_bytes) {}
  const HttpLimits limits;
  BodyBudget budget;
  std::atomic<size_t> connections{0};
};

struct ConnectionSlot {
  explicit ConnectionSlot(HttpShared& s) : shared(s) { shared.connections.fetch_add(1); }
  ~ConnectionSlot() { shared.connections.fetch_sub(1); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  HttpShared& shared;
};

}  // namespace eddy::api
