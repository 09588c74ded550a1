// A small synchronous client for AWS JSON 1.1 APIs (eddy's own or AWS's), used by the CLI and
// the load generator: one keep-alive connection, SigV4-signed requests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "common/error.h"

namespace eddy::api {

struct Endpoint {
  std::string host;
  uint16_t port = 4567;
  std::string host_header;  // "host:port" as signed
  bool tls = false;         // https: sent through libcurl (tls_transport.h)
};

// Parses "http://127.0.0.1:4567" or "https://kinesis.us-east-1.amazonaws.com".
Result<Endpoint> parse_endpoint(std::string_view url);

// The standard chain, as far as a command line needs it: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
// (/ AWS_SESSION_TOKEN), else the profile AWS_PROFILE (default "default") of the shared credentials
// file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials), else a fixed local key that a
// server without --access-key accepts.
aws::AwsCredentials credentials_from_environment();

struct ClientResponse {
  int status = 0;
  std::string body;
};

class ApiClient {
 public:
  ApiClient(Endpoint endpoint, aws::AwsCredentials credentials, std::string region, std::string service);
  ~ApiClient();

  // POSTs `body` with X-Amz-Target `target`; reconnects once if the connection was closed.
  Result<ClientResponse> post(std::string_view target, std::string_view body);
  // GET of an eddy path (no signature needed).
  Result<ClientResponse> get(std::string_view path);
  // As post(), but a non-200 answer becomes an error "<__type>: <message>".
  Result<std::string> call(std::string_view target, std::string_view body);

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Result<ClientResponse> exchange(bool post, std::string_view target,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  std::string_view body);

  struct Impl;
  Endpoint endpoint_;
  aws::AwsCredentials credentials_;
  std::string region_;
  std::string service_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eddy::api
