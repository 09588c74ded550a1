#include "api/client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>

#include "api/aws_errors.h"
#include "api/tls_transport.h"
#include "common/clock.h"

namespace eddy::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Result<Endpoint> parse_endpoint(std::string_view url) {
  constexpr std::string_view kHttp = "http://", kHttps = "https://";
  auto bad = [&] {
    return make_error(
        Errc::kInvalidArgument,
        "--endpoint must look like http://127.0.0.1:4567 or https://host[:port], got '" + std::string(url) + "'");
  };
  Endpoint e;
  e.tls = url.starts_with(kHttps);
  if (!e.tls && !url.starts_with(kHttp)) return bad();
  auto rest = url.substr(e.tls ? kHttps.size() : kHttp.size());
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    e.host = rest;
    e.port = e.tls ? 443 : 80;
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

namespace {

// The profile's keys from an AWS shared credentials file (INI: [profile], key = value).
std::optional<aws::AwsCredentials> credentials_from_file(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  auto trim = [](std::string s) {
    const size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  aws::AwsCredentials c;
  bool in_profile = false;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_profile = trim(line.substr(1, line.size() - 2)) == profile;
      continue;
    }
    const size_t eq = line.find('=');
    if (!in_profile || eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id")
      c.access_key = value;
    else if (key == "aws_secret_access_key")
      c.secret_key = value;
    else if (key == "aws_session_token")
      c.session_token = value;
  }
  if (c.access_key.empty() || c.secret_key.empty()) return std::nullopt;
  return c;
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

}  // namespace

aws::AwsCredentials credentials_from_environment() {
  aws::AwsCredentials c;
  const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
  const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
  const char* tok = std::getenv("AWS_SESSION_TOKEN");
  if (ak && sk && *ak && *sk) {
    c.access_key = ak;
    c.secret_key = sk;
    if (tok) c.session_token = tok;
    return c;
  }
  const std::string home = env_or("HOME", "");
  const std::string file = env_or("AWS_SHARED_CREDENTIALS_FILE", home.empty() ? "" : home + "/.aws/credentials");
  if (!file.empty()) {
    if (auto from_file = credentials_from_file(file, env_or("AWS_PROFILE", "default"))) return *from_file;
  }
  c.access_key = "eddy-local";
  c.secret_key = "eddy-local";
  return c;
}

struct ApiClient::Impl {
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::unique_ptr<TlsTransport> tls;  // https endpoints
};

ApiClient::ApiClient(Endpoint endpoint, aws::AwsCredentials credentials, std::string region, std::string service)
    : endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      region_(std::move(region)),
      service_(std::move(service)),
      impl_(std::make_unique<Impl>()) {}

ApiClient::~ApiClient() = default;

Result<ClientResponse> ApiClient::post(std::string_view target, std::string_view body) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"host", endpoint_.host_header},
      {"content-type", "application/x-amz-json-1.1"},
      {"x-amz-target", std::string(target)},
  };
  aws::sign_request("POST", "/", headers, body, credentials_, region_, service_, SystemClock::instance().now_ms());
  return exchange(true, "/", headers, body);
}

Result<ClientResponse> ApiClient::get(std::string_view path) {
  // Signed like a POST: a server started with keys answers no GET but /health without them.
  std::vector<std::pair<std::string, std::string>> headers = {{"host", endpoint_.host_header}};
  aws::sign_request("GET", path, headers, "", credentials_, region_, service_, SystemClock::instance().now_ms());
  return exchange(false, path, headers, "");
}

Result<ClientResponse> ApiClient::exchange(bool post, std::string_view target,
                                           const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view body) {
  if (endpoint_.tls) {
    if (!impl_->tls) impl_->tls = std::make_unique<TlsTransport>();
    auto r = impl_->tls->exchange(post, "https://" + endpoint_.host_header + std::string(target), headers, body);
    if (!r) return tl::unexpected(r.error());
    return ClientResponse{r->status, std::move(r->body)};
  }
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
  return make_error(errc_of_aws_error_type(type, r->status), type + ": " + message);
}

}  // namespace eddy::api
