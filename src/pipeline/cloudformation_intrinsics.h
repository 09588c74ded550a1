// Internal to pipeline/: the values of a CloudFormation template, for cloudformation.cc to
// translate its resources with. Parameters (with the --param values given), Conditions, Mappings,
// the exports of its Outputs, the pseudo parameters (AWS::Region, AWS::StackName, ...), and the
// intrinsic functions over them: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split,
// Fn::ImportValue, Fn::If/Equals/Not/And/Or, Condition, Fn::FindInMap and Fn::Base64, in long
// (`Fn::Join: [...]`) or short (`!Join [...]`) form. Errors throw FileErrorException at the node.
#pragma once

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/yaml_util.h"

namespace eddy::pipeline {

class Intrinsics {
 public:
  using json = nlohmann::json;

  // `stack` is what Ref AWS::StackName gives.
  Intrinsics(const YamlFile& y, const std::map<std::string, std::string>& params, std::string region,
             std::string stack);

  // Reads the template's Parameters, Conditions, Mappings and Outputs, and checks that each
  // --param names a parameter. `resources` is its Resources mapping.
  void read_sections(const YAML::Node& root, const YAML::Node& resources);
  // A resource of the template: Ref and Fn::GetAtt then give its name and ARN.
  void add_resource(const std::string& id, const std::string& type);
  const std::string& type_of(const std::string& id) const;
  // The Outputs section (undefined when the template has none).
  const YAML::Node& outputs() const { return outputs_node_; }

  // A node with every intrinsic in it evaluated, as JSON (AWS::NoValue drops the property).
  // `honour_tag` false reads a short-form intrinsic's own node as its argument (`!ImportValue x`).
  json resolve(const YAML::Node& n, bool honour_tag = true);
  // A resolved value as text (numbers and booleans as JSON writes them; lists joined by commas).
  std::string text(const json& v, const YAML::Node& at) const;
  // The value of a condition declared under Conditions.
  bool condition(const std::string& name, const YAML::Node& at);
  // The name a resource gets: its name property, else (as CloudFormation would generate one) its logical id.
  std::string physical_name(const std::string& id, const YAML::Node& at);

 private:
  json scalar(const YAML::Node& n) const;
  json intrinsic(const std::string& fn, const YAML::Node& arg, const YAML::Node& at);
  bool truth(const json& v, const YAML::Node& at) const;
  json parameter(const std::string& name, const YAML::Node& at);
  json ref(const std::string& name, const YAML::Node& at);
  json get_att(const std::string& id, const std::string& attr, const YAML::Node& at);
  std::string sub(const std::string& tmpl, const std::map<std::string, std::string>& vars, const YAML::Node& at);
  json import_value(const std::string& export_name, const YAML::Node& at);

  const YamlFile& y_;
  const std::map<std::string, std::string>& given_;
  std::string region_;
  std::string stack_;
  YAML::Node resources_, params_node_, conditions_, mappings_, outputs_node_;
  std::map<std::string, std::string> types_, names_;
  std::map<std::string, bool> condition_values_;
  std::set<std::string> resolving_;
};

}  // namespace eddy::pipeline
