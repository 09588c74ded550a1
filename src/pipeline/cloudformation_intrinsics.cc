// The values of a CloudFormation template and its intrinsic functions (cloudformation_intrinsics.h).

#include "pipeline/cloudformation_intrinsics.h"

#include "pipeline/model.h"

namespace eddy::pipeline {

using nlohmann::json;

namespace {

constexpr const char* kAccount = "000000000000";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A top-level section, or an undefined node (assigning a missing key's node would throw).
YAML::Node section(const YAML::Node& root, const char* key) {
  if (root[key]) return root[key];
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace

Intrinsics::Intrinsics(const YamlFile& y, const std::map<std::string, std::string>& params, std::string region,
                       std::string stack)
    : y_(y), given_(params), region_(std::move(region)), stack_(std::move(stack)) {}

void Intrinsics::read_sections(const YAML::Node& root, const YAML::Node& resources) {
  resources_ = resources;
  params_node_ = section(root, "Parameters");
  conditions_ = section(root, "Conditions");
  mappings_ = section(root, "Mappings");
  outputs_node_ = section(root, "Outputs");
  for (const auto& [k, _] : given_) {
    if (!params_node_ || !params_node_[k]) {
      throw FileErrorException({{y_.file(), 0, 0}, "--param " + k + ": the template has no parameter " + k});
    }
  }
}

void Intrinsics::add_resource(const std::string& id, const std::string& type) {
  types_[id] = type;
}

const std::string& Intrinsics::type_of(const std::string& id) const {
  return types_.at(id);
}

std::string Intrinsics::text(const json& v, const YAML::Node& at) const {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ",") + text(e, at);
    return out;
  }
  y_.fail(at, "expected a text value here, not " + v.dump());
}

json Intrinsics::scalar(const YAML::Node& n) const {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: a string
  if (n.IsNull() || s == "~" || s == "null") return nullptr;
  if (s == "true" || s == "false") return s == "true";
  if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || (s[0] == '-' && s.size() > 1))) {
    try {
      size_t used = 0;
      const long long v = std::stoll(s, &used);
      if (used == s.size() && (s[0] != '0' || s.size() == 1)) return v;
    } catch (const std::exception&) {
    }
  }
  return s;
}

json Intrinsics::resolve(const YAML::Node& n, bool honour_tag) {
  const std::string tag = n.Tag();
  if (honour_tag && tag.size() > 1 && tag[0] == '!' && tag != "!") {
    const std::string fn = tag.substr(1);
    return intrinsic(fn == "Ref" || fn == "Condition" ? fn : "Fn::" + fn, n, n);
  }
  if (n.IsMap()) {
    if (n.size() == 1) {
      const std::string key = n.begin()->first.Scalar();
      if (key == "Ref" || key.starts_with("Fn::") || key == "Condition") return intrinsic(key, n.begin()->second, n);
    }
    json o = json::object();
    for (auto it = n.begin(); it != n.end(); ++it) {
      json v = resolve(it->second);
      if (v.is_object() && v.contains("__no_value")) continue;  // AWS::NoValue drops the property
      o[it->first.Scalar()] = std::move(v);
    }
    return o;
  }
  if (n.IsSequence()) {
    json a = json::array();
    for (const auto& e : n) {
      json v = resolve(e);
      if (v.is_object() && v.contains("__no_value")) continue;
      a.push_back(std::move(v));
    }
    return a;
  }
  if (!n.IsDefined() || n.IsNull()) return nullptr;
  return scalar(n);
}

