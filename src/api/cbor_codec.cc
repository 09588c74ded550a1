#include "api/cbor_codec.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace eddy::api {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}

  Result<Value> value(int depth) {
    if (depth > 64) return fail("CBOR nesting too deep");
    if (pos_ >= b_.size()) return fail("truncated CBOR body");
    const auto initial = static_cast<uint8_t>(b_[pos_++]);
    const uint8_t major = initial >> 5, info = initial & 0x1f;
    Value v;
    if (major == 7) return simple(info);
    if (info == 31) {
      if (major == 2 || major == 3) return indefinite_string(major, depth);
      if (major == 4) return indefinite_array(depth);
      if (major == 5) return indefinite_map(depth);
      return fail("invalid indefinite-length item");
    }
    uint64_t arg = 0;
    if (!argument(info, arg)) return fail("truncated CBOR body");
    switch (major) {
      case 0:
        if (arg > static_cast<uint64_t>(INT64_MAX)) {
          v.type = Value::Type::kDouble;
          v.number = static_cast<double>(arg);
        } else {
          v.type = Value::Type::kInt;
          v.integer = static_cast<int64_t>(arg);
        }
        return v;
      case 1:
        v.type = Value::Type::kInt;
        if (arg > static_cast<uint64_t>(INT64_MAX)) return fail("integer out of range");
        v.integer = -1 - static_cast<int64_t>(arg);
        return v;
      case 2:
      case 3:
        if (arg > b_.size() - pos_) return fail("truncated CBOR string");
        v.type = major == 2 ? Value::Type::kBytes : Value::Type::kString;
        v.text.assign(b_.data() + pos_, arg);
        pos_ += arg;
        return v;
      case 4:
        v.type = Value::Type::kArray;
        if (arg > b_.size() - pos_) return fail("truncated CBOR array");
        for (uint64_t i = 0; i < arg; ++i) {
          auto item = value(depth + 1);
          if (!item) return item;
          v.items.push_back(std::move(*item));
        }
        return v;
      case 5:
        v.type = Value::Type::kObject;
        if (arg > b_.size() - pos_) return fail("truncated CBOR map");
        for (uint64_t i = 0; i < arg; ++i) {
          auto k = value(depth + 1);
          if (!k) return k;
          if (k->type != Value::Type::kString) return fail("CBOR map keys must be text strings");
          auto val = value(depth + 1);
          if (!val) return val;
          v.members.emplace_back(std::move(k->text), std::move(*val));
        }
        return v;
      case 6:  // tags carry no meaning for AWS shapes (timestamps: see ServiceModel::normalize)
        return value(depth + 1);
    }
    return fail("invalid CBOR item");
  }

  bool at_end() const { return pos_ == b_.size(); }

 private:
  static tl::unexpected<Error> fail(const std::string& why) { return make_error(Errc::kSerialization, why); }

  bool argument(uint8_t info, uint64_t& arg) {
    if (info < 24) {
      arg = info;
      return true;
    }
    size_t n = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
    if (n == 0 || b_.size() - pos_ < n) return false;
    arg = 0;
    for (size_t i = 0; i < n; ++i) arg = (arg << 8) | static_cast<uint8_t>(b_[pos_ + i]);
    pos_ += n;
    return true;
  }

  Result<Value> simple(uint8_t info) {
    Value v;
    uint64_t bits = 0;
    switch (info) {
      case 20:
        v.type = Value::Type::kBool;
        v.boolean = false;
        return v;
      case 21:
        v.type = Value::Type::kBool;
        v.boolean = true;
        return v;
      case 22:
      case 23:
        return v;  // null, undefined
      case 25: {
        if (!argument(info, bits)) return fail("truncated CBOR body");
        // IEEE half precision
        const int exp = (bits >> 10) & 0x1f;
        const int mant = bits & 0x3ff;
        double d = exp == 0    ? std::ldexp(mant, -24)
                   : exp != 31 ? std::ldexp(mant + 1024, exp - 25)
                               : (mant == 0 ? INFINITY : NAN);
        v.type = Value::Type::kDouble;
        v.number = (bits & 0x8000) ? -d : d;
        return v;
      }
      case 26: {
        if (!argument(info, bits)) return fail("truncated CBOR body");
        v.type = Value::Type::kDouble;
        v.number = std::bit_cast<float>(static_cast<uint32_t>(bits));
        return v;
      }
      case 27: {
        if (!argument(info, bits)) return fail("truncated CBOR body");
        v.type = Value::Type::kDouble;
        v.number = std::bit_cast<double>(bits);
        return v;
      }
    }
    return fail("unsupported CBOR simple value");
  }

  bool at_break() const { return pos_ < b_.size() && static_cast<uint8_t>(b_[pos_]) == 0xff; }

  Result<Value> indefinite_string(uint8_t major, int depth) {
    Value v;
    v.type = major == 2 ? Value::Type::kBytes : Value::Type::kString;
    while (!at_break()) {
      if (pos_ >= b_.size()) return fail("truncated CBOR string");
      if ((static_cast<uint8_t>(b_[pos_]) >> 5) != major) return fail("mixed chunks in CBOR string");
      auto chunk = value(depth + 1);
      if (!chunk) return chunk;
      v.text += chunk->text;
    }
    ++pos_;
    return v;
  }

  Result<Value> indefinite_array(int depth) {
    Value v;
    v.type = Value::Type::kArray;
    while (!at_break()) {
      auto item = value(depth + 1);
      if (!item) return item;
      v.items.push_back(std::move(*item));
    }
    ++pos_;
    return v;
  }

  Result<Value> indefinite_map(int depth) {
    Value v;
    v.type = Value::Type::kObject;
    while (!at_break()) {
      auto k = value(depth + 1);
      if (!k) return k;
      if (k->type != Value::Type::kString) return fail("CBOR map keys must be text strings");
      auto val = value(depth + 1);
      if (!val) return val;
      v.members.emplace_back(std::move(k->text), std::move(*val));
    }
    ++pos_;
    return v;
  }

  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace

Result<Value> parse_cbor(std::string_view bytes) {
  Reader r(bytes);
  auto v = r.value(0);
  if (!v) return make_error(Errc::kSerialization, "Malformed CBOR request body: " + v.error().message);
  if (!r.at_end()) return make_error(Errc::kSerialization, "Malformed CBOR request body: trailing bytes");
  if (v->type != Value::Type::kObject) return make_error(Errc::kSerialization, "Request body must be a CBOR map.");
  return v;
}

void CborWriter::head(uint8_t major, uint64_t arg) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out_.push_back(static_cast<char>(m | arg));
    return;
  }
  int n;
  uint8_t info;
  if (arg <= 0xff) {
    n = 1;
    info = 24;
  } else if (arg <= 0xffff) {
    n = 2;
    info = 25;
  } else if (arg <= 0xffffffffULL) {
    n = 4;
    info = 26;
  } else {
    n = 8;
    info = 27;
  }
  out_.push_back(static_cast<char>(m | info));
  for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<char>((arg >> (8 * i)) & 0xff));
}

void CborWriter::string(std::string_view s) {
  head(3, s.size());
  out_.append(s);
}

void CborWriter::blob(std::string_view bytes) {
  head(2, bytes.size());
  out_.append(bytes);
}

void CborWriter::integer(int64_t v) {
  if (v >= 0)
    head(0, static_cast<uint64_t>(v));
  else
    head(1, static_cast<uint64_t>(-1 - v));
}

}  // namespace eddy::api
