#include "api/event_stream.h"

#include <zlib.h>

namespace eddy::api {

namespace {

constexpr size_t kPreludeBytes = 12;
constexpr size_t kMaxMessageBytes = 24u << 20;  // a 10 MiB GetRecords-sized event in base64, and room
constexpr uint8_t kStringType = 7;

uint32_t crc(std::string_view bytes, uint32_t seed = 0) {
  return static_cast<uint32_t>(
      crc32(seed, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

uint32_t get32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

}  // namespace

std::optional<std::string> EventMessage::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::string encode_event_message(const EventHeaders& headers, std::string_view payload) {
  std::string hs;
  for (const auto& [name, value] : headers) {
    hs += static_cast<char>(name.size());
    hs += name;
    hs += static_cast<char>(kStringType);
    hs += static_cast<char>((value.size() >> 8) & 0xff);
    hs += static_cast<char>(value.size() & 0xff);
    hs += value;
  }
  std::string out;
  out.reserve(kPreludeBytes + hs.size() + payload.size() + 4);
  put32(out, static_cast<uint32_t>(kPreludeBytes + hs.size() + payload.size() + 4));
  put32(out, static_cast<uint32_t>(hs.size()));
  put32(out, crc(out));
  out += hs;
  out += payload;
  put32(out, crc(out));
  return out;
}

Result<std::optional<std::pair<EventMessage, size_t>>> decode_event_message(std::string_view bytes) {
  if (bytes.size() < kPreludeBytes) return std::nullopt;
  const uint32_t total = get32(bytes, 0);
  const uint32_t headers_len = get32(bytes, 4);
  if (crc(bytes.substr(0, 8)) != get32(bytes, 8))
    return make_error(Errc::kInvalidArgument, "event prelude CRC mismatch");
  if (total < kPreludeBytes + 4 || total > kMaxMessageBytes || headers_len > total - kPreludeBytes - 4) {
    return make_error(Errc::kInvalidArgument, "event message lengths are inconsistent");
  }
  if (bytes.size() < total) return std::nullopt;
  if (crc(bytes.substr(0, total - 4)) != get32(bytes, total - 4)) {
    return make_error(Errc::kInvalidArgument, "event message CRC mismatch");
  }
  EventMessage m;
  std::string_view hs = bytes.substr(kPreludeBytes, headers_len);
  while (!hs.empty()) {
    const size_t name_len = static_cast<uint8_t>(hs[0]);
    if (hs.size() < 1 + name_len + 1) return make_error(Errc::kInvalidArgument, "truncated event header");
    std::string name(hs.substr(1, name_len));
    const uint8_t type = static_cast<uint8_t>(hs[1 + name_len]);
    hs.remove_prefix(2 + name_len);
    // Sizes of the fixed-width header types: true, false, byte, short, int, long, -, -, timestamp, uuid.
    static constexpr int kFixed[] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16};
    if (type == 6 || type == kStringType) {
      if (hs.size() < 2) return make_error(Errc::kInvalidArgument, "truncated event header");
      const size_t len = static_cast<uint8_t>(hs[0]) << 8 | static_cast<uint8_t>(hs[1]);
      if (hs.size() < 2 + len) return make_error(Errc::kInvalidArgument, "truncated event header");
      if (type == kStringType) m.headers.emplace_back(std::move(name), std::string(hs.substr(2, len)));
      hs.remove_prefix(2 + len);
    } else if (type < 10 && kFixed[type] >= 0) {
      if (hs.size() < static_cast<size_t>(kFixed[type]))
        return make_error(Errc::kInvalidArgument, "truncated event header");
      hs.remove_prefix(static_cast<size_t>(kFixed[type]));
    } else {
      return make_error(Errc::kInvalidArgument, "unknown event header type " + std::to_string(type));
    }
  }
  m.payload = std::string(bytes.substr(kPreludeBytes + headers_len, total - kPreludeBytes - headers_len - 4));
  return std::pair{std::move(m), size_t{total}};
}

std::string event_message(std::string_view event_type, std::string_view content_type, std::string_view payload) {
  return encode_event_message({{":event-type", std::string(event_type)},
                               {":content-type", std::string(content_type)},
                               {":message-type", "event"}},
                              payload);
}

std::string exception_message(std::string_view exception_type, std::string_view content_type,
                              std::string_view payload) {
  return encode_event_message({{":exception-type", std::string(exception_type)},
                               {":content-type", std::string(content_type)},
                               {":message-type", "exception"}},
                              payload);
}

}  // namespace eddy::api
