#include "api/http_server.h"

#include "api/http2_connection.h"
#include "api/http_limits.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <cstdio>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace eddy::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string response_header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  }
  return {};
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    id[i] = kHex[rng() & 0xf];
  }
  return id;
}

namespace {

constexpr size_t kSimdjsonPadding = 64;

// A response for a request that is not served, then the connection closes.
std::shared_ptr<http::response<http::string_body>> refusal(http::status status, std::string_view type,
                                                           std::string_view message) {
  auto res = std::make_shared<http::response<http::string_body>>(status, 11);
  res->set(http::field::server, "eddy");
  res->set(http::field::content_type, "application/x-amz-json-1.1");
  res->body() = std::string(R"({"__type":")") + std::string(type) + R"(","message":")" + std::string(message) + "\"}";
  res->keep_alive(false);
  res->prepare_payload();
  return res;
}

// One HTTP/1.1 connection (or the start of an HTTP/2 one), over TCP or TLS.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const HttpServer::Handler& handler, std::shared_ptr<ConnectionSlot> slot)
      : stream_(std::move(stream)), handler_(handler), slot_(std::move(slot)), shared_(slot_->shared) {}
  ~Session() { release_body(); }

  void start() { detect(); }

 private:
  const HttpLimits& limits() const { return shared_.limits; }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // HTTP/1.1 or HTTP/2 with prior knowledge: the first bytes tell.
  void detect() {
    lowest().expires_after(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      const std::string_view seen(static_cast<const char*>(self->buffer_.data().data()), self->buffer_.size());
      if (seen.size() < kHttp2Preface.size() && kHttp2Preface.starts_with(seen)) return self->detect();
      if (seen.starts_with(kHttp2Preface)) {
        self->lowest().expires_never();
        return serve_http2(std::move(self->stream_), seen, self->handler_, self->slot_);
      }
      self->read();
    });
  }

  // Headers first (within the idle and header timeouts), then the body once the budget of
  // buffered bodies has room for it (within the body timeout).
  void read() {
    parser_.emplace();
    parser_->body_limit(limits().max_body_bytes);
    parser_->header_limit(64 * 1024);
    lowest().expires_after(buffer_.size() ? limits().header_timeout : limits().idle_timeout + limits().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    const auto length = parser_->content_length();
    const size_t want = length ? static_cast<size_t>(*length) : (parser_->chunked() ? limits().max_body_bytes : 0);
    if (want > limits().max_body_bytes) return on_read(http::error::body_limit);
    if (want > 0) {
      if (!shared_.budget.take(want)) {
        return refuse(http::status::service_unavailable, "ServiceUnavailableException",
                      "The server is buffering too many request bodies; retry shortly.");
      }
      reserved_ = want;
    }
    lowest().expires_after(limits().body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void release_body() {
    if (reserved_) shared_.budget.give(reserved_);
    reserved_ = 0;
  }

  void refuse(http::status status, std::string_view type, std::string_view message) {
    release_body();
    auto res = refusal(status, type, message);
    lowest().expires_after(limits().write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code, size_t) { self->close(); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == beast::error::timeout) {
      release_body();
      return close();
    }
    if (ec) {
      // Malformed HTTP or an oversized body: answer once, then close the connection.
      return refuse(http::status::bad_request, "SerializationException",
                    ec == http::error::body_limit ? "Request body exceeds 32 MiB." : "Malformed HTTP request.");
    }
    lowest().expires_never();  // the handler's time is its own (group commit, reads)
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.body.reserve(req.body.size() + kSimdjsonPadding);
    handler_(req, [self = this->shared_from_this()](HttpResponse response) {
      // May run on another thread (group commit): hop back to this connection's strand.
      net::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable { self->write(std::move(r)); });
    });
    release_body();  // the handler has decoded the body; the request is gone with this scope
  }

  void write(HttpResponse r) {
    if (r.events) return write_events(std::move(r));
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "eddy");
    res->set(http::field::content_type, r.content_type);
    res->set("x-amzn-RequestId", new_request_id());  // r.headers' own, if it has one, replaces it
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    lowest().expires_after(limits().write_timeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !self->keep_alive_) return self->close();
      self->read();
    });
  }

  // A streaming response: headers without a length (chunked, or the body ends when the
  // connection closes), then whatever `next` returns, when woken or every interval, until it ends
  // or the client leaves.
  void write_events(HttpResponse r) {
    keep_alive_ = false;
    events_ = std::move(r.events);
    timer_.emplace(stream_.get_executor());
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(r.status))) + "\r\n";
    head += "Server: eddy\r\nContent-Type: " + r.content_type + "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
    if (response_header(r, "x-amzn-RequestId").empty()) head += "x-amzn-RequestId: " + new_request_id() + "\r\n";
    if (events_->chunked) head += "Transfer-Encoding: chunked\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    events_->wake = [weak = this->weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      net::post(self->stream_.get_executor(), [self] {
        self->woken_ = true;
        if (!self->writing_) self->timer_->cancel();
      });
    };
    send_event_text(std::move(head), true);
  }

  // Writes `text`; then asks for the next text at once (after the headers, or to drain) or waits.
  void send_event_text(std::string text, bool at_once) {
    auto sp = std::make_shared<std::string>(std::move(text));
    writing_ = true;
    lowest().expires_after(limits().write_timeout);  // a reader that stops reading is let go
    net::async_write(stream_, net::buffer(*sp),
                     [self = this->shared_from_this(), sp, at_once](beast::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) return self->close();
                       if (at_once || self->events_->drain || std::exchange(self->woken_, false))
                         return self->next_event();
                       self->wait_for_event();
                     });
  }

  void wait_for_event() {
    timer_->expires_after(events_->interval);
    timer_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec && ec != net::error::operation_aborted) return self->close();
      self->woken_ = false;
      self->next_event();
    });
  }

  void next_event() {
    if (ended_) return;
    std::optional<std::string> text;
    try {
      text = events_->next();
    } catch (const std::exception&) {
      text.reset();
    }
    if (!text) {
      ended_ = true;
      if (!events_->chunked) return close();
      // The last chunk, then close.
      auto last = std::make_shared<std::string>("0\r\n\r\n");
      lowest().expires_after(limits().write_timeout);
      net::async_write(stream_, net::buffer(*last),
                       [self = this->shared_from_this(), last](beast::error_code, size_t) { self->close(); });
      return;
    }
    if (text->empty()) return wait_for_event();
    if (events_->chunked) {
      char size[20];
      const int n = std::snprintf(size, sizeof size, "%zx\r\n", text->size());
      text->insert(0, size, static_cast<size_t>(n));
      *text += "\r\n";
    }
    send_event_text(std::move(*text), false);
  }

  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServer::Handler& handler_;
  std::shared_ptr<ConnectionSlot> slot_;  // counts this connection while it lives
  HttpShared& shared_;
  size_t reserved_ = 0;  // of the body budget, for the request being read
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::shared_ptr<EventStream> events_;     // a streaming response in progress
  std::optional<net::steady_timer> timer_;  // paces it
  bool writing_ = false;                    // an event is being written
  bool woken_ = false;                      // `wake` was called since `next` last ran
  bool ended_ = false;                      // `next` ended the stream
};

}  // namespace

