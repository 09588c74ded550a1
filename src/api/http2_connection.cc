#include "api/http2_connection.h"

#include <nghttp2/nghttp2.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <map>
#include <memory>
#include <random>

namespace eddy::api {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

struct H2Stream {
  HttpRequest request;
  HttpResponse response;
  size_t sent = 0;
  bool too_large = false;
  bool over_budget = false;  // the server's budget of buffered bodies had no room for it
  size_t reserved = 0;       // of that budget, given back when the stream is handled or closed
  // A streaming response (response.events): bytes `next` returned and not yet framed, whether
  // it ended, and the timer that paces it.
  std::string pending;
  size_t pending_sent = 0;
  bool ended = false;
  bool waiting = false;  // on the timer
  bool woken = false;
  uint64_t handed = 0;  // bytes of events handed to nghttp2 so far: whether the stream moves
  std::unique_ptr<net::steady_timer> timer;
};

template <class Stream>
class Http2Connection : public std::enable_shared_from_this<Http2Connection<Stream>> {
 public:
  Http2Connection(Stream stream, const HttpServer::Handler& handler, std::shared_ptr<ConnectionSlot> slot)
      : stream_(std::move(stream)), handler_(handler), slot_(std::move(slot)), shared_(slot_->shared) {}

  ~Http2Connection() {
    if (session_) nghttp2_session_del(session_);
    for (auto& [_, s] : streams_) release(*s);
  }

