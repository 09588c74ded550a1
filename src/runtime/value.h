// A SQL value at run time. The static type lives with the expression or column; a Value only
// carries the representation: integers (also DATE days, TIME/TIMESTAMP/INTERVAL ms, DECIMAL
// unscaled, BOOLEAN 0/1), doubles (REAL kept rounded to float), or text.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "runtime/types.h"

namespace eddy::runtime {

struct Value {
  enum class Kind : uint8_t { kNull, kInt, kDouble, kString };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;

  static Value null() { return {}; }
  static Value integer(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value boolean(bool v) { return integer(v ? 1 : 0); }
  static Value real(double v) {
    Value x;
    x.kind = Kind::kDouble;
    x.d = v;
    return x;
  }
  static Value text(std::string v) {
    Value x;
    x.kind = Kind::kString;
    x.s = std::move(v);
    return x;
  }

  // In-place forms of the factories above for hot paths: no temporary, and a string keeps its
  // storage for the next value.
  void set_int(int64_t v) {
    kind = Kind::kInt;
    i = v;
    d = 0;
    s.clear();
  }
  void set_real(double v) {
    kind = Kind::kDouble;
    i = 0;
    d = v;
    s.clear();
  }
  void set_text(std::string_view v) {
    kind = Kind::kString;
    i = 0;
    d = 0;
    s.clear();  // then append: a plain copy into the kept storage (assign's overlap checks showed in profiles)
    s.append(v.data(), v.size());
  }
  void set(const Value& o) {
    kind = o.kind;
    i = o.i;
    d = o.d;
    if (o.kind == Kind::kString)
      s.assign(o.s);
    else
      s.clear();
  }

  bool is_null() const { return kind == Kind::kNull; }
  bool truthy() const { return kind == Kind::kInt && i != 0; }
  bool operator==(const Value& o) const { return kind == o.kind && i == o.i && d == o.d && s == o.s; }
};

struct Row {
  TimestampMs rowtime = 0;
  std::vector<Value> values;
  int64_t origin = 0;  // provenance for error_stream: the source record's ordinal (input line)
  uint32_t shard = 0;  // the source shard of an input row (event-time watermarks are per shard)
};

// Decimal scale helpers: DECIMAL(p,s) is stored as value * 10^s.
int64_t pow10(int n);

// Text forms used for output (JSON) and for CAST to VARCHAR.
std::string format_timestamp(TimestampMs ms);  // yyyy-MM-dd HH:mm:ss.SSS
std::string format_date(int64_t days);         // yyyy-MM-dd
std::string format_time(int64_t ms);           // HH:mm:ss.SSS
std::string format_decimal(int64_t unscaled, int scale);
std::string format_real(double v);    // shortest float32 round trip
std::string format_double(double v);  // shortest double round trip
// The value as text in `type` (CAST(x AS VARCHAR)); NULL gives "".
std::string to_text(const Value& v, const SqlType& type);

// Parsing text into typed values; false if the text is not such a value.
bool parse_timestamp_text(std::string_view s, TimestampMs& out);  // decisions.md 6 forms
bool parse_date_text(std::string_view s, int64_t& days);
bool parse_time_text(std::string_view s, int64_t& ms);
bool parse_decimal_text(std::string_view s, int scale, int64_t& unscaled);

// Total order for GROUP BY keys, ORDER/MIN/MAX and comparisons of same-typed values.
int compare_values(const Value& a, const Value& b);

// Inline: every row of a grouped query hashes its keys (the calls showed in profiles).
struct ValueHash {
  size_t operator()(const Value& v) const;
};
struct RowKeyHash {
  size_t operator()(const std::vector<Value>& k) const;
};

inline size_t ValueHash::operator()(const Value& v) const {
  switch (v.kind) {
    case Value::Kind::kNull:
      return 0x9e3779b9;
    case Value::Kind::kInt:
      return std::hash<int64_t>{}(v.i);
    case Value::Kind::kDouble:
      return std::hash<double>{}(v.d);
    case Value::Kind::kString: {
      // Group keys are mostly short strings: an inline word-at-a-time mix instead of a call.
      auto mix = [](uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
      };
      const char* p = v.s.data();
      const size_t n = v.s.size();
      uint64_t h = n * 0x9e3779b97f4a7c15ULL;
      size_t i = 0;
      for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = mix(h ^ w) * 0xc4ceb9fe1a85ec53ULL;
      }
      // The last n - i < 8 bytes as a little-endian word, read with at most two loads (a byte loop
      // was a quarter of key-group routing): the same value as shifting them in one by one.
      const size_t r = n - i;
      uint64_t tail = 0;
      if (r >= 4) {
        uint32_t lo, hi;
        std::memcpy(&lo, p + i, 4);
        std::memcpy(&hi, p + n - 4, 4);
        tail = lo | static_cast<uint64_t>(hi) << (8 * (r - 4));
      } else if (r > 0) {
        tail = static_cast<uint64_t>(static_cast<unsigned char>(p[i])) |
               static_cast<uint64_t>(static_cast<unsigned char>(p[i + r / 2])) << (8 * (r / 2)) |
               static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1])) << (8 * (r - 1));
      }
      return mix(h ^ tail);
    }
  }
  return 0;
}

inline size_t RowKeyHash::operator()(const std::vector<Value>& k) const {
  size_t h = 0;
  for (const auto& v : k) h = h * 1000003u ^ ValueHash {}(v);
  return h;
}

}  // namespace eddy::runtime
