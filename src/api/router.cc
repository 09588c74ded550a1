#include "api/router.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>

#include "api/aws_errors.h"
#include "api/cbor_codec.h"
#include "api/json_codec.h"
#include "common/logging.h"

namespace eddy::api {
namespace {

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

HttpResponse unauthorized() {
  HttpResponse r = plain(401,
                         "Authentication required: this server was started with keys. Sign the request (SigV4) or "
                         "use HTTP Basic with an access key id and its secret key.\n");
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"eddy\", charset=\"UTF-8\"");
  return r;
}

// CORS, as Kinesis answers browsers running the AWS SDK for JavaScript: a preflight (OPTIONS) is
// answered without authentication (browsers do not sign it, and it reveals nothing), and every
// answer to a request with an Origin lets the page read it and the AWS headers the SDK reads.
// Who may call is still decided per request: by its signature when the server has keys, and by
// the loopback rule when it has none (a page from another site is refused before this).
constexpr const char* kCorsExposed = "x-amzn-RequestId, x-amzn-ErrorType, x-amz-request-id, x-amz-id-2, Date";

void add_cors(HttpResponse& r) {
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Access-Control-Expose-Headers", kCorsExposed);
}

// The preflight's own headers (the origin ones come with every answer to a request with an Origin).
HttpResponse preflight(const HttpRequest& request) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  // The headers the page asked for, if they are header names (the SDK sends its x-amz-* ones,
  // content-type and authorization); anything else is left out rather than echoed.
  std::string_view asked = request.header("access-control-request-headers");
  const bool names_only =
      asked.size() <= 4096 && std::all_of(asked.begin(), asked.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ',' || c == ' ';
      });
  r.headers.emplace_back("Access-Control-Allow-Headers",
                         names_only && !asked.empty()
                             ? std::string(asked)
                             : std::string("authorization, content-type, x-amz-target, x-amz-date, "
                                           "x-amz-security-token, x-amz-user-agent, amz-sdk-invocation-id, "
                                           "amz-sdk-request"));
  r.headers.emplace_back("Access-Control-Max-Age", "86400");
  return r;
}

bool loopback_ipv4(std::string_view h) {
  // 127.0.0.0/8 in dotted decimal
  if (!h.starts_with("127.")) return false;
  int dots = 0, digits = 0;
  for (char c : h) {
    if (c == '.') {
      if (digits == 0) return false;
      ++dots;
      digits = 0;
    } else if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0;
}

}  // namespace

bool names_loopback(std::string_view v) {
  if (const size_t scheme = v.find("://"); scheme != std::string_view::npos) {
    const auto s = v.substr(0, scheme);
    if (s != "http" && s != "https") return false;
    v = v.substr(scheme + 3);
    if (const size_t slash = v.find('/'); slash != std::string_view::npos) v = v.substr(0, slash);
  }
  std::string_view host = v;
  if (v.starts_with('[')) {
    const size_t close = v.find(']');
    if (close == std::string_view::npos) return false;
    host = v.substr(1, close - 1);
    const auto rest = v.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return false;
    return host == "::1";
  }
  if (const size_t colon = v.rfind(':'); colon != std::string_view::npos) {
    const auto port = v.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
    host = v.substr(0, colon);
  }
  std::string lower(host);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "localhost" || lower.ends_with(".localhost") || loopback_ipv4(lower);
}

Router::Router(std::vector<Service> services, AccessPolicy policy, const Clock& clock, GetHandler get)
    : services_(std::move(services)), policy_(std::move(policy)), clock_(clock), get_(std::move(get)) {
  any_service_.region = policy_.region;
  for (const auto& s : services_) {
    if (std::find(any_service_.services.begin(), any_service_.services.end(), s.model->signing_name()) ==
        any_service_.services.end())
      any_service_.services.push_back(s.model->signing_name());
  }
}

