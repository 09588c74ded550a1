// A decoded request body, the same for JSON and CBOR: handlers and the model validator read
// this tree and never see the wire format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace eddy::api {

enum class Protocol { kJson, kCbor };

struct Value {
  enum class Type { kNull, kBool, kInt, kDouble, kString, kBytes, kArray, kObject };

  Type type = Type::kNull;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string text;                                    // kString and kBytes
  std::vector<Value> items;                            // kArray
  std::vector<std::pair<std::string, Value>> members;  // kObject, in wire order

  const Value* get(std::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return v.type == Type::kNull ? nullptr : &v;
    }
    return nullptr;
  }
  bool is_number() const { return type == Type::kInt || type == Type::kDouble; }
  double as_double() const { return type == Type::kInt ? static_cast<double>(integer) : number; }
};

const char* type_name(Value::Type t);

// The tree as nlohmann JSON, for handlers that keep a request as configuration; null members of
// objects are dropped, as an absent member.
nlohmann::json to_json(const Value& v);

}  // namespace eddy::api
