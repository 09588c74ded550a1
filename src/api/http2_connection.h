// HTTP/2 for one connection: cleartext (h2c with prior knowledge) or over TLS. The AWS SDK for JavaScript v3
// talks HTTP/2 to Kinesis by default, also to http:// endpoints, so an unmodified JS client needs
// it. Internal to api/: only http_server.cc includes this (it exposes Asio types).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <string_view>

#include "api/http_limits.h"
#include "api/http_server.h"

namespace eddy::api {

// The HTTP/2 connection preface every h2c client sends first.
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Serves HTTP/2 on `stream`; `initial` holds bytes already read (the preface onwards). `slot`
// counts the connection and gives the limits and the body budget it shares with the server.
void serve_http2(boost::beast::tcp_stream stream, std::string_view initial, const HttpServer::Handler& handler,
                 std::shared_ptr<ConnectionSlot> slot);
// The same over TLS (ALPN chose h2).
void serve_http2(boost::beast::ssl_stream<boost::beast::tcp_stream> stream, std::string_view initial,
                 const HttpServer::Handler& handler, std::shared_ptr<ConnectionSlot> slot);

}  // namespace eddy::api
