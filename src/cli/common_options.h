// Options shared by the client subcommands (streams, put, tail, bench).
#pragma once

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "api/client.h"

namespace eddy::cli {

struct ClientOptions {
  std::string endpoint = [] {
    const char* e = std::getenv("EDDY_ENDPOINT");
    return std::string(e && *e ? e : "http://127.0.0.1:4567");
  }();
  std::string region = [] {
    const char* r = std::getenv("AWS_REGION");
    return std::string(r && *r ? r : "us-east-1");
  }();
};

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
