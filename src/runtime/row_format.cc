#include "runtime/row_format.h"

#include <cmath>

#include "common/json_text.h"

namespace eddy::runtime {

void append_row_json(const StreamDef& def, const Row& row, std::string& out) {
  out.push_back('{');
  for (size_t i = 0; i < def.columns.size(); ++i) {
    if (i) out.push_back(',');
    const auto& col = def.columns[i];
    append_json_string(out, col.name);
    out.push_back(':');
    const Value& v = i < row.values.size() ? row.values[i] : Value{};
    if (v.is_null()) {
      out += "null";
      continue;
    }
    switch (col.type.id) {
      case TypeId::kBoolean:
        out += v.i ? "true" : "false";
        break;
      case TypeId::kTinyint:
      case TypeId::kSmallint:
      case TypeId::kInteger:
      case TypeId::kBigint:
        out += std::to_string(v.i);
        break;
      case TypeId::kReal:
      case TypeId::kDouble:
        if (!std::isfinite(v.d))
          out += "null";  // JSON has no NaN or infinity
        else
          out += col.type.id == TypeId::kReal ? format_real(v.d) : format_double(v.d);
        break;
      case TypeId::kDecimal:
        out += format_decimal(v.i, col.type.scale);
        break;
      case TypeId::kIntervalDayTime:
      case TypeId::kIntervalYearMonth:
        out += std::to_string(v.i);
        break;
      case TypeId::kChar:
      case TypeId::kVarchar:
        if (v.kind == Value::Kind::kString) {
          append_json_string(out, v.s);  // the text itself: no copy per row
          break;
        }
        [[fallthrough]];
      default:
        append_json_string(out, to_text(v, col.type));
        break;
    }
  }
  out.push_back('}');
}

std::string row_json(const StreamDef& def, const Row& row) {
  std::string out;
  append_row_json(def, row, out);
  return out;
}

std::string csv_line(const StreamDef& def, const Row& row) {
  std::string out;
  for (size_t i = 0; i < def.columns.size(); ++i) {
    if (i) out.push_back(',');
    if (i < row.values.size()) out += to_text(row.values[i], def.columns[i].type);
  }
  return out;
}

}  // namespace eddy::runtime
