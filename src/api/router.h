// Routes an HTTP request to a service by `X-Amz-Target`, after authentication, decoding,
// normalisation and model validation; turns every failure into the AWS error for it.
#pragma once

#include <memory>
#include <string>

#include "api/http_types.h"
#include "api/kinesis_api.h"
#include "api/service_model.h"
#include "api/sigv4.h"

namespace eddy::api {

class Router {
 public:
  // `auth` may be null: then any signature (or none) is accepted, as local emulators do.
  Router(KinesisApi& kinesis, const ServiceModel& kinesis_model, const SigV4Verifier* auth, const Clock& clock)
      : kinesis_(kinesis), kinesis_model_(kinesis_model), auth_(auth), clock_(clock) {}

  void handle(HttpRequest& request, Respond respond);

 private:
  void handle_aws(HttpRequest& request, Protocol protocol, Respond& respond);

  KinesisApi& kinesis_;
  const ServiceModel& kinesis_model_;
  const SigV4Verifier* auth_;
  const Clock& clock_;
};

}  // namespace eddy::api
