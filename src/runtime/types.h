// SQL types of the KDA dialect. TIMESTAMP has millisecond precision (decisions.md 6); REAL is a
// 32-bit float (decisions.md g).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eddy::runtime {

enum class TypeId {
  kNull,  // the type of a bare NULL literal, before coercion
  kBoolean,
  kTinyint,
  kSmallint,
  kInteger,
  kBigint,
  kReal,
  kDouble,
  kDecimal,
  kChar,
  kVarchar,
  kDate,               // days since 1970-01-01
  kTime,               // milliseconds since midnight
  kTimestamp,          // milliseconds since the epoch, UTC
  kIntervalDayTime,    // milliseconds
  kIntervalYearMonth,  // months
};

struct SqlType {
  TypeId id = TypeId::kNull;
  int length = 0;     // CHAR/VARCHAR: maximum characters (0: unbounded)
  int precision = 0;  // DECIMAL
  int scale = 0;      // DECIMAL

  bool operator==(const SqlType&) const = default;
  bool is_integer() const {
    return id == TypeId::kTinyint || id == TypeId::kSmallint || id == TypeId::kInteger || id == TypeId::kBigint;
  }
  bool is_approx() const { return id == TypeId::kReal || id == TypeId::kDouble; }
  bool is_numeric() const { return is_integer() || is_approx() || id == TypeId::kDecimal; }
  bool is_string() const { return id == TypeId::kChar || id == TypeId::kVarchar; }
  bool is_datetime() const { return id == TypeId::kDate || id == TypeId::kTime || id == TypeId::kTimestamp; }
  bool is_interval() const { return id == TypeId::kIntervalDayTime || id == TypeId::kIntervalYearMonth; }
  std::string to_string() const;

  static SqlType of(TypeId id) { return SqlType{id}; }
  static SqlType varchar(int n = 0) { return SqlType{TypeId::kVarchar, n}; }
  static SqlType decimal(int p, int s) { return SqlType{TypeId::kDecimal, 0, p, s}; }
};

// Parses a type as written in RecordColumns.SqlType ("VARCHAR(16)", "DECIMAL(10,2)", "REAL").
std::optional<SqlType> parse_type_name(std::string_view text);

// The common type two operands are computed in (numeric promotion, string, etc.).
std::optional<SqlType> common_type(const SqlType& a, const SqlType& b);

}  // namespace eddy::runtime
