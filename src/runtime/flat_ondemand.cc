#include "runtime/flat_ondemand.h"

#include <charconv>
#include <cstring>
#include <string>
#include <utility>

namespace eddy::runtime {

namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::number_type;
using Fast = InputSchema::Fast;

// A key as written (between its quotes) is column `f`'s name: the same bytes, then the closing
// quote. A key spelled with escapes never matches here (names hold no quote or backslash).
inline bool raw_key_is(const char* raw, const InputSchema::FlatName& f, const char* names) {
  return raw[0] == f.first && short_bytes_equal(raw, names + f.offset, f.length) && raw[f.length] == '"';
}

// Whether a key that matched no column is free of escapes (with them, it might still name one).
inline bool plain_key(const char* raw) {
  for (;; ++raw) {
    if (*raw == '"') return true;
    if (*raw == '\\') return false;
  }
}

// A value no column maps: checked as the general parse would check it, not converted.
inline bool valid_unmapped(simdjson::ondemand::value v, json_type type) {
  switch (type) {
    case json_type::string: {
      std::string_view s;
      return !v.get_string().get(s);
    }
    case json_type::number: {
      number_type kind;
      if (v.get_number_type().get(kind)) return false;
      if (kind == number_type::signed_integer) {
        int64_t i;
        return !v.get_int64().get(i);
      }
      if (kind == number_type::unsigned_integer) {
        uint64_t u;
        return !v.get_uint64().get(u);
      }
      // An integer beyond 64 bits is typed floating here, but the general parse rejects it.
      double d;
      return v.raw_json_token().find_first_of(".eE") != std::string_view::npos && !v.get_double().get(d);
    }
    case json_type::boolean: {
      bool b;
      return !v.get_bool().get(b);
    }
    case json_type::null: {
      bool is = false;
      return !v.is_null().get(is) && is;
    }
    default:
      return false;  // an object or array: the general path validates its contents
  }
}

// simdjson 3.0's On-Demand parser (Debian 12's) misreads decimals of more than 19 significant
// digits (0.42508639012344567890 read as 0.0561...), which its DOM parser reads right: such a
// number is converted again from its text, correctly rounded. False if that fails.
inline bool exact_double(std::string_view token, double& d) {
  size_t digits = 0, end = 0;
  for (; end < token.size(); ++end) {
    const char c = token[end];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c != '.' && c != '-') {
      break;
    }
  }
  if (digits <= 19) return true;
  while (end < token.size() && token[end] != ' ' && token[end] != ',' && token[end] != '}' && token[end] != ']' &&
         token[end] != '\t' && token[end] != '\n' && token[end] != '\r') {
    ++end;  // the exponent
  }
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + end, d);
  return ec == std::errc() && ptr == token.data() + end;
}

// The conversion map_flat does inline for column kind `f.fast`, or false where the general
// conversion must decide (it would give the same value or the error).
inline bool convert(const InputSchema::FlatName& f, simdjson::ondemand::value v, json_type type, bool strict,
                    Value& out) {
  if (type == json_type::null) {
    bool is = false;
    if (v.is_null().get(is) || !is) return false;
    out = Value::null();
    return true;
  }
  switch (f.fast) {
    case Fast::kVarchar:
    case Fast::kTimestamp: {
      if (type != json_type::string) return false;
      std::string_view text;
      if (v.get_string().get(text)) return false;
      if (strict && f.fast == Fast::kTimestamp && !text.empty() && (text.front() == ' ' || text.back() == ' ')) {
        return false;
      }
      return convert_fast_text(f, text, out);
    }
    case Fast::kReal:
    case Fast::kDouble: {
      if (type != json_type::number) return false;
      number_type kind;
      if (v.get_number_type().get(kind)) return false;
      double d;
      if (kind == number_type::signed_integer) {
        int64_t i;
        if (v.get_int64().get(i)) return false;
        d = static_cast<double>(i);
      } else if (kind == number_type::floating_point_number) {
        // An integer too large for 64 bits is typed floating here: the general path decides.
        const std::string_view token = v.raw_json_token();
        if (token.find_first_of(".eE") == std::string_view::npos) return false;
        if (v.get_double().get(d)) return false;  // also checks the JSON number's form
        if (!exact_double(token, d)) return false;
      } else {
        return false;
      }
      convert_fast_number(f, d, out);
      return true;
    }
    case Fast::kInteger: {
      if (type != json_type::number) return false;
      number_type kind;
      int64_t i;
      if (v.get_number_type().get(kind) || kind != number_type::signed_integer || v.get_int64().get(i)) return false;
      return convert_fast_integer(f, i, out);
    }
    case Fast::kNone:
      return false;
  }
  return false;
}

}  // namespace

bool ondemand_mappable(const InputSchema& schema) {
  if (!schema.flat || !schema.unique_paths || schema.columns.empty() || schema.columns.size() > 64) return false;
  for (size_t c = 0; c < schema.flat_index.size(); ++c) {
    if (schema.flat_index[c].fast == Fast::kNone) return false;
    const std::string& name = schema.row_paths[c][0];
    // A key is compared to a name by reading the name's length from the key's first byte: within
    // the record or its padding only for short names.
    static_assert(simdjson::SIMDJSON_PADDING >= 33);
    if (name.empty() || name.size() > 32) return false;
    // Names a key can only spell with escapes (or not at all) go the general way.
    for (unsigned char ch : name) {
      if (ch == '"' || ch == '\\' || ch < 0x20) return false;
    }
  }
  return true;
}

int ondemand_timestamp_column(const InputSchema& schema, const std::string& field) {
  if (!schema.ondemand) return -1;
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    if (schema.row_paths[c][0] == field) {
      return schema.flat_index[c].fast == Fast::kTimestamp ? static_cast<int>(c) : -1;
    }
  }
  return -1;
}

bool map_flat_ondemand(const InputSchema& schema, simdjson::ondemand::object record, std::vector<Value>& values,
                       std::vector<int>& hints, int strict_column) {
  const size_t n = schema.columns.size();
  if (values.size() < n) values.resize(n);
  const auto* index = schema.flat_index.data();
  const char* names = schema.flat_names.data();
  uint64_t seen = 0;
  size_t position = 0;
  for (auto field_result : record) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field)) return false;
    const char* raw = field.key().raw();
    simdjson::ondemand::value v = field.value();
    json_type type;
    if (v.type().get(type)) return false;
    if (position >= hints.size()) hints.push_back(-1);
    int& hint = hints[position++];
    size_t c;
    if (hint >= 0 && raw_key_is(raw, index[hint], names)) {
      c = static_cast<size_t>(hint);
    } else {
      hint = -1;
      for (c = 0; c < n && !raw_key_is(raw, index[c], names); ++c) {
      }
      if (c == n) {
        if (!plain_key(raw) || !valid_unmapped(v, type)) return false;
        continue;
      }
      hint = static_cast<int>(c);
    }
    const uint64_t bit = uint64_t{1} << c;
    if (seen & bit) {  // a repeated key: the first wins, as in the general path
      if (!valid_unmapped(v, type)) return false;
      continue;
    }
    seen |= bit;
    if (!convert(index[c], v, type, static_cast<int>(c) == strict_column, values[c])) return false;
  }
  if (seen != (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1)) {
    for (size_t c = 0; c < n; ++c) {
      if (!(seen >> c & 1)) values[c] = Value::null();  // a path that matches nothing is NULL
    }
  }
  return true;
}

}  // namespace eddy::runtime