// The arguments of an intrinsic given in long form (`Fn::Join: [...]`) or short (`!Join [...]`).
json Intrinsics::intrinsic(const std::string& fn, const YAML::Node& arg, const YAML::Node& at) {
  auto args = [&](size_t n) {
    if (!arg.IsSequence() || arg.size() != n) y_.fail(at, fn + " takes a list of " + std::to_string(n) + " items");
  };
  if (fn == "Ref") return ref(y_.string(arg, "Ref"), at);
  if (fn == "Fn::GetAtt") {
    std::string id, attr;
    if (arg.IsScalar()) {
      const std::string s = arg.Scalar();
      const size_t dot = s.find('.');
      if (dot == std::string::npos) y_.fail(at, "Fn::GetAtt needs Resource.Attribute");
      id = s.substr(0, dot);
      attr = s.substr(dot + 1);
    } else {
      args(2);
      id = y_.string(arg[0], "Fn::GetAtt resource");
      attr = text(resolve(arg[1]), arg[1]);
    }
    return get_att(id, attr, at);
  }
  if (fn == "Fn::Sub") {
    std::string tmpl;
    std::map<std::string, std::string> vars;
    if (arg.IsSequence()) {
      args(2);
      tmpl = y_.string(arg[0], "Fn::Sub text");
      if (!arg[1].IsMap()) y_.fail(arg[1], "Fn::Sub variables must be a mapping");
      for (auto it = arg[1].begin(); it != arg[1].end(); ++it)
        vars[it->first.Scalar()] = text(resolve(it->second), it->second);
    } else {
      tmpl = y_.string(arg, "Fn::Sub");
    }
    return sub(tmpl, vars, at);
  }
  if (fn == "Fn::Join") {
    args(2);
    const std::string delim = y_.string(arg[0], "Fn::Join delimiter");
    const json list = resolve(arg[1]);
    if (!list.is_array()) y_.fail(arg[1], "Fn::Join needs a list to join");
    std::string out;
    for (size_t i = 0; i < list.size(); ++i) out += (i ? delim : "") + text(list[i], arg[1]);
    return out;
  }
  if (fn == "Fn::Select") {
    args(2);
    const json index = resolve(arg[0]);
    json list = resolve(arg[1]);
    if (list.is_string()) list = json::array({list});
    long i = index.is_number() ? index.get<long>() : -1;
    if (index.is_string()) try {
        i = std::stol(index.get<std::string>());
      } catch (const std::exception&) {
      }
    if (!list.is_array() || i < 0 || static_cast<size_t>(i) >= list.size()) {
      y_.fail(at, "Fn::Select index " + index.dump() + " is outside the list " + list.dump());
    }
    return list[static_cast<size_t>(i)];
  }
  if (fn == "Fn::Split") {
    args(2);
    const std::string delim = y_.string(arg[0], "Fn::Split delimiter");
    const std::string s = text(resolve(arg[1]), arg[1]);
    json out = json::array();
    size_t start = 0;
    for (size_t pos; !delim.empty() && (pos = s.find(delim, start)) != std::string::npos; start = pos + delim.size()) {
      out.push_back(s.substr(start, pos - start));
    }
    out.push_back(s.substr(start));
    return out;
  }
  if (fn == "Fn::ImportValue") return import_value(text(resolve(arg, !arg.is(at)), arg), at);
  if (fn == "Fn::If") {
    args(3);
    return condition(y_.string(arg[0], "Fn::If condition"), arg[0]) ? resolve(arg[1]) : resolve(arg[2]);
  }
  if (fn == "Fn::Equals") {
    args(2);
    return resolve(arg[0]) == resolve(arg[1]) || text(resolve(arg[0]), arg[0]) == text(resolve(arg[1]), arg[1]);
  }
  if (fn == "Fn::Not") {
    args(1);
    return !truth(resolve(arg[0]), arg[0]);
  }
  if (fn == "Fn::And" || fn == "Fn::Or") {
    if (!arg.IsSequence()) y_.fail(at, fn + " takes a list of conditions");
    bool all = true, any = false;
    for (const auto& c : arg) {
      const bool v = truth(resolve(c), c);
      all = all && v;
      any = any || v;
    }
    return fn == "Fn::And" ? all : any;
  }
  if (fn == "Condition") return condition(y_.string(arg, "Condition"), arg);
  if (fn == "Fn::FindInMap") {
    args(3);
    const std::string m = text(resolve(arg[0]), arg[0]), k1 = text(resolve(arg[1]), arg[1]),
                      k2 = text(resolve(arg[2]), arg[2]);
    if (!mappings_ || !mappings_[m] || !mappings_[m][k1] || !mappings_[m][k1][k2]) {
      y_.fail(at, "Fn::FindInMap: no " + m + "." + k1 + "." + k2 + " in Mappings");
    }
    return resolve(mappings_[m][k1][k2]);
  }
  if (fn == "Fn::Base64") return resolve(arg, !arg.is(at));  // the APIs eddy serves take the text itself
  y_.fail(at,
          fn + " is not supported by eddy (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::ImportValue, "
               "Fn::If and conditions, Fn::FindInMap are)");
}

