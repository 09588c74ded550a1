// An AWS service model (the botocore/SDK `service-2.json`) compiled into checks: every request
// is validated against its operation's input shape before a handler sees it, and violations are
// reported in AWS's own ValidationException wording.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/value.h"
#include "common/error.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace eddy::api {

struct Shape {
  enum class Kind { kStructure, kList, kMap, kString, kInteger, kLong, kDouble, kBoolean, kTimestamp, kBlob };
  Kind kind = Kind::kString;
  std::string name;
  std::optional<double> min, max;
  // RE2 (linear time, no recursion): a caller's 40,000-character name is matched in one pass.
  std::shared_ptr<const re2::RE2> pattern;
  std::string pattern_text;
  std::vector<std::string> enum_values;
  std::vector<std::pair<std::string, const Shape*>> members;  // structure
  std::vector<std::string> required;                          // structure
  const Shape* member = nullptr;                              // list
  const Shape* key = nullptr;                                 // map
  const Shape* value = nullptr;                               // map
};

class ServiceModel {
 public:
  static Result<std::unique_ptr<ServiceModel>> load(std::string_view model_json);

  const std::string& target_prefix() const { return target_prefix_; }
  // The service a SigV4 credential scope names for this API ("kinesis", "firehose", ...).
  const std::string& signing_name() const { return signing_name_; }
  // Replaces a shape's pattern: for the few places where eddy deliberately accepts more than AWS.
  Status relax_pattern(const std::string& shape, const std::string& pattern);
  bool has_operation(std::string_view op) const { return operations_.count(std::string(op)) != 0; }
  std::vector<std::string> operation_names() const {
    std::vector<std::string> names;
    for (const auto& [name, _] : operations_) names.push_back(name);
    return names;
  }
  // SerializationException for a value of the wrong type, ValidationException for constraint
  // violations (all of them, counted, as AWS reports them).
  Status validate(std::string_view op, const Value& input) const;
  // Brings wire encodings to one form before validation: blobs become bytes (JSON's base64 is
  // decoded) and timestamps become integer epoch milliseconds (JSON sends seconds, CBOR millis).
  Status normalize(std::string_view op, Value& input, Protocol protocol) const;

 private:
  // Where a value sits in the request, e.g. records.3.member.data. Built on the stack as the
  // validator descends and rendered to text only when a violation is reported.
  struct PathNode {
    const PathNode* parent;
    std::string_view member;  // structure member (rendered lowerCamel) or "key"/"value"
    size_t list_index;        // 1-based list position; 0 if this node is not a list item
    std::string render() const;
  };
  void check(const Shape& shape, const Value& v, const PathNode* path, std::vector<std::string>& errors,
             std::optional<Error>& type_error) const;

  Status normalize(const Shape& shape, Value& v, Protocol protocol) const;

  std::string target_prefix_;
  std::string signing_name_;
  std::map<std::string, std::unique_ptr<Shape>> shapes_;
  std::map<std::string, const Shape*> operations_;  // operation -> input shape (nullptr: none)
};

}  // namespace eddy::api
