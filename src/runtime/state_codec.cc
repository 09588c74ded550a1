#include "runtime/state_codec.h"

#include <bit>
#include <cstring>

namespace eddy::runtime {

void StateWriter::u64(uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out_.append(b, 8);
}

void StateWriter::i128(__int128 v) {
  const auto u = static_cast<unsigned __int128>(v);
  u64(static_cast<uint64_t>(u));
  u64(static_cast<uint64_t>(u >> 64));
}

void StateWriter::f64(double v) {
  u64(std::bit_cast<uint64_t>(v));
}

void StateWriter::str(std::string_view s) {
  u64(s.size());
  out_.append(s);
}

void StateWriter::value(const Value& v) {
  u64(static_cast<uint64_t>(v.kind));
  switch (v.kind) {
    case Value::Kind::kNull:
      break;
    case Value::Kind::kInt:
      i64(v.i);
      break;
    case Value::Kind::kDouble:
      f64(v.d);
      break;
    case Value::Kind::kString:
      str(v.s);
      break;
  }
}

void StateWriter::values(const std::vector<Value>& vs) {
  u64(vs.size());
  for (const auto& v : vs) value(v);
}

void StateWriter::row(const Row& r) {
  i64(r.rowtime);
  i64(r.origin);
  u64(r.shard);
  values(r.values);
}

bool StateReader::need(size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

uint64_t StateReader::u64() {
  if (!need(8)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
  pos_ += 8;
  return v;
}

__int128 StateReader::i128() {
  const uint64_t lo = u64();
  const uint64_t hi = u64();
  return static_cast<__int128>((static_cast<unsigned __int128>(hi) << 64) | lo);
}

double StateReader::f64() {
  return std::bit_cast<double>(u64());
}

std::string StateReader::str() {
  const uint64_t n = u64();
  if (!need(n)) return {};
  std::string s(in_.substr(pos_, n));
  pos_ += n;
  return s;
}

Value StateReader::value() {
  Value v;
  switch (u64()) {
    case 0:
      break;
    case 1:
      v.set_int(i64());
      break;
    case 2:
      v.set_real(f64());
      break;
    case 3:
      v.set_text(str());
      break;
    default:
      ok_ = false;
  }
  return v;
}

std::vector<Value> StateReader::values() {
  std::vector<Value> vs(count());
  for (auto& v : vs) v = value();
  return vs;
}

Row StateReader::row() {
  Row r;
  r.rowtime = i64();
  r.origin = i64();
  r.shard = static_cast<uint32_t>(u64());
  r.values = values();
  return r;
}

size_t StateReader::count(size_t min_bytes) {
  const uint64_t n = u64();
  if (!ok_ || (min_bytes > 0 && n > (in_.size() - pos_) / min_bytes)) {
    ok_ = false;
    return 0;
  }
  return static_cast<size_t>(n);
}

}  // namespace eddy::runtime
