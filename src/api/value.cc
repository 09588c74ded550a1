#include "api/value.h"

#include <nlohmann/json.hpp>

namespace eddy::api {

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::kNull:
      return "null";
    case Value::Type::kBool:
      return "boolean";
    case Value::Type::kInt:
    case Value::Type::kDouble:
      return "number";
    case Value::Type::kString:
      return "string";
    case Value::Type::kBytes:
      return "byte string";
    case Value::Type::kArray:
      return "array";
    case Value::Type::kObject:
      return "object";
  }
  return "value";
}

nlohmann::json to_json(const Value& v) {
  switch (v.type) {
    case Value::Type::kNull:
      return nullptr;
    case Value::Type::kBool:
      return v.boolean;
    case Value::Type::kInt:
      return v.integer;
    case Value::Type::kDouble:
      return v.number;
    case Value::Type::kString:
    case Value::Type::kBytes:
      return v.text;
    case Value::Type::kArray: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& i : v.items) a.push_back(to_json(i));
      return a;
    }
    case Value::Type::kObject: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& [k, m] : v.members) {
        if (m.type != Value::Type::kNull) o[k] = to_json(m);
      }
      return o;
    }
  }
  return nullptr;
}

}  // namespace eddy::api
