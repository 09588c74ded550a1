// KDA's InputSchema: how source records (JSON or CSV) become typed rows of the in-application
// input stream, with KDA's documented conversions (dev/sch-mapping, decisions.md e and 8).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/error.h"
#include "runtime/types.h"
#include "runtime/value.h"

namespace eddy::runtime {

struct InputColumn {
  std::string name;               // exactly as in RecordColumns (a quoted identifier)
  std::vector<std::string> path;  // "$.a.b" -> {"a", "b"}; empty for CSV (positional)
  SqlType type;
};

struct InputSchema {
  bool csv = false;
  std::string row_path;                             // JSON: "$" or "$.x.y" (RecordRowPath)
  std::vector<std::string> row_segments;            // row_path split
  std::vector<std::vector<std::string>> row_paths;  // each column's path relative to a row
  std::string row_delimiter = "\n";
  std::string column_delimiter = ",";
  std::vector<InputColumn> columns;
  // JSON with RecordRowPath "$" and every Mapping "$.name": a record maps in one pass over its
  // fields (map_flat), the common case and the hot path.
  bool flat = false;
  bool unique_paths = false;  // no two columns map the same field
  // Flat schemas: each column's field name as (length, first byte, offset into flat_names), in
  // one array so that matching a record's key costs no pointer chasing.
  // `fast`: the conversion map_flat does inline when the JSON value has the usual kind for the
  // column (a string for VARCHAR that fits, for TIMESTAMP; a number for REAL/DOUBLE; an integer in
  // range for the integer types); anything
  // else goes through the general conversion, which gives the same values.
  enum class Fast : uint8_t { kNone, kVarchar, kTimestamp, kReal, kDouble, kInteger };
  struct FlatName {
    uint32_t length;
    char first;
    Fast fast;
    uint8_t int_bits;  // kInteger: 8, 16, 32 or 64 (TINYINT, SMALLINT, INTEGER, BIGINT)
    uint32_t offset;
    uint32_t max_length;  // kVarchar: the longest text stored as is (UINT32_MAX: unbounded)
  };
  std::vector<FlatName> flat_index;
  std::string flat_names;
  // Flat, at most 64 columns mapping different fields, each of a Fast kind, named without
  // quotes or backslashes: records can be read on-demand (flat_ondemand.h), without a DOM.
  bool ondemand = false;
};

// A JSON integer into a kInteger column: false when it is out of the column's range (the general
// conversion reports that).
inline bool convert_fast_integer(const InputSchema::FlatName& f, int64_t v, Value& out) {
  if (f.int_bits < 64) {
    const int64_t hi = (int64_t{1} << (f.int_bits - 1)) - 1;
    if (v > hi || v < -hi - 1) return false;
  }
  out.set_int(v);
  return true;
}

// The inline conversions of a flat column (FlatName::fast) that both mapping paths share: a
// string into a kVarchar or kTimestamp column, a number into a kReal or kDouble one. False where
// the general conversion must decide (too long, not a timestamp).
inline bool convert_fast_text(const InputSchema::FlatName& f, std::string_view text, Value& out) {
  if (f.fast == InputSchema::Fast::kVarchar) {
    if (text.size() > f.max_length) return false;  // bytes >= characters: fits if the bytes do
    out.set_text(text);
    return true;
  }
  TimestampMs ms;
  if (!parse_timestamp_text(text, ms)) return false;
  out.set_int(ms);
  return true;
}
inline void convert_fast_number(const InputSchema::FlatName& f, double d, Value& out) {
  out.set_real(f.fast == InputSchema::Fast::kReal ? static_cast<double>(static_cast<float>(d)) : d);
}

// a[0..n) == b[0..n) for the short field names of records: two overlapping word loads instead
// of a call or a byte loop (both showed in profiles of the mapping).
inline bool short_bytes_equal(const char* a, const char* b, size_t n) {
  auto load4 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  auto load8 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    return load8(a) == load8(b) && load8(a + n - 8) == load8(b + n - 8);
  }
  if (n >= 4) return load4(a) == load4(b) && load4(a + n - 4) == load4(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Fills the derived fields (row_segments, row_paths, flat, ...) from row_path and the columns.
void index_schema(InputSchema& schema);
// Parses the InputSchema JSON of CreateApplication; errors name the offending field.
Result<InputSchema> parse_input_schema(std::string_view json);

// One source record -> its rows (RecordRowPath may select an array: one row per element).
// Errors are coercion or parse errors for error_stream; the message says which column.
Result<std::vector<std::vector<Value>>> map_record(const InputSchema& schema, std::string_view record);
// A flat schema's one row from a record object, into the first values of `values` (grown to the
// columns if shorter; values past them are the caller's and left alone; reusing it across records
// reuses its strings' storage). Errors as map_record's. `hints` (kept by the
// caller between records) remembers which column each field position matched, since producers
// write their fields in the same order record after record.
Status map_flat(const InputSchema& schema, simdjson::dom::object record, std::vector<Value>& values,
                std::vector<int>& hints);
// The same for a record already parsed (JSON schemas only).
Result<std::vector<std::vector<Value>>> map_document(const InputSchema& schema, simdjson::dom::element doc);

}  // namespace eddy::runtime