bool Intrinsics::truth(const json& v, const YAML::Node& at) const {
  if (v.is_boolean()) return v.get<bool>();
  y_.fail(at, "expected a condition (true or false), not " + v.dump());
}

bool Intrinsics::condition(const std::string& name, const YAML::Node& at) {
  if (auto it = condition_values_.find(name); it != condition_values_.end()) return it->second;
  if (!conditions_ || !conditions_[name]) y_.fail(at, "condition '" + name + "' is not declared under Conditions");
  if (!resolving_.insert("condition:" + name).second) y_.fail(at, "condition '" + name + "' depends on itself");
  const bool v = truth(resolve(conditions_[name]), conditions_[name]);
  resolving_.erase("condition:" + name);
  return condition_values_[name] = v;
}

json Intrinsics::parameter(const std::string& name, const YAML::Node& at) {
  const YAML::Node p = params_node_[name];
  y_.check_map(p, "parameter " + name,
               {"Type", "Default", "Description", "AllowedValues", "AllowedPattern", "ConstraintDescription",
                "MaxLength", "MinLength", "MaxValue", "MinValue", "NoEcho"});
  std::string value;
  if (auto it = given_.find(name); it != given_.end()) {
    value = it->second;
  } else if (p["Default"]) {
    value = text(resolve(p["Default"]), p["Default"]);
  } else {
    y_.fail(at, "parameter " + name + " has no Default; give it with --param " + name + "=VALUE");
  }
  if (p["AllowedValues"]) {
    bool ok = false;
    for (const auto& a : p["AllowedValues"]) ok = ok || a.Scalar() == value;
    if (!ok) y_.fail(p["AllowedValues"], "parameter " + name + " = '" + value + "' is not one of its AllowedValues");
  }
  const std::string type = p["Type"] ? p["Type"].Scalar() : "String";
  if (type == "CommaDelimitedList" || type.starts_with("List<")) {
    json list = json::array();
    size_t start = 0;
    for (size_t pos; (pos = value.find(',', start)) != std::string::npos; start = pos + 1)
      list.push_back(value.substr(start, pos - start));
    list.push_back(value.substr(start));
    return list;
  }
  return value;
}

json Intrinsics::ref(const std::string& name, const YAML::Node& at) {
  if (name == "AWS::Region") return region_;
  if (name == "AWS::AccountId") return kAccount;
  if (name == "AWS::Partition") return "aws";
  if (name == "AWS::URLSuffix") return "amazonaws.com";
  if (name == "AWS::StackName") return stack_;
  if (name == "AWS::StackId")
    return std::string("arn:aws:cloudformation:") + region_ + ":" + kAccount + ":stack/" + stack_ + "/" + stack_;
  if (name == "AWS::NoValue") return json{{"__no_value", true}};
  if (params_node_ && params_node_[name]) return parameter(name, at);
  if (types_.count(name)) return physical_name(name, at);
  y_.fail(at, "Ref to '" + name + "', which is neither a parameter nor a resource of this template");
}