struct HttpServer::Impl {
  Impl(Handler h, int threads, HttpLimits limits)
      : handler(std::move(h)), threads(threads), shared(limits), acceptor(ioc), retry(ioc) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors (EMFILE) or another transient error: try again a little later instead
        // of spinning on an accept that fails at once.
        retry.expires_after(std::chrono::milliseconds(50));
        retry.async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
        return;
      }
      if (shared.connections.load() >= shared.limits.max_connections) {
        refuse(std::move(socket));
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        auto slot = std::make_shared<ConnectionSlot>(shared);
        if (tls) {
          handshake(std::move(socket), std::move(slot));
        } else {
          std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), handler, std::move(slot))
              ->start();
        }
      }
      accept();
    });
  }

  // TLS first (within the header timeout), then the same HTTP/1.1 or HTTP/2 as in clear text.
  void handshake(tcp::socket socket, std::shared_ptr<ConnectionSlot> slot) {
    auto stream = std::make_shared<TlsStream>(beast::tcp_stream(std::move(socket)), *tls);
    beast::get_lowest_layer(*stream).expires_after(shared.limits.header_timeout);
    stream->async_handshake(net::ssl::stream_base::server, [this, stream, slot](beast::error_code ec) mutable {
      if (ec) {
        beast::error_code e;
        beast::get_lowest_layer(*stream).socket().close(e);
        return;
      }
      std::make_shared<Session<TlsStream>>(std::move(*stream), handler, std::move(slot))->start();
    });
  }

  // One connection too many: a 503 that clients retry, then close.
  void refuse(tcp::socket socket) {
    if (tls) {  // a TLS client cannot read a clear-text answer
      beast::error_code e;
      socket.close(e);
      return;
    }
    auto s = std::make_shared<beast::tcp_stream>(std::move(socket));
    auto res = refusal(http::status::service_unavailable, "ServiceUnavailableException",
                       "The server has too many open connections; retry shortly.");
    s->expires_after(std::chrono::seconds(5));
    http::async_write(*s, *res, [s, res](beast::error_code, size_t) {
      beast::error_code e;
      s->socket().shutdown(tcp::socket::shutdown_both, e);
    });
  }

  Handler handler;
  int threads;
  HttpShared shared;
  std::optional<net::ssl::context> tls;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer retry;
  std::optional<net::signal_set> signals;  // SIGINT, SIGTERM: stop (set by listen)
};

