#include "api/service_model.h"

#include <re2/re2.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/digest.h"
#include "common/time_format.h"

namespace eddy::api {
namespace {

// An AWS pattern as RE2, or null when it uses syntax RE2 lacks. Java's regexes match UTF-16 code
// units and RE2 matches UTF-8 code points, which agree for every pattern in the models eddy serves.
std::shared_ptr<const re2::RE2> compile_pattern(const std::string& text) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(text, options);
  if (!re->ok()) return nullptr;
  return re;
}

Shape::Kind kind_of(const std::string& type) {
  if (type == "structure") return Shape::Kind::kStructure;
  if (type == "list") return Shape::Kind::kList;
  if (type == "map") return Shape::Kind::kMap;
  if (type == "integer") return Shape::Kind::kInteger;
  if (type == "long") return Shape::Kind::kLong;
  if (type == "double" || type == "float") return Shape::Kind::kDouble;
  if (type == "boolean") return Shape::Kind::kBoolean;
  if (type == "timestamp") return Shape::Kind::kTimestamp;
  if (type == "blob") return Shape::Kind::kBlob;
  return Shape::Kind::kString;
}

// AWS names members in validation paths with a lower-case first letter: 'streamName'.
std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

std::string number_text(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e18) return std::to_string(static_cast<long long>(d));
  return std::to_string(d);
}

// How AWS (a Java service) prints the offending value in the message.
std::string show(const Value& v) {
  switch (v.type) {
    case Value::Type::kString:
      return "'" + v.text + "'";
    case Value::Type::kBytes:
      return "'java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(v.text.size()) +
             " cap=" + std::to_string(v.text.size()) + "]'";
    case Value::Type::kInt:
      return "'" + std::to_string(v.integer) + "'";
    case Value::Type::kDouble:
      return "'" + number_text(v.number) + "'";
    case Value::Type::kBool:
      return v.boolean ? "'true'" : "'false'";
    case Value::Type::kArray:
      return "'[" + std::to_string(v.items.size()) + " items]'";
    case Value::Type::kObject:
      return "'{" + std::to_string(v.members.size()) + " entries}'";
    case Value::Type::kNull:
      return "null";
  }
  return "null";
}

}  // namespace

Result<std::unique_ptr<ServiceModel>> ServiceModel::load(std::string_view model_json) {
  auto model = std::make_unique<ServiceModel>();
  try {
    const auto j = nlohmann::json::parse(model_json);
    model->target_prefix_ = j.at("metadata").value("targetPrefix", "");
    model->signing_name_ = j.at("metadata").value("signingName", j.at("metadata").value("endpointPrefix", ""));
    const auto& shapes = j.at("shapes");
    for (const auto& [name, _] : shapes.items()) model->shapes_[name] = std::make_unique<Shape>();
    auto ref = [&](const nlohmann::json& r) -> const Shape* {
      return model->shapes_.at(r.at("shape").get<std::string>()).get();
    };
    for (const auto& [name, s] : shapes.items()) {
      Shape& shape = *model->shapes_[name];
      shape.name = name;
      shape.kind = kind_of(s.at("type").get<std::string>());
      if (s.contains("min")) shape.min = s["min"].get<double>();
      if (s.contains("max")) shape.max = s["max"].get<double>();
      if (s.contains("pattern")) {
        shape.pattern_text = s["pattern"].get<std::string>();
        // A few AWS patterns use Java-only syntax (lookbehind); those members are checked for
        // length and type only.
        shape.pattern = compile_pattern(shape.pattern_text);
      }
      if (s.contains("enum")) shape.enum_values = s["enum"].get<std::vector<std::string>>();
      if (s.contains("members")) {
        for (const auto& [m, r] : s["members"].items()) shape.members.emplace_back(m, ref(r));
      }
      if (s.contains("required")) shape.required = s["required"].get<std::vector<std::string>>();
      if (s.contains("member")) shape.member = ref(s["member"]);
      if (s.contains("key")) shape.key = ref(s["key"]);
      if (s.contains("value")) shape.value = ref(s["value"]);
    }
    for (const auto& [name, op] : j.at("operations").items()) {
      model->operations_[name] = op.contains("input") ? ref(op["input"]) : nullptr;
    }
  } catch (const std::exception& e) {
    return make_error(Errc::kInternal, std::string("cannot load the service model: ") + e.what());
  }
  return model;
}

