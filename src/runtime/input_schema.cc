#include "runtime/input_schema.h"

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "runtime/cast.h"
#include "runtime/flat_ondemand.h"

namespace eddy::runtime {

namespace {

// "$.a.b" -> {"a", "b"}; "$.orders[0:].id" -> {"orders", "[]", "id"} ("[]": each element).
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  if (path == "$") return out;
  std::string cur;
  for (size_t i = 2; i <= path.size(); ++i) {  // after "$."
    if (i == path.size() || path[i] == '.') {
      if (cur.size() > 4 && cur.ends_with("[0:]")) {
        out.push_back(cur.substr(0, cur.size() - 4));
        out.push_back("[]");
      } else {
        out.push_back(cur);
      }
      cur.clear();
    } else {
      cur.push_back(path[i]);
    }
  }
  return out;
}

bool valid_path(const std::string& p) {
  if (p == "$") return true;
  if (p.size() <= 2 || !p.starts_with("$.")) return false;
  const auto segs = split_path(p);
  int arrays = 0;
  for (const auto& s : segs) {
    if (s.empty() || (s != "[]" && s.find_first_of("[]") != std::string::npos)) return false;
    arrays += s == "[]";
  }
  return arrays <= 1;
}

bool starts_with(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

// Follows `segs[from..]` from `e`; a trailing "[]" yields the array itself (its JSON text).
bool walk(simdjson::dom::element e, const std::vector<std::string>& segs, size_t from, simdjson::dom::element& out) {
  for (size_t i = from; i < segs.size(); ++i) {
    if (segs[i] == "[]") {
      if (i + 1 != segs.size() || !e.is_array()) return false;
      break;
    }
    simdjson::dom::object obj;
    if (e.get(obj) || obj.at_key(segs[i]).get(e)) return false;
  }
  out = e;
  return true;
}

tl::unexpected<Error> coercion(const InputColumn& col, const std::string& what) {
  return make_error(Errc::kInvalidArgument, "column \"" + col.name + "\" (" + col.type.to_string() + "): " + what);
}

// JSON value -> SQL value by the table in dev/sch-mapping.
Status convert(const InputColumn& col, simdjson::dom::element e, Value& out) {
  using simdjson::dom::element_type;
  const SqlType& t = col.type;
  const auto kind = e.type();
  if (kind == element_type::NULL_VALUE) {
    out = Value::null();
    return {};
  }
  // Fast paths for what records mostly hold; the general conversions below give the same values.
  if (kind == element_type::STRING) {
    const std::string_view text(e);
    if (t.id == TypeId::kVarchar && (t.length <= 0 || text.size() <= static_cast<size_t>(t.length))) {
      out.set_text(text);  // fits (bytes >= characters): no truncation
      return {};
    }
    if (t.id == TypeId::kTimestamp) {
      TimestampMs ms;
      if (parse_timestamp_text(text, ms)) {
        out.set_int(ms);
        return {};
      }
    }
  } else if ((kind == element_type::DOUBLE || kind == element_type::INT64) &&
             (t.id == TypeId::kReal || t.id == TypeId::kDouble)) {
    const double d = kind == element_type::DOUBLE ? double(e) : static_cast<double>(int64_t(e));
    out.set_real(t.id == TypeId::kReal ? static_cast<double>(static_cast<float>(d)) : d);
    return {};
  }
  if (t.is_string()) {
    std::string text;
    if (kind == element_type::STRING)
      text = std::string(std::string_view(e));
    else if (kind == element_type::BOOL)
      text = bool(e) ? "true" : "false";
    else
      text = simdjson::minify(e);  // numbers keep their JSON text; arrays/objects their JSON
    return cast_value(Value::text(std::move(text)), SqlType::varchar(), t, out);
  }
  if (t.id == TypeId::kBoolean) {
    if (kind == element_type::BOOL)
      out = Value::boolean(bool(e));
    else if (kind == element_type::STRING) {
      std::string s{std::string_view(e)};
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out = Value::boolean(s == "true");
    } else if (kind == element_type::INT64 || kind == element_type::UINT64 || kind == element_type::DOUBLE) {
      out = Value::boolean(double(e) != 0);
    } else {
      return coercion(col, "cannot convert " + simdjson::minify(e) + " to BOOLEAN");
    }
    return {};
  }
  if (t.is_numeric()) {
    Value v;
    SqlType from;
    switch (kind) {
      case element_type::BOOL:
        v = Value::integer(bool(e) ? 1 : 0);
        from = SqlType::of(TypeId::kBigint);
        break;
      case element_type::INT64:
        v = Value::integer(int64_t(e));
        from = SqlType::of(TypeId::kBigint);
        break;
      case element_type::UINT64:
        v = Value::real(static_cast<double>(uint64_t(e)));
        from = SqlType::of(TypeId::kDouble);
        break;
      case element_type::DOUBLE: {
        const double d = double(e);
        if (t.is_integer() && std::floor(d) != d) {
          return coercion(col, "value " + simdjson::minify(e) + " does not fit " + t.to_string());
        }
        if (t.id == TypeId::kDecimal) {
          // Use the JSON text, not the double, so 12.34 stays exactly 12.34.
          v = Value::text(simdjson::minify(e));
          from = SqlType::varchar();
        } else {
          v = Value::real(d);
          from = SqlType::of(TypeId::kDouble);
        }
        break;
      }
      case element_type::STRING:
        v = Value::text(std::string(std::string_view(e)));
        from = SqlType::varchar();
        break;
      default:
        return coercion(col, "cannot convert " + simdjson::minify(e) + " to " + t.to_string());
    }
    if (auto st = cast_value(v, from, t, out); !st) return coercion(col, st.error().message);
    return {};
  }
  if (t.is_datetime()) {
    if (kind != element_type::STRING)
      return coercion(col, "cannot convert " + simdjson::minify(e) + " to " + t.to_string());
    if (auto st = cast_value(Value::text(std::string(std::string_view(e))), SqlType::varchar(), t, out); !st) {
      return coercion(col, st.error().message);
    }
    return {};
  }
  return coercion(col, "unsupported column type");
}

// One row object -> its rows: one, or one per element of the array a column path flattens
// ("$.orders[0:].id"; one array per schema; an empty array gives a row of NULLs).
Status map_object(const InputSchema& schema, simdjson::dom::element row, std::vector<std::vector<Value>>& rows) {
  const auto& paths = schema.row_paths;
  std::vector<std::string> array_prefix;
  bool flatten = false;
  for (const auto& p : paths) {
    auto it = std::find(p.begin(), p.end(), "[]");
    if (it != p.end() && it + 1 != p.end()) {
      array_prefix.assign(p.begin(), it);
      flatten = true;
      break;
    }
  }
  auto fill = [&](const simdjson::dom::element* element) -> Status {
    std::vector<Value> values;
    values.reserve(schema.columns.size() + 1);  // + APPROXIMATE_ARRIVAL_TIME, added by the caller
    values.resize(schema.columns.size());
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      const auto& p = paths[c];
      simdjson::dom::element e;
      bool found;
      if (flatten && element && p.size() > array_prefix.size() && starts_with(p, array_prefix) &&
          p[array_prefix.size()] == "[]") {
        found = walk(*element, p, array_prefix.size() + 1, e);
      } else {
        found = walk(row, p, 0, e);  // a path that matches nothing is NULL (dev/about-json-path)
      }
      if (!found) continue;
      if (auto st = convert(schema.columns[c], e, values[c]); !st) return st;
    }
    rows.push_back(std::move(values));
    return {};
  };
  if (!flatten) return fill(nullptr);
  simdjson::dom::element arr;
  simdjson::dom::array elements;
  if (!walk(row, array_prefix, 0, arr) || arr.get(elements) || elements.size() == 0) {
    rows.emplace_back(schema.columns.size());
    return {};
  }
  for (auto element : elements) {
    if (auto st = fill(&element); !st) return st;
  }
  return {};
}

Result<std::vector<std::vector<Value>>> map_csv(const InputSchema& schema, std::string_view record) {
  std::vector<std::vector<Value>> rows;
  size_t start = 0;
  const std::string& rd = schema.row_delimiter;
  while (start <= record.size()) {
    size_t end = rd.empty() ? std::string_view::npos : record.find(rd, start);
    if (end == std::string_view::npos) end = record.size();
    std::string_view line = record.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) {
      std::vector<std::string_view> fields;
      size_t p = 0;
      while (true) {
        const size_t q = line.find(schema.column_delimiter, p);
        fields.push_back(line.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
        if (q == std::string_view::npos) break;
        p = q + schema.column_delimiter.size();
      }
      std::vector<Value> values(schema.columns.size());
      for (size_t c = 0; c < schema.columns.size(); ++c) {
        if (c >= fields.size()) break;  // missing trailing columns are NULL
        const auto& col = schema.columns[c];
        if (auto st = cast_value(Value::text(std::string(fields[c])), SqlType::varchar(), col.type, values[c]); !st) {
          return coercion(col, st.error().message);
        }
      }
      rows.push_back(std::move(values));
    }
    if (end >= record.size()) break;
    start = end + rd.size();
  }
  return rows;
}

}  // namespace

