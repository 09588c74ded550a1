// HTTP/1.1 and HTTP/2 server (clear text or TLS) on Boost.Beast with a small thread pool, within HttpLimits. Beast
// stays inside this file's .cc: other modules see only HttpRequest/HttpResponse.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/http_limits.h"
#include "api/http_types.h"
#include "common/error.h"

namespace eddy::api {

class HttpServer {
 public:
  using Handler = std::function<void(HttpRequest&, std::function<void(HttpResponse)>)>;

  HttpServer(Handler handler, int threads, HttpLimits limits = {});
  ~HttpServer();

  // Serves HTTPS instead of HTTP (before listen): PEM files; ALPN offers h2 and http/1.1.
  Status enable_tls(const std::string& cert_file, const std::string& key_file);
  // Binds and listens; returns the bound port (useful with port 0).
  Result<uint16_t> listen(const std::string& host, uint16_t port);
  // Serves on the pool until stop() or SIGINT/SIGTERM; returns when every thread is done.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eddy::api