HttpServer::HttpServer(Handler handler, int threads, HttpLimits limits)
    : impl_(std::make_unique<Impl>(std::move(handler), threads, limits)) {}
HttpServer::~HttpServer() = default;

Result<uint16_t> HttpServer::listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return make_error(Errc::kInvalidArgument, "--host '" + host + "' is not an IP address (use e.g. 127.0.0.1)");
  const tcp::endpoint endpoint{address, port};
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(Errc::kIo, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message() +
                                     " (is another eddy running? pick another --port)");
  }
  // SIGINT and SIGTERM stop the server from here on, before the caller says it listens: a
  // signal sent as soon as it does must be a graceful stop, not the default termination.
  if (!impl_->signals) {
    impl_->signals.emplace(impl_->ioc, SIGINT, SIGTERM);
    impl_->signals->async_wait([this](beast::error_code e, int) {
      if (!e) stop();
    });
  }
  return a.local_endpoint().port();
}

namespace {

// ALPN: HTTP/2 when the client offers it (the Java and Go SDKs need it for SubscribeToShard),
// else HTTP/1.1.
int select_protocol(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                    unsigned int in_len, void*) {
  static constexpr unsigned char kPreferred[] = "\x02h2\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, kPreferred, sizeof kPreferred - 1, in, in_len) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Status HttpServer::enable_tls(const std::string& cert_file, const std::string& key_file) {
  net::ssl::context ctx(net::ssl::context::tls_server);
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                  net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return make_error(Errc::kInvalidArgument,
                      "cannot read --tls-cert " + cert_file + ": " + ec.message() + " (a PEM certificate chain)");
  }
  ctx.use_private_key_file(key_file, net::ssl::context::pem, ec);
  if (ec) {
    return make_error(Errc::kInvalidArgument, "cannot use --tls-key " + key_file + ": " + ec.message() +
                                                  " (a PEM private key matching --tls-cert)");
  }
  SSL_CTX_set_alpn_select_cb(ctx.native_handle(), &select_protocol, nullptr);
  impl_->tls.emplace(std::move(ctx));
  return {};
}

void HttpServer::run() {
  impl_->accept();
  std::vector<std::thread> pool;
  for (int i = 1; i < impl_->threads; ++i) pool.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : pool) t.join();
}

void HttpServer::stop() {
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->ioc.stop();
  });
}

}  // namespace eddy::api