Status ServiceModel::relax_pattern(const std::string& shape, const std::string& pattern) {
  auto it = shapes_.find(shape);
  if (it == shapes_.end()) return make_error(Errc::kInternal, "no shape " + shape + " in the service model");
  it->second->pattern_text = pattern;
  it->second->pattern = compile_pattern(pattern);
  if (!it->second->pattern) return make_error(Errc::kInternal, "pattern " + pattern + " does not compile");
  return {};
}

Status ServiceModel::normalize(std::string_view op, Value& input, Protocol protocol) const {
  auto it = operations_.find(std::string(op));
  if (it == operations_.end() || it->second == nullptr) return {};
  return normalize(*it->second, input, protocol);
}

Status ServiceModel::normalize(const Shape& shape, Value& v, Protocol protocol) const {
  switch (shape.kind) {
    case Shape::Kind::kStructure:
      if (v.type != Value::Type::kObject) return {};
      for (auto& [name, member] : v.members) {
        for (const auto& [mname, mshape] : shape.members) {
          if (mname == name) {
            if (auto st = normalize(*mshape, member, protocol); !st) return st;
            break;
          }
        }
      }
      return {};
    case Shape::Kind::kList:
      if (v.type != Value::Type::kArray) return {};
      for (auto& item : v.items) {
        if (auto st = normalize(*shape.member, item, protocol); !st) return st;
      }
      return {};
    case Shape::Kind::kMap:
      if (v.type != Value::Type::kObject) return {};
      for (auto& [_, val] : v.members) {
        if (auto st = normalize(*shape.value, val, protocol); !st) return st;
      }
      return {};
    case Shape::Kind::kBlob:
      if (v.type == Value::Type::kString) {
        auto bytes = base64_decode(v.text);
        if (!bytes) {
          return make_error(Errc::kSerialization,
                            "Base64 encoded data is not valid for member of type " + shape.name + ".");
        }
        v.type = Value::Type::kBytes;
        v.text = std::move(*bytes);
      }
      return {};
    case Shape::Kind::kTimestamp: {
      double ms;
      if (v.is_number()) {
        // JSON carries epoch seconds. AWS's CBOR carries epoch milliseconds, and the Java SDKs
        // even put them under tag 1, which RFC 8949 defines as seconds; so in CBOR the
        // magnitude decides: below 1e11 (1973 in ms, year 5138 in s) the number is seconds.
        const double d = v.as_double();
        const bool seconds = protocol == Protocol::kJson || std::fabs(d) < 1e11;
        ms = seconds ? d * 1000.0 : d;
      } else if (v.type == Value::Type::kString) {
        char* end = nullptr;
        const double secs = std::strtod(v.text.c_str(), &end);
        if (v.text.empty() || end != v.text.c_str() + v.text.size()) {
          auto parsed = parse_iso8601_ms(v.text);
          if (!parsed) {
            return make_error(Errc::kSerialization, "Cannot parse timestamp '" + v.text +
                                                        "': send epoch seconds (e.g. 1459799926.480) or ISO-8601.");
          }
          ms = static_cast<double>(*parsed);
        } else {
          ms = secs * 1000.0;
        }
      } else {
        return {};
      }
      v = Value{};
      v.type = Value::Type::kInt;
      v.integer = static_cast<int64_t>(std::llround(ms));
      return {};
    }
    default:
      return {};
  }
}

Status ServiceModel::validate(std::string_view op, const Value& input) const {
  auto it = operations_.find(std::string(op));
  if (it == operations_.end() || it->second == nullptr) return {};
  std::vector<std::string> errors;
  std::optional<Error> type_error;
  check(*it->second, input, nullptr, errors, type_error);
  if (type_error) return tl::unexpected(*type_error);
  if (errors.empty()) return {};
  std::string msg =
      std::to_string(errors.size()) + (errors.size() == 1 ? " validation error" : " validation errors") + " detected: ";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) msg += "; ";
    msg += errors[i];
  }
  return make_error(Errc::kValidation, msg);
}

std::string ServiceModel::PathNode::render() const {
  std::string out = parent ? parent->render() : std::string();
  if (list_index) return out + "." + std::to_string(list_index) + ".member";
  if (!out.empty()) out.push_back('.');
  return out + lower_first(std::string(member));
}