std::string Intrinsics::physical_name(const std::string& id, const YAML::Node& at) {
  if (auto it = names_.find(id); it != names_.end()) return it->second;
  if (!resolving_.insert(id).second) y_.fail(at, "resource " + id + " refers to itself through its name");
  const std::string& type = types_.at(id);
  const YAML::Node props = resources_[id]["Properties"];
  static const std::map<std::string, std::string> kNameProperty = {
      {"AWS::Kinesis::Stream", "Name"},
      {"AWS::KinesisAnalytics::Application", "ApplicationName"},
      {"AWS::KinesisAnalyticsV2::Application", "ApplicationName"},
      {"AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName"},
      {"AWS::S3::Bucket", "BucketName"},
      {"AWS::Lambda::Function", "FunctionName"}};
  std::string name = type == "AWS::S3::Bucket" ? lower(id) : id;
  if (auto p = kNameProperty.find(type); p != kNameProperty.end() && props && props[p->second]) {
    name = text(resolve(props[p->second]), props[p->second]);
  }
  resolving_.erase(id);
  return names_[id] = name;
}

json Intrinsics::get_att(const std::string& id, const std::string& attr, const YAML::Node& at) {
  if (!types_.count(id)) y_.fail(at, "Fn::GetAtt of '" + id + "', which is not a resource of this template");
  const std::string& type = types_.at(id);
  const std::string name = physical_name(id, at);
  if (attr == "Name" || attr == "StreamName" || attr == "DeliveryStreamName" || attr == "ApplicationName") return name;
  if (attr != "Arn") {
    if (type == "AWS::S3::Bucket" && (attr == "DomainName" || attr == "RegionalDomainName"))
      return name + ".s3.amazonaws.com";
    y_.fail(at, "Fn::GetAtt " + id + "." + attr + ": eddy provides the attributes Arn and Name");
  }
  if (type == "AWS::Kinesis::Stream") return stream_arn(region_, name);
  if (type == "AWS::KinesisFirehose::DeliveryStream") return delivery_arn(region_, name);
  if (type.starts_with("AWS::KinesisAnalytics")) return application_arn(region_, name);
  if (type == "AWS::S3::Bucket") return "arn:aws:s3:::" + name;
  if (type == "AWS::Lambda::Function") return "arn:aws:lambda:" + region_ + ":" + kAccount + ":function:" + name;
  if (type == "AWS::IAM::Role") return std::string("arn:aws:iam::") + kAccount + ":role/" + name;
  return "arn:aws:" + lower(type.substr(5, type.find("::", 5) - 5)) + ":" + region_ + ":" + kAccount + ":" + name;
}

std::string Intrinsics::sub(const std::string& tmpl, const std::map<std::string, std::string>& vars,
                            const YAML::Node& at) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 3, "${!") == 0) {  // ${!Literal} stays as ${Literal}
      out += "${";
      i += 3;
      continue;
    }
    if (tmpl.compare(i, 2, "${") != 0) {
      out += tmpl[i++];
      continue;
    }
    const size_t end = tmpl.find('}', i);
    if (end == std::string::npos) y_.fail(at, "Fn::Sub: unclosed ${ in '" + tmpl + "'");
    const std::string var = tmpl.substr(i + 2, end - i - 2);
    if (auto it = vars.find(var); it != vars.end()) {
      out += it->second;
    } else if (const size_t dot = var.find('.'); dot != std::string::npos && types_.count(var.substr(0, dot))) {
      out += text(get_att(var.substr(0, dot), var.substr(dot + 1), at), at);
    } else {
      out += text(ref(var, at), at);
    }
    i = end + 1;
  }
  return out;
}

json Intrinsics::import_value(const std::string& export_name, const YAML::Node& at) {
  if (outputs_node_)
    for (auto it = outputs_node_.begin(); it != outputs_node_.end(); ++it) {
      const YAML::Node o = it->second;
      if (!o["Export"] || !o["Export"]["Name"]) continue;
      if (!resolving_.insert("export:" + it->first.Scalar()).second)
        y_.fail(at, "Fn::ImportValue " + export_name + " depends on itself");
      const std::string name = text(resolve(o["Export"]["Name"]), o["Export"]["Name"]);
      json value = name == export_name ? resolve(o["Value"]) : json();
      resolving_.erase("export:" + it->first.Scalar());
      if (name == export_name) return value;
    }
  y_.fail(at, "Fn::ImportValue " + export_name +
                  ": no Output of this template exports that name (eddy imports within one apply)");
}

}  // namespace eddy::pipeline
