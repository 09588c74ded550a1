#include "api/value.h"

namespace eddy::api {

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::kNull: return "null";
    case Value::Type::kBool: return "boolean";
    case Value::Type::kInt:
    case Value::Type::kDouble: return "number";
    case Value::Type::kString: return "string";
    case Value::Type::kBytes: return "byte string";
    case Value::Type::kArray: return "array";
    case Value::Type::kObject: return "object";
  }
  return "value";
}

}  // namespace eddy::api
