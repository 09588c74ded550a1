#include "api/router.h"

#include <exception>

#include "api/aws_errors.h"
#include "api/cbor_codec.h"
#include "api/json_codec.h"

namespace eddy::api {
namespace {

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

void Router::handle(HttpRequest& request, Respond respond) {
  const bool cbor = request.header("content-type").starts_with("application/x-amz-cbor");
  const Protocol protocol = cbor ? Protocol::kCbor : Protocol::kJson;
  try {
    const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
    if (request.method == "GET" || request.method == "HEAD") {
      if (path == "/health") return respond(plain(200, "ok\n"));
      if (get_ && get_(request, path, respond)) return;
      return respond(plain(404, "Not found. eddy serves the Kinesis API with POST / (X-Amz-Target: Kinesis_20131202.*).\n"));
    }
    if (request.method != "POST") return respond(plain(405, "Use POST for API calls.\n"));
    handle_aws(request, protocol, respond);
  } catch (const std::exception& e) {
    respond(error_response({Errc::kInternal, e.what()}, protocol));
  }
}

void Router::handle_aws(HttpRequest& request, Protocol protocol, Respond& respond) {
  const std::string_view target = request.header("x-amz-target");
  const size_t dot = target.find('.');
  const std::string_view prefix = target.substr(0, dot);
  const std::string_view op = dot == std::string_view::npos ? std::string_view{} : target.substr(dot + 1);
  const Service* service = nullptr;
  for (const auto& s : services_) {
    if (s.model->target_prefix() == prefix) service = &s;
  }
  if (!service || op.empty() || !service->model->has_operation(op)) {
    return respond(error_response({Errc::kUnknownOperation, "An unknown operation was requested: '" +
                                                                std::string(target) + "'."},
                                  protocol));
  }
  if (auth_) {
    if (auto ok = auth_->verify(request, clock_.now_ms()); !ok) return respond(error_response(ok.error(), protocol));
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
  if (auto st = service->model->normalize(op, *input, protocol); !st) return respond(error_response(st.error(), protocol));
  if (auto st = service->model->validate(op, *input); !st) return respond(error_response(st.error(), protocol));
  service->handler(op, *input, protocol, std::move(respond));
}

}  // namespace eddy::api
