#include "runtime/types.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace eddy::runtime {

std::string SqlType::to_string() const {
  switch (id) {
    case TypeId::kNull:
      return "NULL";
    case TypeId::kBoolean:
      return "BOOLEAN";
    case TypeId::kTinyint:
      return "TINYINT";
    case TypeId::kSmallint:
      return "SMALLINT";
    case TypeId::kInteger:
      return "INTEGER";
    case TypeId::kBigint:
      return "BIGINT";
    case TypeId::kReal:
      return "REAL";
    case TypeId::kDouble:
      return "DOUBLE";
    case TypeId::kDecimal:
      return "DECIMAL(" + std::to_string(precision) + "," + std::to_string(scale) + ")";
    case TypeId::kChar:
      return "CHAR(" + std::to_string(length) + ")";
    case TypeId::kVarchar:
      return length ? "VARCHAR(" + std::to_string(length) + ")" : "VARCHAR";
    case TypeId::kDate:
      return "DATE";
    case TypeId::kTime:
      return "TIME";
    case TypeId::kTimestamp:
      return "TIMESTAMP";
    case TypeId::kIntervalDayTime:
      return "INTERVAL DAY TO SECOND";
    case TypeId::kIntervalYearMonth:
      return "INTERVAL YEAR TO MONTH";
  }
  return "?";
}

std::optional<SqlType> parse_type_name(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c)))
      s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  std::string base = s;
  std::vector<int> args;
  if (const size_t paren = s.find('('); paren != std::string::npos) {
    if (s.back() != ')') return std::nullopt;
    base = s.substr(0, paren);
    std::string inner = s.substr(paren + 1, s.size() - paren - 2);
    size_t p = 0;
    while (p <= inner.size()) {
      const size_t comma = std::min(inner.find(',', p), inner.size());
      int v = 0;
      auto [ptr, ec] = std::from_chars(inner.data() + p, inner.data() + comma, v);
      if (ec != std::errc() || ptr != inner.data() + comma) return std::nullopt;
      args.push_back(v);
      p = comma + 1;
    }
  }
  auto no_args = [&](TypeId id) -> std::optional<SqlType> {
    if (!args.empty()) return std::nullopt;
    return SqlType::of(id);
  };
  if (base == "BOOLEAN") return no_args(TypeId::kBoolean);
  if (base == "TINYINT") return no_args(TypeId::kTinyint);
  if (base == "SMALLINT") return no_args(TypeId::kSmallint);
  if (base == "INTEGER" || base == "INT") return no_args(TypeId::kInteger);
  if (base == "BIGINT") return no_args(TypeId::kBigint);
  if (base == "REAL" || base == "FLOAT") return no_args(TypeId::kReal);
  if (base == "DOUBLE" || base == "DOUBLEPRECISION") return no_args(TypeId::kDouble);
  if (base == "DATE") return no_args(TypeId::kDate);
  if (base == "TIME") return no_args(TypeId::kTime);
  if (base == "TIMESTAMP") return no_args(TypeId::kTimestamp);
  if (base == "DECIMAL" || base == "NUMERIC" || base == "DEC") {
    if (args.size() > 2) return std::nullopt;
    const int p = args.empty() ? 18 : args[0];
    const int sc = args.size() < 2 ? 0 : args[1];
    if (p < 1 || p > 18 || sc < 0 || sc > p) return std::nullopt;
    return SqlType::decimal(p, sc);
  }
  if (base == "VARCHAR" || base == "CHARVARYING" || base == "CHARACTERVARYING") {
    if (args.size() > 1 || (!args.empty() && args[0] < 1)) return std::nullopt;
    return SqlType::varchar(args.empty() ? 0 : args[0]);
  }
  if (base == "CHAR" || base == "CHARACTER") {
    if (args.size() > 1 || (!args.empty() && args[0] < 1)) return std::nullopt;
    return SqlType{TypeId::kChar, args.empty() ? 1 : args[0]};
  }
  return std::nullopt;
}

namespace {
int numeric_rank(TypeId id) {
  switch (id) {
    case TypeId::kTinyint:
      return 1;
    case TypeId::kSmallint:
      return 2;
    case TypeId::kInteger:
      return 3;
    case TypeId::kBigint:
      return 4;
    case TypeId::kDecimal:
      return 5;
    case TypeId::kReal:
      return 6;
    case TypeId::kDouble:
      return 7;
    default:
      return 0;
  }
}
}  // namespace

std::optional<SqlType> common_type(const SqlType& a, const SqlType& b) {
  if (a.id == TypeId::kNull) return b;
  if (b.id == TypeId::kNull) return a;
  if (a.is_numeric() && b.is_numeric()) {
    if (a.id == TypeId::kDecimal && b.id == TypeId::kDecimal) {
      const int scale = std::max(a.scale, b.scale);
      const int digits = std::max(a.precision - a.scale, b.precision - b.scale);
      return SqlType::decimal(std::min(18, digits + scale), scale);
    }
    if (a.id == TypeId::kDecimal && b.is_integer()) return a;
    if (b.id == TypeId::kDecimal && a.is_integer()) return b;
    return numeric_rank(a.id) >= numeric_rank(b.id) ? SqlType::of(a.id) : SqlType::of(b.id);
  }
  if (a.is_string() && b.is_string()) return SqlType::varchar(std::max(a.length, b.length));
  if (a.id == b.id) return a;
  if (a.is_datetime() && b.is_datetime()) return SqlType::of(TypeId::kTimestamp);
  return std::nullopt;
}

}  // namespace eddy::runtime