namespace {

// The conversions of `fast` (see FlatName), false where the general one must decide.
inline bool convert_inline(const InputSchema::FlatName& f, simdjson::dom::element e, Value& out) {
  using simdjson::dom::element_type;
  using Fast = InputSchema::Fast;
  switch (f.fast) {
    case Fast::kNone:
      return false;
    case Fast::kVarchar:
    case Fast::kTimestamp: {
      std::string_view text;
      if (e.get_string().get(text)) return false;
      return convert_fast_text(f, text, out);
    }
    case Fast::kReal:
    case Fast::kDouble: {
      const auto kind = e.type();
      double d;
      if (kind == element_type::DOUBLE)
        d = e.get_double().value_unsafe();
      else if (kind == element_type::INT64)
        d = static_cast<double>(e.get_int64().value_unsafe());
      else
        return false;
      convert_fast_number(f, d, out);
      return true;
    }
    case Fast::kInteger:
      return e.type() == element_type::INT64 && convert_fast_integer(f, e.get_int64().value_unsafe(), out);
  }
  return false;
}

// map_flat for schemas of at most 64 columns, all mapping different fields: the common case,
// with a bit mask for "seen" and the field order hints trusted first.
Status map_flat_small(const InputSchema& schema, simdjson::dom::object record, std::vector<Value>& values,
                      std::vector<int>& hints) {
  const size_t n = schema.columns.size();
  uint64_t seen = 0;
  const auto* index = schema.flat_index.data();
  const char* names = schema.flat_names.data();
  auto matches = [&](size_t c, std::string_view key) {
    const auto& f = index[c];
    if (f.length != key.size() || (!key.empty() && f.first != key[0])) return false;
    return short_bytes_equal(names + f.offset, key.data(), key.size());
  };
  size_t position = 0;
  for (auto field : record) {
    const std::string_view key = field.key;
    if (position >= hints.size()) hints.push_back(-1);
    int& hint = hints[position++];
    size_t c;
    if (hint >= 0 && matches(static_cast<size_t>(hint), key)) {
      c = static_cast<size_t>(hint);
    } else {
      hint = -1;
      for (c = 0; c < n && !matches(c, key); ++c) {
      }
      if (c == n) continue;  // a field no column maps
      hint = static_cast<int>(c);
    }
    const uint64_t bit = uint64_t{1} << c;
    if (seen & bit) continue;  // a repeated key: the first wins, as at_key finds it
    seen |= bit;
    if (convert_inline(index[c], field.value, values[c])) continue;
    if (auto st = convert(schema.columns[c], field.value, values[c]); !st) return st;
  }
  if (seen != (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1)) {
    for (size_t c = 0; c < n; ++c) {
      if (!(seen >> c & 1)) values[c] = Value::null();  // a path that matches nothing is NULL
    }
  }
  return {};
}

}  // namespace

