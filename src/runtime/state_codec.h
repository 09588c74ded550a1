// The binary form of an application's operator state, for checkpoints: a flat little-endian
// byte string written and read field by field in the same order. Readers check every length
// against what is left, so a truncated or foreign blob is refused (ok() false), never overread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/value.h"

namespace eddy::runtime {

class StateWriter {
 public:
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void i128(__int128 v);
  void f64(double v);
  void boolean(bool v) { u64(v ? 1 : 0); }
  void str(std::string_view s);
  void value(const Value& v);
  void values(const std::vector<Value>& vs);
  void row(const Row& r);

  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}

  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  __int128 i128();
  double f64();
  bool boolean() { return u64() != 0; }
  std::string str();
  Value value();
  std::vector<Value> values();
  Row row();
  // A count of items about to be read, each at least `min_bytes` long: refused if the rest of the
  // input cannot hold them (a corrupt count must not make a huge allocation).
  size_t count(size_t min_bytes = 8);

  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == in_.size(); }
  void fail() { ok_ = false; }

 private:
  bool need(size_t n);
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace eddy::runtime
