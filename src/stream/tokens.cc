#include "stream/tokens.h"

#include <cstring>

#include "common/digest.h"

namespace eddy::stream {
namespace {

constexpr uint8_t kIteratorVersion = 1;
constexpr uint8_t kPageVersion = 2;

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}
template <class T>
T get(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  p += sizeof(v);
  return v;
}

std::string seal(std::string raw) {
  put(raw, crc32c(raw));
  return base64_encode(raw);
}

std::optional<std::string> unseal(std::string_view text, uint8_t version) {
  auto raw = base64_decode(text);
  if (!raw || raw->size() < 5 || static_cast<uint8_t>((*raw)[0]) != version) return std::nullopt;
  uint32_t crc;
  std::memcpy(&crc, raw->data() + raw->size() - 4, 4);
  raw->resize(raw->size() - 4);
  if (crc32c(*raw) != crc) return std::nullopt;
  return raw;
}

}  // namespace

std::string encode_iterator(const IteratorToken& t) {
  std::string raw;
  put(raw, kIteratorVersion);
  put(raw, t.stream_id);
  put(raw, t.shard_index);
  put(raw, t.offset);
  put(raw, t.issued_ms);
  return seal(std::move(raw));
}

std::optional<IteratorToken> decode_iterator(std::string_view text) {
  auto raw = unseal(text, kIteratorVersion);
  if (!raw || raw->size() != 1 + 8 + 4 + 8 + 8) return std::nullopt;
  const char* p = raw->data() + 1;
  IteratorToken t{};
  t.stream_id = get<uint64_t>(p);
  t.shard_index = get<uint32_t>(p);
  t.offset = get<log::Offset>(p);
  t.issued_ms = get<TimestampMs>(p);
  return t;
}

std::string encode_page_token(const PageToken& t) {
  std::string raw;
  put(raw, kPageVersion);
  put(raw, t.stream_id);
  put(raw, t.issued_ms);
  raw.append(t.after);
  return seal(std::move(raw));
}

std::optional<PageToken> decode_page_token(std::string_view text) {
  auto raw = unseal(text, kPageVersion);
  if (!raw || raw->size() < 1 + 8 + 8) return std::nullopt;
  const char* p = raw->data() + 1;
  PageToken t{};
  t.stream_id = get<uint64_t>(p);
  t.issued_ms = get<TimestampMs>(p);
  t.after.assign(p, static_cast<size_t>(raw->data() + raw->size() - p));
  return t;
}

}  // namespace eddy::stream