Status map_flat(const InputSchema& schema, simdjson::dom::object record, std::vector<Value>& values,
                std::vector<int>& hints) {
  const size_t n = schema.columns.size();
  if (values.size() < n) values.resize(n);
  if (n <= 64 && schema.unique_paths) return map_flat_small(schema, record, values, hints);
  // The general case: several columns may map the same field (each gets it), and more than 64.
  std::vector<bool> seen(n, false);  // the first of duplicate keys wins, as at_key finds it
  const auto* index = schema.flat_index.data();
  const char* names = schema.flat_names.data();
  for (auto field : record) {
    const std::string_view key = field.key;
    for (size_t c = 0; c < n; ++c) {
      const auto& f = index[c];
      if (f.length != key.size() || seen[c] || !short_bytes_equal(names + f.offset, key.data(), key.size())) continue;
      seen[c] = true;
      if (auto st = convert(schema.columns[c], field.value, values[c]); !st) return st;
    }
  }
  for (size_t c = 0; c < n; ++c) {
    if (!seen[c]) values[c] = Value::null();  // a path that matches nothing is NULL
  }
  return {};
}

void index_schema(InputSchema& schema) {
  // Column paths that repeat the row path are read relative to each row; computed once here.
  schema.row_segments = split_path(schema.row_path.empty() ? "$" : schema.row_path);
  schema.row_paths.clear();
  for (const auto& col : schema.columns) {
    const bool rel = !schema.row_segments.empty() && starts_with(col.path, schema.row_segments);
    schema.row_paths.push_back(
        rel ? std::vector<std::string>(col.path.begin() + static_cast<long>(schema.row_segments.size()), col.path.end())
            : col.path);
  }
  schema.flat = !schema.csv && schema.row_segments.empty();
  for (const auto& p : schema.row_paths) schema.flat = schema.flat && p.size() == 1 && p[0] != "[]";
  schema.unique_paths = std::set<std::vector<std::string>>(schema.row_paths.begin(), schema.row_paths.end()).size() ==
                        schema.row_paths.size();
  schema.flat_index.clear();
  schema.flat_names.clear();
  if (schema.flat) {
    for (size_t c = 0; c < schema.row_paths.size(); ++c) {
      const auto& p = schema.row_paths[c];
      const SqlType& t = schema.columns[c].type;
      using Fast = InputSchema::Fast;
      Fast fast = Fast::kNone;
      if (t.id == TypeId::kVarchar)
        fast = Fast::kVarchar;
      else if (t.id == TypeId::kTimestamp)
        fast = Fast::kTimestamp;
      else if (t.id == TypeId::kReal)
        fast = Fast::kReal;
      else if (t.id == TypeId::kDouble)
        fast = Fast::kDouble;
      else if (t.is_integer())
        fast = Fast::kInteger;
      const uint8_t int_bits = t.id == TypeId::kTinyint    ? 8
                               : t.id == TypeId::kSmallint ? 16
                               : t.id == TypeId::kInteger  ? 32
                                                           : 64;
      const uint32_t max_length = t.length <= 0 ? UINT32_MAX : static_cast<uint32_t>(t.length);
      schema.flat_index.push_back({static_cast<uint32_t>(p[0].size()), p[0].empty() ? '\0' : p[0][0], fast, int_bits,
                                   static_cast<uint32_t>(schema.flat_names.size()), max_length});
      schema.flat_names += p[0];
    }
  }
  schema.ondemand = ondemand_mappable(schema);
}

