#include "api/client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>

#include "common/clock.h"

namespace eddy::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Result<Endpoint> parse_endpoint(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  auto bad = [&] {
    return make_error(Errc::kInvalidArgument, "--endpoint must look like http://127.0.0.1:4567, got '" + std::string(url) + "'");
  };
  if (!url.starts_with(kHttp)) return bad();
  auto rest = url.substr(kHttp.size());
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  Endpoint e;
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    e.host = rest;
    e.port = 80;
    e.host_header = std::string(rest);
  } else {
    e.host = rest.substr(0, colon);
    const auto digits = rest.substr(colon + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), e.port);
    if (ec != std::errc() || p != digits.data() + digits.size()) return bad();
    e.host_header = std::string(rest);
  }
  if (e.host.empty()) return bad();
  if (e.host == "localhost") e.host = "127.0.0.1";
  return e;
}

AwsCredentials credentials_from_environment() {
  AwsCredentials c;
  const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
  const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
  const char* tok = std::getenv("AWS_SESSION_TOKEN");
  if (ak && sk && *ak && *sk) {
    c.access_key = ak;
    c.secret_key = sk;
    if (tok) c.session_token = tok;
  } else {
    c.access_key = "eddy-local";
    c.secret_key = "eddy-local";
  }
  return c;
}

struct ApiClient::Impl {
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

ApiClient::ApiClient(Endpoint endpoint, AwsCredentials credentials, std::string region, std::string service)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), region_(std::move(region)),
      service_(std::move(service)), impl_(std::make_unique<Impl>()) {}

ApiClient::~ApiClient() = default;

Result<ClientResponse> ApiClient::post(std::string_view target, std::string_view body) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"host", endpoint_.host_header},
      {"content-type", "application/x-amz-json-1.1"},
      {"x-amz-target", std::string(target)},
  };
  sign_request("POST", "/", headers, body, credentials_, region_, service_, SystemClock::instance().now_ms());
  return exchange(true, "/", headers, body);
}

Result<ClientResponse> ApiClient::get(std::string_view path) {
  return exchange(false, path, {{"host", endpoint_.host_header}}, "");
}

Result<ClientResponse> ApiClient::post_path(std::string_view path, std::string_view json) {
  return exchange(true, path, {{"host", endpoint_.host_header}, {"content-type", "application/json"}}, json);
}

Result<ClientResponse> ApiClient::exchange(bool post, std::string_view target,
                                           const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view body) {
  http::request<http::string_body> req{post ? http::verb::post : http::verb::get, target, 11};
  for (const auto& [k, v] : headers) req.set(k, v);
  req.keep_alive(true);
  req.body() = std::string(body);
  req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!impl_->stream) {
      tcp::resolver resolver(impl_->ioc);
      auto results = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
      if (ec) return make_error(Errc::kIo, "cannot resolve " + endpoint_.host + ": " + ec.message());
      impl_->stream.emplace(impl_->ioc);
      impl_->stream->connect(results, ec);
      if (ec) {
        impl_->stream.reset();
        return make_error(Errc::kIo, "cannot connect to " + endpoint_.host_header + ": " + ec.message() +
                                         " (is `eddy serve` running there? check --endpoint)");
      }
      impl_->stream->socket().set_option(tcp::no_delay(true), ec);
    }
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    if (!ec) http::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->stream.reset();
      impl_->buffer.clear();
      if (attempt == 0) continue;  // the server may have closed an idle keep-alive connection
      return make_error(Errc::kIo, "request to " + endpoint_.host_header + " failed: " + ec.message());
    }
    auto res = parser.release();
    if (!res.keep_alive()) {
      impl_->stream.reset();
      impl_->buffer.clear();
    }
    return ClientResponse{static_cast<int>(res.result_int()), std::move(res.body())};
  }
  return make_error(Errc::kIo, "request failed");
}

Result<std::string> ApiClient::call(std::string_view target, std::string_view body) {
  auto r = post(target, body);
  if (!r) return tl::unexpected(r.error());
  if (r->status == 200) return std::move(r->body);
  std::string type = "HTTP " + std::to_string(r->status), message = r->body;
  try {
    const auto j = nlohmann::json::parse(r->body);
    type = j.value("__type", type);
    if (const size_t hash = type.find('#'); hash != std::string::npos) type = type.substr(hash + 1);
    message = j.value("message", j.value("Message", message));
  } catch (const std::exception&) {
  }
  return make_error(r->status >= 500 ? Errc::kInternal : Errc::kInvalidArgument, type + ": " + message);
}

}  // namespace eddy::api
