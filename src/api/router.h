// Routes an HTTP request to a service by its `X-Amz-Target` prefix (Kinesis, Kinesis Analytics),
// after authentication, decoding, normalisation and validation against that service's model;
// turns every failure into the AWS error for it. GET requests go to `get` (health, eddy's own
// read-only endpoints).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "api/kinesis_api.h"
#include "api/service_model.h"
#include "api/sigv4.h"

namespace eddy::api {

using OperationHandler = std::function<void(std::string_view op, const Value& input, Protocol protocol, Respond respond)>;

struct Service {
  const ServiceModel* model;
  OperationHandler handler;
};

// eddy's own endpoints: GETs of any path other than /health, POSTs under /eddy/. Returns false
// if it does not serve the path.
using GetHandler = std::function<bool(const HttpRequest& request, std::string_view path, Respond& respond)>;

class Router {
 public:
  // `auth` may be null: then any signature (or none) is accepted, as local emulators do.
  Router(std::vector<Service> services, const SigV4Verifier* auth, const Clock& clock, GetHandler get = {})
      : services_(std::move(services)), auth_(auth), clock_(clock), get_(std::move(get)) {}

  void handle(HttpRequest& request, Respond respond);

 private:
  void handle_aws(HttpRequest& request, Protocol protocol, Respond& respond);

  std::vector<Service> services_;
  const SigV4Verifier* auth_;
  const Clock& clock_;
  GetHandler get_;
};

}  // namespace eddy::api