void ServiceModel::check(const Shape& shape, const Value& v, const PathNode* node, std::vector<std::string>& errors,
                         std::optional<Error>& type_error) const {
  if (type_error) return;
  auto where = [node] { return node ? node->render() : std::string(); };
  auto violation = [&](const std::string& what) {
    errors.push_back("Value " + show(v) + " at '" + where() + "' failed to satisfy constraint: " + what);
  };
  auto wrong_type = [&](const char* expected) {
    type_error =
        Error{Errc::kSerialization, "Expected " + std::string(expected) + " for '" + (node ? where() : shape.name) +
                                        "' but found " + type_name(v.type) + "."};
  };
  auto length_checks = [&](double len) {
    if (shape.max && len > *shape.max)
      violation("Member must have length less than or equal to " + number_text(*shape.max));
    if (shape.min && len < *shape.min)
      violation("Member must have length greater than or equal to " + number_text(*shape.min));
  };
  switch (shape.kind) {
    case Shape::Kind::kStructure: {
      if (v.type != Value::Type::kObject) return wrong_type("a structure");
      for (const auto& req : shape.required) {
        if (!v.get(req)) {
          const PathNode missing{node, req, 0};
          errors.push_back("Value null at '" + missing.render() +
                           "' failed to satisfy constraint: Member must not be null");
        }
      }
      for (const auto& [name, member] : shape.members) {
        if (const Value* m = v.get(name)) {
          const PathNode child{node, name, 0};
          check(*member, *m, &child, errors, type_error);
        }
      }
      return;
    }
    case Shape::Kind::kList: {
      if (v.type != Value::Type::kArray) return wrong_type("a list");
      length_checks(static_cast<double>(v.items.size()));
      for (size_t i = 0; i < v.items.size() && !type_error; ++i) {
        if (v.items[i].type == Value::Type::kNull) continue;
        const PathNode item{node, {}, i + 1};
        check(*shape.member, v.items[i], &item, errors, type_error);
      }
      return;
    }
    case Shape::Kind::kMap: {
      if (v.type != Value::Type::kObject) return wrong_type("a map");
      length_checks(static_cast<double>(v.members.size()));
      for (const auto& [k, val] : v.members) {
        Value key;
        key.type = Value::Type::kString;
        key.text = k;
        const PathNode key_node{node, "key", 0};
        const PathNode value_node{node, "value", 0};
        check(*shape.key, key, &key_node, errors, type_error);
        if (val.type != Value::Type::kNull) check(*shape.value, val, &value_node, errors, type_error);
      }
      return;
    }
    case Shape::Kind::kString: {
      if (v.type != Value::Type::kString) return wrong_type("a string");
      length_checks(static_cast<double>(code_points(v.text)));
      if (shape.pattern && !RE2::FullMatch(v.text, *shape.pattern)) {
        violation("Member must satisfy regular expression pattern: " + shape.pattern_text);
      }
      if (!shape.enum_values.empty() &&
          std::find(shape.enum_values.begin(), shape.enum_values.end(), v.text) == shape.enum_values.end()) {
        std::string set;
        for (const auto& e : shape.enum_values) set += (set.empty() ? "" : ", ") + e;
        violation("Member must satisfy enum value set: [" + set + "]");
      }
      return;
    }
    case Shape::Kind::kInteger:
    case Shape::Kind::kLong:
    case Shape::Kind::kDouble: {
      if (!v.is_number()) return wrong_type("a number");
      if (shape.kind != Shape::Kind::kDouble && v.type == Value::Type::kDouble && std::floor(v.number) != v.number) {
        return wrong_type("an integer");
      }
      const double d = v.as_double();
      if (shape.max && d > *shape.max)
        violation("Member must have value less than or equal to " + number_text(*shape.max));
      if (shape.min && d < *shape.min)
        violation("Member must have value greater than or equal to " + number_text(*shape.min));
      return;
    }
    case Shape::Kind::kBoolean:
      if (v.type != Value::Type::kBool) return wrong_type("a boolean");
      return;
    case Shape::Kind::kTimestamp:
      if (!v.is_number() && v.type != Value::Type::kString) return wrong_type("a timestamp");
      return;
    case Shape::Kind::kBlob:
      // JSON carries blobs as base64 text; the handler decodes and checks the decoded length.
      if (v.type == Value::Type::kBytes) {
        length_checks(static_cast<double>(v.text.size()));
      } else if (v.type != Value::Type::kString) {
        return wrong_type("a blob");
      }
      return;
  }
}

}  // namespace eddy::api