void Router::handle(HttpRequest& request, Respond respond) {
  if (request.has_header("origin")) {
    respond = [inner = std::move(respond)](HttpResponse r) {
      add_cors(r);
      inner(std::move(r));
    };
  }
  const bool cbor = request.header("content-type").starts_with("application/x-amz-cbor");
  const Protocol protocol = cbor ? Protocol::kCbor : Protocol::kJson;
  try {
    const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
    if (policy_.loopback_only) {
      const auto host = request.header("host");
      const auto origin = request.header("origin");
      if ((!host.empty() && !names_loopback(host)) || (request.has_header("origin") && !names_loopback(origin))) {
        return respond(plain(403,
                             "Refused: this server listens on loopback without keys and answers requests for "
                             "localhost only (the Host or Origin names another site).\n"));
      }
    }
    if (request.method == "GET" || request.method == "HEAD") {
      if (path == "/health" || path == "/ready") {
        if (probe_) return respond(probe_(path));
        if (path == "/health") return respond(plain(200, "ok\n"));
      }
      if (policy_.auth && !policy_.auth->verify_basic(request.header("authorization")) &&
          !policy_.auth->verify(request, clock_.now_ms(), any_service_)) {
        return respond(unauthorized());
      }
      if (get_ && get_(request, path, respond)) return;
      return respond(
          plain(404, "Not found. eddy serves the Kinesis API with POST / (X-Amz-Target: Kinesis_20131202.*).\n"));
    }
    if (request.method == "OPTIONS") {
      HttpResponse r = preflight(request);
      if (!request.has_header("origin")) add_cors(r);  // with one, the wrapper above adds them
      return respond(std::move(r));
    }
    if (request.method != "POST") return respond(plain(405, "Use POST for API calls.\n"));
    handle_aws(request, protocol, respond);
  } catch (const std::exception& e) {
    respond(error_response({Errc::kInternal, e.what()}, protocol));
  }
}

namespace {

// The access key id of a SigV4 Authorization header (Credential=AKID/date/...), at most 128
// characters; "" without one. Only the id: the signature is not a thing to log.
std::string access_key_id(std::string_view authorization) {
  const size_t at = authorization.find("Credential=");
  if (at == std::string_view::npos) return {};
  const auto rest = authorization.substr(at + 11);
  return std::string(rest.substr(0, std::min<size_t>(rest.find_first_of("/, "), 128)));
}

}  // namespace

void Router::handle_aws(HttpRequest& request, Protocol protocol, Respond& respond) {
  const std::string_view target = request.header("x-amz-target");
  const size_t dot = target.find('.');
  const std::string_view prefix = target.substr(0, dot);
  const std::string_view op = dot == std::string_view::npos ? std::string_view{} : target.substr(dot + 1);
  const Service* service = nullptr;
  for (const auto& s : services_) {
    if (s.model->target_prefix() == prefix) service = &s;
  }
  if (metrics_ || access_log_) {
    // Measured to the answer (for an event stream, to its initial response), whatever it is.
    std::string key_id;
    if (access_log_) key_id = access_key_id(request.header("authorization"));
    respond = [inner = std::move(respond), metrics = metrics_, log = access_log_,
               model = service ? service->model : nullptr, service_name = std::string(prefix), op = std::string(op),
               key_id = std::move(key_id), start = std::chrono::steady_clock::now()](HttpResponse r) {
      std::string error = response_header(r, "x-amzn-ErrorType");
      std::string request_id = response_header(r, "x-amzn-RequestId");
      if (request_id.empty()) {  // the id the client sees is the one logged
        request_id = new_request_id();
        r.headers.emplace_back("x-amzn-RequestId", request_id);
      }
      if (error.empty() && r.status >= 400) error = "HTTP" + std::to_string(r.status);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      if (metrics) metrics->record(model, op, error, took.count());
      if (log) {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.3f", took.count() * 1000);
        log_info("access", "request",
                 {{"service", service_name},
                  {"operation", op},
                  {"status", std::to_string(r.status)},
                  {"error", error},
                  {"latency_ms", ms},
                  {"access_key_id", key_id},
                  {"request_id", request_id}});
      }
      inner(std::move(r));
    };
  }
  if (!service || op.empty() || !service->model->has_operation(op)) {
    return respond(error_response(
        {Errc::kUnknownOperation, "An unknown operation was requested: '" + std::string(target) + "'."}, protocol));
  }
  if (policy_.auth) {
    const aws::ExpectedScope scope{policy_.region, {service->model->signing_name()}};
    if (auto ok = policy_.auth->verify(request, clock_.now_ms(), scope); !ok)
      return respond(error_response(ok.error(), protocol));
  }
  Result<Value> input = Value{};
  if (request.body.empty()) {
    input->type = Value::Type::kObject;
  } else if (protocol == Protocol::kCbor) {
    input = parse_cbor(request.body);
  } else {
    input = parse_json(request.body.data(), request.body.size(), request.body.capacity());
  }
  if (!input) return respond(error_response(input.error(), protocol));
  if (auto st = service->model->normalize(op, *input, protocol); !st)
    return respond(error_response(st.error(), protocol));
  if (auto st = service->model->validate(op, *input); !st) return respond(error_response(st.error(), protocol));
  service->handler(op, *input, protocol, std::move(respond));
}

}  // namespace eddy::api