Result<InputSchema> parse_input_schema(std::string_view text) {
  InputSchema schema;
  try {
    const auto j = nlohmann::json::parse(text);
    const auto& format = j.at("RecordFormat");
    const std::string type = format.at("RecordFormatType").get<std::string>();
    if (type != "JSON" && type != "CSV") {
      return make_error(Errc::kInvalidArgument, "RecordFormatType must be JSON or CSV, got " + type);
    }
    schema.csv = type == "CSV";
    const auto mapping = format.value("MappingParameters", nlohmann::json::object());
    if (schema.csv) {
      const auto csv = mapping.value("CSVMappingParameters", nlohmann::json::object());
      schema.row_delimiter = csv.value("RecordRowDelimiter", "\n");
      schema.column_delimiter = csv.value("RecordColumnDelimiter", ",");
      if (schema.column_delimiter.empty())
        return make_error(Errc::kInvalidArgument, "RecordColumnDelimiter must not be empty");
    } else {
      schema.row_path = mapping.value("JSONMappingParameters", nlohmann::json::object()).value("RecordRowPath", "$");
      if (!valid_path(schema.row_path)) {
        return make_error(Errc::kInvalidArgument,
                          "RecordRowPath must be $ or $.field[.field...], got " + schema.row_path);
      }
    }
    if (j.contains("RecordEncoding") && j["RecordEncoding"] != "UTF-8") {
      return make_error(Errc::kInvalidArgument, "RecordEncoding must be UTF-8");
    }
    const auto& cols = j.at("RecordColumns");
    if (!cols.is_array() || cols.empty())
      return make_error(Errc::kInvalidArgument, "RecordColumns must list at least one column");
    for (const auto& c : cols) {
      InputColumn col;
      col.name = c.at("Name").get<std::string>();
      const std::string type_text = c.at("SqlType").get<std::string>();
      auto t = runtime::parse_type_name(type_text);
      if (!t) return make_error(Errc::kInvalidArgument, "column " + col.name + ": unknown SqlType " + type_text);
      col.type = *t;
      if (!schema.csv) {
        const std::string mapping_path = c.value("Mapping", "$." + col.name);
        if (!valid_path(mapping_path) || mapping_path == "$") {
          return make_error(Errc::kInvalidArgument,
                            "column " + col.name + ": Mapping must look like $.field, got " + mapping_path);
        }
        col.path = split_path(mapping_path);
      }
      schema.columns.push_back(std::move(col));
    }
    index_schema(schema);
  } catch (const std::exception& e) {
    return make_error(Errc::kInvalidArgument, std::string("invalid InputSchema: ") + e.what());
  }
  return schema;
}

