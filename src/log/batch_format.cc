#include "log/batch_format.h"

#include <cstring>

#include "common/digest.h"

namespace eddy::log {
namespace {

template <class T>
void put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // x86-64 is little-endian, the on-disk order
  out.append(buf, sizeof(T));
}

template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

void encode_batch(Offset base_offset, TimestampMs arrival_ms, std::span<const AppendRecord> records, std::string& out) {
  const size_t start = out.size();
  size_t body = 0;
  for (const auto& r : records) {
    body += kRecordHeaderBytes + r.partition_key.size() + r.explicit_hash_key.size() + r.data.size();
  }
  out.reserve(start + kBatchHeaderBytes + body);
  put<uint32_t>(out, 0);  // crc, patched below
  put<uint32_t>(out, static_cast<uint32_t>(body));
  put<uint64_t>(out, base_offset);
  put<int64_t>(out, arrival_ms);
  put<uint32_t>(out, static_cast<uint32_t>(records.size()));
  for (const auto& r : records) {
    put<uint32_t>(out, static_cast<uint32_t>(r.data.size()));
    put<uint16_t>(out, static_cast<uint16_t>(r.partition_key.size()));
    put<uint8_t>(out, static_cast<uint8_t>(r.explicit_hash_key.size() | (r.encrypted ? kEncryptedFlag : 0)));
    out.append(r.partition_key);
    out.append(r.explicit_hash_key);
    out.append(r.data);
  }
  const uint32_t crc = crc32c(std::string_view(out).substr(start + 4));
  std::memcpy(out.data() + start, &crc, sizeof(crc));
}

bool decode_batch_header(std::string_view bytes, BatchHeader& h) {
  if (bytes.size() < kBatchHeaderBytes) return false;
  const char* p = bytes.data();
  h.crc = get<uint32_t>(p);
  h.body_len = get<uint32_t>(p + 4);
  h.base_offset = get<uint64_t>(p + 8);
  h.arrival_ms = get<int64_t>(p + 16);
  h.count = get<uint32_t>(p + 24);
  return h.body_len <= kMaxBatchBodyBytes;
}

bool verify_batch(std::string_view batch, const BatchHeader& h) {
  if (batch.size() < h.total_bytes()) return false;
  return crc32c(batch.substr(4, h.total_bytes() - 4)) == h.crc;
}

bool decode_batch(std::string_view batch, const BatchHeader& h, std::vector<RecordView>& out) {
  if (!verify_batch(batch, h)) return false;
  const char* p = batch.data() + kBatchHeaderBytes;
  const char* end = batch.data() + h.total_bytes();
  const size_t first = out.size();
  for (uint32_t i = 0; i < h.count; ++i) {
    if (end - p < static_cast<ptrdiff_t>(kRecordHeaderBytes)) break;
    const auto data_len = get<uint32_t>(p);
    const auto key_len = get<uint16_t>(p + 4);
    const auto hash_byte = get<uint8_t>(p + 6);
    const uint8_t hash_len = hash_byte & ~kEncryptedFlag;
    p += kRecordHeaderBytes;
    if (static_cast<size_t>(end - p) < size_t{data_len} + key_len + hash_len) break;
    RecordView r;
    r.offset = h.base_offset + i;
    r.arrival_ms = h.arrival_ms;
    r.partition_key = {p, key_len};
    r.explicit_hash_key = {p + key_len, hash_len};
    r.data = {p + key_len + hash_len, data_len};
    r.encrypted = (hash_byte & kEncryptedFlag) != 0;
    p += size_t{data_len} + key_len + hash_len;
    out.push_back(r);
  }
  if (out.size() - first != h.count || p != end) {
    out.resize(first);
    return false;
  }
  return true;
}

}  // namespace eddy::log
