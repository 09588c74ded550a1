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
#include "api/request_metrics.h"
#include "api/service_model.h"
#include "aws/sigv4.h"

namespace eddy::api {

using OperationHandler =
    std::function<void(std::string_view op, const Value& input, Protocol protocol, Respond respond)>;

struct Service {
  const ServiceModel* model;
  OperationHandler handler;
};

// eddy's own endpoints: GETs of any path other than /health, POSTs under /eddy/. Returns false
// if it does not serve the path.
using GetHandler = std::function<bool(const HttpRequest& request, std::string_view path, Respond& respond)>;

// Who may call: see docs/security.md.
struct AccessPolicy {
  // With keys: every request but GET /health needs one of them. A POST is SigV4-signed for
  // `region` and its service; a GET is SigV4-signed for any of the services, or HTTP Basic.
  const aws::SigV4Verifier* auth = nullptr;
  std::string region = "us-east-1";
  // Without keys, on a loopback address: a request naming another host (Host, Origin) is a web
  // page's (DNS rebinding, a cross-site form) and is refused.
  bool loopback_only = false;
};

class Router {
 public:
  // `policy.auth` may be null: then any signature (or none) is accepted, as local emulators do.
  Router(std::vector<Service> services, AccessPolicy policy, const Clock& clock, GetHandler get = {});

  void handle(HttpRequest& request, Respond respond);
  // GET /health and /ready, answered before authentication (probes carry no credentials):
  // `probe(path)` answers them. Without one, /health is a plain "ok".
  void set_probes(std::function<HttpResponse(std::string_view path)> probe) { probe_ = std::move(probe); }
  // Logs every AWS API request (component "access"): service, operation, status, error, latency,
  // the caller's access key id and the request id; never a secret or a signature.
  void set_access_log(bool on) { access_log_ = on; }
  // Counts every AWS API request by service and operation (the caller keeps `metrics` alive).
  void set_metrics(RequestMetrics* metrics) { metrics_ = metrics; }

 private:
  void handle_aws(HttpRequest& request, Protocol protocol, Respond& respond);

  std::vector<Service> services_;
  AccessPolicy policy_;
  aws::ExpectedScope any_service_;  // a GET's scope: the region, any of the services
  const Clock& clock_;
  GetHandler get_;
  RequestMetrics* metrics_ = nullptr;
  bool access_log_ = false;
  std::function<HttpResponse(std::string_view path)> probe_;
};

// Whether a Host or Origin value names this machine's loopback ("127.0.0.1:4567", "localhost",
// "[::1]:80", "http://localhost:4567"); exposed for tests.
bool names_loopback(std::string_view host_or_origin);

}  // namespace eddy::api