Result<std::vector<std::vector<Value>>> map_record(const InputSchema& schema, std::string_view record) {
  if (schema.csv) return map_csv(schema, record);
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(record.data(), record.size()).get(doc)) {
    return make_error(Errc::kInvalidArgument, std::string("record is not valid JSON: ") + simdjson::error_message(err));
  }
  return map_document(schema, doc);
}

Result<std::vector<std::vector<Value>>> map_document(const InputSchema& schema, simdjson::dom::element doc) {
  const auto& row_path = schema.row_segments;
  std::vector<std::vector<Value>> rows;
  simdjson::dom::element row;
  if (!walk(doc, row_path, 0, row)) {
    return make_error(Errc::kInvalidArgument, "RecordRowPath " + schema.row_path + " matches nothing in the record");
  }
  if (row.is_array()) {
    // "$.Records[0:]" (or a path to an array): one row per element; column paths that repeat the
    // row path are read relative to the element.
    for (auto element : simdjson::dom::array(row)) {
      if (!element.is_object()) return make_error(Errc::kInvalidArgument, "record row is not a JSON object");
      if (auto st = map_object(schema, element, rows); !st) return tl::unexpected(st.error());
    }
    return rows;
  }
  if (!row.is_object()) return make_error(Errc::kInvalidArgument, "record row is not a JSON object");
  if (auto st = map_object(schema, row, rows); !st) return tl::unexpected(st.error());
  return rows;
}

}  // namespace eddy::runtime