  void start(std::string_view initial) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    // Streams a client may have open at once: 32 bodies of up to 32 MiB are the most one
    // connection can ask of the server's budget of buffered bodies.
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 32},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
    // A large connection window too, so PutRecords bodies stream in without round trips.
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 64 << 20);
    if (!feed(initial)) return close();
    flush();
    arm_idle();
    read();
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  static Http2Connection* self(void* user_data) { return static_cast<Http2Connection*>(user_data); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      self(user_data)->streams_[frame->hd.stream_id] = std::make_unique<H2Stream>();
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
    auto it = self(user_data)->streams_.find(frame->hd.stream_id);
    if (it == self(user_data)->streams_.end()) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    auto& req = it->second->request;
    if (n == ":method")
      req.method = std::move(v);
    else if (n == ":path")
      req.target = std::move(v);
    else if (n == ":authority")
      req.headers.emplace_back("host", std::move(v));
    else if (!n.starts_with(":"))
      req.headers.emplace_back(std::string(n), std::move(v));
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                           void* user_data) {
    auto it = self(user_data)->streams_.find(stream_id);
    if (it == self(user_data)->streams_.end()) return 0;
    auto& s = *it->second;
    auto* conn = self(user_data);
    if (s.too_large || s.over_budget) return 0;
    if (s.request.body.size() + len > conn->shared_.limits.max_body_bytes) {
      s.too_large = true;
      conn->release(s);
      s.request.body = std::string();
      return 0;
    }
    if (!conn->shared_.budget.take(len)) {
      s.over_budget = true;
      conn->release(s);
      s.request.body = std::string();
      return 0;
    }
    s.reserved += len;
    s.request.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  void release(H2Stream& s) {
    if (s.reserved) shared_.budget.give(s.reserved);
    s.reserved = 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      self(user_data)->dispatch(frame->hd.stream_id);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
    auto* conn = self(user_data);
    if (auto it = conn->streams_.find(stream_id); it != conn->streams_.end()) {
      conn->release(*it->second);
      if (it->second->timer) --conn->streaming_;
    }
    conn->streams_.erase(stream_id);
    return 0;
  }

  // A streaming response's data: what `next` gave, then a pause (deferred) until it gives more.
  static ssize_t read_events(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                             nghttp2_data_source* source, void* user_data) {
    auto* s = static_cast<H2Stream*>(source->ptr);
    const size_t n = std::min(length, s->pending.size() - s->pending_sent);
    if (n == 0) {
      if (s->ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
      }
      return NGHTTP2_ERR_DEFERRED;
    }
    std::memcpy(buf, s->pending.data() + s->pending_sent, n);
    s->pending_sent += n;
    s->handed += n;
    if (s->pending_sent == s->pending.size()) {
      s->pending.clear();
      s->pending_sent = 0;
      if (s->ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (s->response.events->drain || std::exchange(s->woken, false)) {
        self(user_data)->ask_soon(id);
      } else {
        self(user_data)->wait(id);
      }
    }
    return static_cast<ssize_t>(n);
  }

  // Calls `next` on the connection's executor, after the current callback returns.
  void ask_soon(int32_t id) {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), id] { self->ask(id); });
  }

  void wait(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto& s = *it->second;
    s.waiting = true;
    s.timer->expires_after(s.response.events->interval);
    s.timer->async_wait([self = this->shared_from_this(), id](beast::error_code) {
      auto it = self->streams_.find(id);
      if (it == self->streams_.end() || !it->second->waiting) return;
      it->second->waiting = false;
      it->second->woken = false;
      self->ask(id);
    });
  }

  // Asks the stream's producer for more and hands it to nghttp2.
  void ask(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end() || closed_) return;
    auto& s = *it->second;
    if (s.ended || !s.pending.empty() || s.waiting) return;
    std::optional<std::string> text;
    try {
      text = s.response.events->next();
    } catch (const std::exception&) {
      text.reset();
    }
    if (!text) {
      s.ended = true;
    } else if (text->empty()) {
      return wait(id);
    } else {
      s.pending = std::move(*text);
      watch_stall(id);
    }
    nghttp2_session_resume_data(session_, id);
    flush();
  }

  // A client that stops reading a stream lets its flow-control window shut: nghttp2 then sends
  // nothing of the event waiting, so no write is in flight for the write timeout to bound, and
  // `next` (where a takeover or the subscription's end is noticed) is not asked while an event
  // waits. Such a stream would hold its event, up to ~13 MB, as long as the connection lives. As a
  // stopped HTTP/1.1 reader is let go by the write timeout, a stream whose event has not moved for
  // as long is reset (CANCEL) and the event dropped. The stream's timer is free meanwhile: it
  // paces `next` only while no event waits.
  void watch_stall(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    const uint64_t mark = it->second->handed;
    it->second->timer->expires_after(shared_.limits.write_timeout);
    it->second->timer->async_wait([self = this->shared_from_this(), id, mark](beast::error_code ec) {
      if (ec || self->closed_) return;
      auto it = self->streams_.find(id);
      if (it == self->streams_.end()) return;
      auto& s = *it->second;
      if (s.ended || s.pending.empty()) return;
      if (s.handed != mark) return self->watch_stall(id);
      s.pending = std::string();
      s.pending_sent = 0;
      s.ended = true;
      nghttp2_submit_rst_stream(self->session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
      self->flush();  // closes the stream: `s` is gone after this
    });
  }

  void on_wake(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto& s = *it->second;
    if (s.waiting) {
      s.waiting = false;
      s.timer->cancel();
      return ask(id);
    }
    s.woken = true;  // its data is being sent: ask again once it has gone
  }

  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* source, void*) {
    auto* s = static_cast<H2Stream*>(source->ptr);
    const size_t n = std::min(length, s->response.body.size() - s->sent);
    std::memcpy(buf, s->response.body.data() + s->sent, n);
    s->sent += n;
    if (s->sent == s->response.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  void dispatch(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto& s = *it->second;
    if (s.too_large) {
      HttpResponse r;
      r.status = 400;
      r.body = R"({"__type":"SerializationException","message":"Request body exceeds 32 MiB."})";
      return respond(id, std::move(r));
    }
    if (s.over_budget) {
      HttpResponse r;
      r.status = 503;
      r.body =
          R"({"__type":"ServiceUnavailableException","message":"The server is buffering too many request bodies; retry shortly."})";
      return respond(id, std::move(r));
    }
    s.request.body.reserve(s.request.body.size() + 64);  // simdjson padding
    handler_(s.request, [weak = this->weak_from_this(), id](HttpResponse r) {
      auto conn = weak.lock();
      if (!conn) return;
      net::post(conn->stream_.get_executor(),
                [conn, id, r = std::move(r)]() mutable { conn->respond(id, std::move(r)); });
    });
    release(s);  // the handler has decoded the body
    s.request.body = std::string();
  }

  void respond(int32_t id, HttpResponse r) {
    auto it = streams_.find(id);
    if (it == streams_.end() || closed_) return;  // the client reset the stream meanwhile
    auto& s = *it->second;
    s.response = std::move(r);
    const bool streaming = s.response.events != nullptr;
    const std::string status = std::to_string(s.response.status);
    std::vector<std::pair<std::string, std::string>> hs = {{":status", status},
                                                           {"content-type", s.response.content_type}};
    if (response_header(s.response, "x-amzn-RequestId").empty()) hs.emplace_back("x-amzn-requestid", new_request_id());
    if (!streaming) hs.emplace_back("content-length", std::to_string(s.response.body.size()));
    for (const auto& [k, v] : s.response.headers) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      hs.emplace_back(std::move(lower), v);
    }
    std::vector<nghttp2_nv> nv;
    for (auto& [k, v] : hs) {
      nv.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider;
    provider.source.ptr = &s;
    provider.read_callback = streaming ? &read_events : &read_body;
    if (streaming) {
      ++streaming_;
      s.timer = std::make_unique<net::steady_timer>(stream_.get_executor());
      s.response.events->wake = [weak = this->weak_from_this(), id] {
        auto conn = weak.lock();
        if (!conn) return;
        net::post(conn->stream_.get_executor(), [conn, id] { conn->on_wake(id); });
      };
    }
    nghttp2_submit_response(session_, id, nv.data(), nv.size(), &provider);
    flush();
    if (streaming) ask(id);
  }

  bool feed(std::string_view bytes) {
    const auto n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return n >= 0;
  }

  void read() {
    // The read waits as long as the client is quiet: a subscription's client may send nothing
    // for minutes. The idle timer decides when quiet is too long.
    lowest().expires_never();
    stream_.async_read_some(net::buffer(read_buf_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      self->arm_idle();
      if (ec || self->closed_) return self->close();
      if (!self->feed(std::string_view(self->read_buf_.data(), n))) return self->close();
      self->flush();
      self->read();
    });
  }

  // Writes whatever nghttp2 has queued; one write in flight at a time.
  void flush() {
    if (writing_ || closed_) return;
    write_buf_.clear();
    const uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      write_buf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (write_buf_.empty()) {
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) close();
      return;
    }
    writing_ = true;
    lowest().expires_after(shared_.limits.write_timeout);
    net::async_write(stream_, net::buffer(write_buf_), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->close();
      self->flush();
    });
  }

  // An idle connection, or one whose client stopped sending mid-request, is let go, unless a
  // streaming response keeps it busy.
  void arm_idle() {
    idle_timer_.expires_after(shared_.limits.idle_timeout + shared_.limits.body_timeout);
    idle_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (self->streaming_ > 0) return self->arm_idle();
      self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    idle_timer_.cancel();
    beast::error_code ec;
    lowest().socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }

  Stream stream_;
  const HttpServer::Handler& handler_;
  std::shared_ptr<ConnectionSlot> slot_;
  HttpShared& shared_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::array<char, 64 * 1024> read_buf_{};
  std::string write_buf_;
  bool writing_ = false;
  bool closed_ = false;
  size_t streaming_ = 0;  // streams answering with a streaming response
  net::steady_timer idle_timer_{stream_.get_executor()};
};

}  // namespace

void serve_http2(beast::tcp_stream stream, std::string_view initial, const HttpServer::Handler& handler,
                 std::shared_ptr<ConnectionSlot> slot) {
  std::make_shared<Http2Connection<beast::tcp_stream>>(std::move(stream), handler, std::move(slot))->start(initial);
}

void serve_http2(beast::ssl_stream<beast::tcp_stream> stream, std::string_view initial,
                 const HttpServer::Handler& handler, std::shared_ptr<ConnectionSlot> slot) {
  using Tls = beast::ssl_stream<beast::tcp_stream>;
  std::make_shared<Http2Connection<Tls>>(std::move(stream), handler, std::move(slot))->start(initial);
}

}  // namespace eddy::api
