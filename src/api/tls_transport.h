// HTTPS for ApiClient (the Beast client speaks plain HTTP): libcurl with one reused handle, so a
// producer keeps its TLS connection. Trusts the system's CAs, or AWS_CA_BUNDLE when set (as the
// AWS CLI does).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace eddy::api {

struct TlsResponse {
  int status = 0;
  std::string body;
};

class TlsTransport {
 public:
  TlsTransport();
  ~TlsTransport();
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // `url` is "https://host[:port]/path"; `headers` are sent as given (Host included).
  Result<TlsResponse> exchange(bool post, const std::string& url,
                               const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body);

 private:
  void* curl_ = nullptr;  // CURL*
};

}  // namespace eddy::api
