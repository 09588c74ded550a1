// Options shared by the client subcommands (streams, put, tail, bench).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "api/client.h"

namespace eddy::cli {

// The server's URL from the environment: EDDY_ENDPOINT, else the AWS SDKs' service-specific
// AWS_ENDPOINT_URL_KINESIS, else AWS_ENDPOINT_URL (eddy serves every API on one endpoint).
inline std::string endpoint_from_environment() {
  for (const char* name : {"EDDY_ENDPOINT", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL"}) {
    const char* e = std::getenv(name);
    if (e && *e) return e;
  }
  return "http://127.0.0.1:4567";
}

struct ClientOptions {
  std::string endpoint = endpoint_from_environment();
  std::string region = [] {
    const char* r = std::getenv("AWS_REGION");
    return std::string(r && *r ? r : "us-east-1");
  }();
};

// "a,b,,c" -> {"a", "b", "c"}: a comma-separated list such as --cluster's NATS URLs.
inline std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Prints "eddy: <message>" on stderr; returns the exit code for a failed command.
inline int fail(const std::string& message) {
  std::cerr << "eddy: " << message << "\n";
  return 1;
}

inline std::unique_ptr<api::ApiClient> make_client(const ClientOptions& o, std::string& error) {
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) {
    error = endpoint.error().message;
    return nullptr;
  }
  return std::make_unique<api::ApiClient>(*endpoint, api::credentials_from_environment(), o.region, "kinesis");
}

inline constexpr const char* kKinesis = "Kinesis_20131202.";

}  // namespace eddy::cli
