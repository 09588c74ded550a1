#include "pipeline/cloudformation.h"

#include <filesystem>
#include <set>

#include "pipeline/yaml_util.h"

namespace eddy::pipeline {
namespace {

using nlohmann::json;

constexpr const char* kAccount = "000000000000";

// Property names whose values the APIs take as numbers or booleans (templates often quote them).
const std::set<std::string> kIntegerKeys = {"ShardCount",        "RetentionPeriodHours", "SizeInMBs",
                                            "IntervalInSeconds", "DurationInSeconds",    "Count"};
const std::set<std::string> kBooleanKeys = {"Enabled"};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Types eddy does not create, with the reason shown to the user.
std::string skip_reason(const std::string& type) {
  if (type.starts_with("AWS::IAM::")) return "eddy has no IAM: any role is accepted";
  if (type.starts_with("AWS::Logs::")) return "logs are eddy's own (`eddy apps logs`, the server's log)";
  if (type.starts_with("AWS::CloudWatch::")) return "metrics are served at /metrics and on the dashboard";
  if (type.starts_with("AWS::SSM::")) return "no parameter store; use template Parameters with --param";
  if (type == "AWS::CDK::Metadata") return "CDK bookkeeping";
  if (type.starts_with("AWS::KMS::")) return "eddy does not encrypt at rest";
  if (type.starts_with("AWS::Lambda::")) return "only AWS::Lambda::Function with inline Python code runs in eddy";
  if (type.ends_with("::ApplicationReferenceDataSource")) return "reference data is not supported by eddy yet";
  if (type.ends_with("::ApplicationCloudWatchLoggingOption")) return "application errors are in `eddy apps logs`";
  if (type == "AWS::Kinesis::StreamConsumer") return "enhanced fan-out consumers are not supported by eddy yet";
  return "eddy does not implement this resource type";
}

class Translator {
 public:
  Translator(const YamlFile& y, const std::map<std::string, std::string>& params, std::string region, std::string stack)
      : y_(y), given_(params), region_(std::move(region)), stack_(std::move(stack)) {}

  DesiredState run() {
    const YAML::Node& root = y_.root();
    y_.check_map(root, "the template",
                 {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions",
                  "Rules", "Resources", "Outputs", "Transform"});
    if (root["Transform"])
      y_.fail(root["Transform"],
              "Transform (e.g. AWS::Serverless) is not supported by eddy; deploy the transformed template");
    resources_ = y_.required(root, "Resources", "the template");
    if (!resources_.IsMap()) y_.fail(resources_, "Resources must be a mapping of logical ids to resources");
    params_node_ = section(root, "Parameters");
    conditions_ = section(root, "Conditions");
    mappings_ = section(root, "Mappings");
    outputs_node_ = section(root, "Outputs");
    for (const auto& [k, _] : given_) {
      if (!params_node_ || !params_node_[k]) {
        throw FileErrorException({{y_.file(), 0, 0}, "--param " + k + ": the template has no parameter " + k});
      }
    }
    for (auto it = resources_.begin(); it != resources_.end(); ++it) {
      const std::string id = it->first.Scalar();
      const YAML::Node r = it->second;
      y_.check_map(r, "resource " + id,
                   {"Type", "Properties", "Metadata", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy",
                    "CreationPolicy", "UpdatePolicy"});
      const std::string type = y_.string(y_.required(r, "Type", "resource " + id), "resource " + id + " Type");
      types_[id] = type;
    }
    DesiredState s;
    // Functions first: delivery streams name them by !GetAtt Function.Arn.
    for (const bool functions : {true, false}) {
      for (auto it = resources_.begin(); it != resources_.end(); ++it) {
        const std::string id = it->first.Scalar();
        const YAML::Node r = it->second;
        const std::string& type = types_[id];
        if ((type == "AWS::Lambda::Function") != functions) continue;
        if (r["Condition"] && supported(type) && !condition(y_.string(r["Condition"], "Condition"), r["Condition"])) {
          s.skipped.push_back({id, type, "its Condition is false"});
          continue;
        }
        translate(id, type, r, s);
      }
    }
    attach_outputs(s);
    if (outputs_node_ && !outputs_node_.IsMap())
      y_.fail(outputs_node_, "Outputs must be a mapping of output names to outputs");
    if (outputs_node_)
      for (auto it = outputs_node_.begin(); it != outputs_node_.end(); ++it) {
        const YAML::Node o = it->second;
        const std::string name = it->first.Scalar();
        y_.check_map(o, "output " + name, {"Description", "Value", "Export", "Condition"});
        if (o["Condition"] && !condition(y_.string(o["Condition"], "Condition"), o["Condition"])) continue;
        s.outputs.push_back({name, text(resolve(y_.required(o, "Value", "output " + name)), o["Value"]),
                             o["Description"] ? text(resolve(o["Description"]), o["Description"]) : ""});
      }
    return s;
  }

 private:
  // A top-level section, or an undefined node (assigning a missing key's node would throw).
  static YAML::Node section(const YAML::Node& root, const char* key) {
    if (root[key]) return root[key];
    return YAML::Node(YAML::NodeType::Undefined);
  }

  static bool supported(const std::string& type) {
    return type == "AWS::Kinesis::Stream" || type.starts_with("AWS::KinesisAnalytics") ||
           type == "AWS::KinesisFirehose::DeliveryStream" || type == "AWS::S3::Bucket" ||
           type == "AWS::Lambda::Function";
  }

  // ---- values
  std::string text(const json& v, const YAML::Node& at) const {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number() || v.is_boolean()) return v.dump();
    if (v.is_array()) {
      std::string out;
      for (const auto& e : v) out += (out.empty() ? "" : ",") + text(e, at);
      return out;
    }
    y_.fail(at, "expected a text value here, not " + v.dump());
  }

  json scalar(const YAML::Node& n) const {
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

  // `honour_tag` false reads a short-form intrinsic's own node as its argument (`!ImportValue x`).
  json resolve(const YAML::Node& n, bool honour_tag = true) {
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
  json intrinsic(const std::string& fn, const YAML::Node& arg, const YAML::Node& at) {
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
      for (size_t pos; !delim.empty() && (pos = s.find(delim, start)) != std::string::npos;
           start = pos + delim.size()) {
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
    y_.fail(
        at,
        fn + " is not supported by eddy (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::ImportValue, "
             "Fn::If and conditions, Fn::FindInMap are)");
  }

  bool truth(const json& v, const YAML::Node& at) const {
    if (v.is_boolean()) return v.get<bool>();
    y_.fail(at, "expected a condition (true or false), not " + v.dump());
  }

  bool condition(const std::string& name, const YAML::Node& at) {
    if (auto it = condition_values_.find(name); it != condition_values_.end()) return it->second;
    if (!conditions_ || !conditions_[name]) y_.fail(at, "condition '" + name + "' is not declared under Conditions");
    if (!resolving_.insert("condition:" + name).second) y_.fail(at, "condition '" + name + "' depends on itself");
    const bool v = truth(resolve(conditions_[name]), conditions_[name]);
    resolving_.erase("condition:" + name);
    return condition_values_[name] = v;
  }

  json parameter(const std::string& name, const YAML::Node& at) {
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

  json ref(const std::string& name, const YAML::Node& at) {
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

  // The name a resource gets: its name property, else (as CloudFormation would generate one) its logical id.
  std::string physical_name(const std::string& id, const YAML::Node& at) {
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

  json get_att(const std::string& id, const std::string& attr, const YAML::Node& at) {
    if (!types_.count(id)) y_.fail(at, "Fn::GetAtt of '" + id + "', which is not a resource of this template");
    const std::string& type = types_.at(id);
    const std::string name = physical_name(id, at);
    if (attr == "Name" || attr == "StreamName" || attr == "DeliveryStreamName" || attr == "ApplicationName")
      return name;
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

  std::string sub(const std::string& tmpl, const std::map<std::string, std::string>& vars, const YAML::Node& at) {
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

  json import_value(const std::string& export_name, const YAML::Node& at) {
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

  // ---- resources
  static void coerce(json& v) {
    if (v.is_object()) {
      for (auto& [k, x] : v.items()) {
        if (kIntegerKeys.count(k) && x.is_string()) {
          try {
            x = std::stoll(x.get<std::string>());
          } catch (const std::exception&) {
          }
        } else if (kBooleanKeys.count(k) && x.is_string()) {
          x = x.get<std::string>() == "true";
        } else {
          coerce(x);
        }
      }
    } else if (v.is_array()) {
      for (auto& x : v) coerce(x);
    }
  }

  // The resolved Properties of a resource, checked against the names its type documents.
  json properties(const std::string& id, const YAML::Node& r, std::initializer_list<const char*> allowed) {
    const YAML::Node props = r["Properties"];
    if (!props) return json::object();
    y_.check_map(props, "the Properties of " + id, allowed);
    json p = resolve(props);
    coerce(p);
    return p;
  }

  YAML::Node prop_node(const YAML::Node& r, const char* key) const {
    const YAML::Node props = r["Properties"];
    return props && props[key] ? props[key] : r;
  }

  // The name at the end of an ARN-valued property (a stream's, a delivery stream's).
  std::string arn_name(const json& v, const YAML::Node& at, const std::string& what) const {
    if (!v.is_string() || v.get<std::string>().empty())
      y_.fail(at, what + " must be an ARN (e.g. !GetAtt Resource.Arn)");
    return name_from_arn(v.get<std::string>());
  }

  InputSpec kda_input(const std::string& id, const json& in, const YAML::Node& at) {
    if (in.contains("KinesisFirehoseInput"))
      y_.fail(at, id + ": KinesisFirehoseInput is not supported by eddy; read a Kinesis stream");
    if (in.contains("InputProcessingConfiguration"))
      y_.fail(at, id + ": InputProcessingConfiguration (Lambda preprocessing) is not supported by eddy");
    if (!in.contains("KinesisStreamsInput")) y_.fail(at, id + ": the input needs KinesisStreamsInput.ResourceARN");
    InputSpec i;
    i.stream =
        arn_name(in["KinesisStreamsInput"].value("ResourceARN", json()), at, id + ": KinesisStreamsInput.ResourceARN");
    i.name_prefix = in.value("NamePrefix", "SOURCE_SQL_STREAM");
    i.schema = in.value("InputSchema", json::object());
    i.parallelism = in.value("InputParallelism", json::object()).value("Count", 1);
    return i;
  }

  OutputSpec kda_output(const std::string& id, const json& o, const YAML::Node& at) {
    OutputSpec out;
    out.where = y_.at(at);
    out.name = o.value("Name", "");
    if (out.name.empty()) y_.fail(at, id + ": the output needs Name (an in-application stream)");
    out.format = o.value("DestinationSchema", json::object()).value("RecordFormatType", "JSON");
    if (o.contains("LambdaOutput"))
      y_.fail(at, id + ": LambdaOutput is not supported by eddy; write to a stream or a delivery stream");
    if (o.contains("KinesisStreamsOutput")) {
      out.stream = arn_name(o["KinesisStreamsOutput"].value("ResourceARN", json()), at,
                            id + ": KinesisStreamsOutput.ResourceARN");
    } else if (o.contains("KinesisFirehoseOutput")) {
      out.delivery_stream = arn_name(o["KinesisFirehoseOutput"].value("ResourceARN", json()), at,
                                     id + ": KinesisFirehoseOutput.ResourceARN");
    } else {
      y_.fail(at, id + ": the output needs KinesisStreamsOutput or KinesisFirehoseOutput");
    }
    return out;
  }

  void translate(const std::string& id, const std::string& type, const YAML::Node& r, DesiredState& s) {
    const Location where = y_.at(r);
    if (type == "AWS::Kinesis::Stream") {
      json p = properties(id, r,
                          {"Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails", "StreamEncryption",
                           "Tags", "DesiredShardLevelMetrics"});
      StreamSpec st;
      st.name = physical_name(id, r);
      st.where = where;
      st.on_demand = p.value("StreamModeDetails", json::object()).value("StreamMode", "PROVISIONED") == "ON_DEMAND";
      st.shards = st.on_demand ? 4 : p.value("ShardCount", 1);
      st.retention_hours = p.value("RetentionPeriodHours", 24);
      if (st.shards < 1 || st.shards > 500) y_.fail(prop_node(r, "ShardCount"), id + ": ShardCount must be 1 to 500");
      if (p.contains("StreamEncryption"))
        s.skipped.push_back(
            {id, "StreamEncryption", "eddy does not encrypt at rest; the stream is created without it"});
      s.streams.push_back(st);
    } else if (type == "AWS::KinesisAnalytics::Application") {
      json p = properties(id, r, {"ApplicationName", "ApplicationDescription", "ApplicationCode", "Inputs"});
      ApplicationSpec a;
      a.name = physical_name(id, r);
      a.where = where;
      a.description = p.value("ApplicationDescription", "");
      a.code = p.value("ApplicationCode", "");
      a.code_where = y_.content_start(prop_node(r, "ApplicationCode"));
      const json inputs = p.value("Inputs", json::array());
      if (inputs.size() > 1) y_.fail(prop_node(r, "Inputs"), id + ": eddy applications read one streaming input");
      if (!inputs.empty()) a.input = kda_input(id, inputs[0], prop_node(r, "Inputs"));
      s.applications.push_back(std::move(a));
    } else if (type == "AWS::KinesisAnalyticsV2::Application") {
      json p = properties(id, r,
                          {"ApplicationName", "ApplicationDescription", "RuntimeEnvironment", "ServiceExecutionRole",
                           "ApplicationConfiguration", "ApplicationMode", "RunConfiguration",
                           "ApplicationMaintenanceConfiguration", "Tags"});
      ApplicationSpec a;
      a.name = physical_name(id, r);
      a.where = where;
      a.description = p.value("ApplicationDescription", "");
      const std::string runtime = p.value("RuntimeEnvironment", "");
      const json config = p.value("ApplicationConfiguration", json::object());
      const json code =
          config.value("ApplicationCodeConfiguration", json::object()).value("CodeContent", json::object());
      const YAML::Node cfg = prop_node(r, "ApplicationConfiguration");
      // FlinkApplicationConfiguration.ParallelismConfiguration: CUSTOM sets the application's
      // threads; DEFAULT (or none) leaves them to the server's --parallelism.
      const json par = config.value("FlinkApplicationConfiguration", json::object())
                           .value("ParallelismConfiguration", json::object());
      if (par.value("ConfigurationType", "DEFAULT") == "CUSTOM") {
        const json n = par.value("Parallelism", json());
        const int64_t v = n.is_number_integer() ? n.get<int64_t>()
                          : n.is_string()       ? std::atoll(n.get<std::string>().c_str())
                                                : 0;
        if (v < 1 || v > 64)
          y_.fail(cfg, id + ": ParallelismConfiguration.Parallelism must be 1 to 64 with ConfigurationType CUSTOM");
        a.parallelism = static_cast<int>(v);
      }
      if (code.contains("ZipFileContent")) {
        y_.fail(cfg,
                id + ": ZipFileContent is not supported by eddy; give a C++ job library as S3ContentLocation.FileKey "
                     "(a path beside the template) or Flink SQL as TextContent");
      }
      if (code.contains("S3ContentLocation")) {
        // A job archive: for eddy a C++ job library (job/job.h), found at FileKey beside the template.
        const std::string key = code["S3ContentLocation"].value("FileKey", "");
        const auto path = std::filesystem::absolute(y_.file()).parent_path() / key;
        json groups = config.value("EnvironmentProperties", json::object()).value("PropertyGroups", json::array());
        for (auto& g : groups) {  // property values are strings, as KDA takes them
          for (auto& [k, v] : g["PropertyMap"].items()) {
            if (!v.is_string()) v = v.dump();
          }
        }
        auto job = make_job(path.string(), std::move(groups));
        if (key.empty() || !job) {
          y_.fail(cfg, id + ": S3ContentLocation.FileKey names the C++ job library, looked up beside the template: " +
                           (job ? std::string("FileKey is empty") : job.error()));
        }
        a.job = std::move(*job);
        a.code_where = y_.at(cfg);
        s.applications.push_back(std::move(a));
        return;
      }
      a.code = code.value("TextContent", "");
      if (cfg.IsMap() && cfg["ApplicationCodeConfiguration"] && cfg["ApplicationCodeConfiguration"]["CodeContent"] &&
          cfg["ApplicationCodeConfiguration"]["CodeContent"]["TextContent"]) {
        a.code_where = y_.content_start(cfg["ApplicationCodeConfiguration"]["CodeContent"]["TextContent"]);
      }
      if (a.code.empty())
        y_.fail(
            cfg,
            id + ": give the code as ApplicationConfiguration.ApplicationCodeConfiguration.CodeContent.TextContent");
      const json inputs = config.value("SqlApplicationConfiguration", json::object()).value("Inputs", json::array());
      if (inputs.size() > 1) y_.fail(cfg, id + ": eddy applications read one streaming input");
      if (!inputs.empty()) a.input = kda_input(id, inputs[0], cfg);
      if (config.contains("EnvironmentProperties")) {
        s.skipped.push_back(
            {id, "EnvironmentProperties", "property groups are given to C++ jobs; SQL applications have none"});
      }
      s.applications.push_back(std::move(a));
    } else if (type == "AWS::KinesisAnalytics::ApplicationOutput" ||
               type == "AWS::KinesisAnalyticsV2::ApplicationOutput") {
      json p = properties(id, r, {"ApplicationName", "Output"});
      pending_outputs_.push_back({id, p.value("ApplicationName", ""),
                                  kda_output(id, p.value("Output", json::object()), prop_node(r, "Output")),
                                  prop_node(r, "ApplicationName")});
    } else if (type == "AWS::KinesisFirehose::DeliveryStream") {
      json p = properties(
          id, r,
          {"DeliveryStreamName", "DeliveryStreamType", "KinesisStreamSourceConfiguration",
           "ExtendedS3DestinationConfiguration", "S3DestinationConfiguration", "HttpEndpointDestinationConfiguration",
           "DeliveryStreamEncryptionConfigurationInput", "Tags", "AmazonopensearchserviceDestinationConfiguration",
           "ElasticsearchDestinationConfiguration", "RedshiftDestinationConfiguration",
           "SplunkDestinationConfiguration", "SnowflakeDestinationConfiguration", "IcebergDestinationConfiguration",
           "MSKSourceConfiguration", "AmazonOpenSearchServerlessDestinationConfiguration"});
      DeliverySpec d;
      d.name = physical_name(id, r);
      d.where = where;
      if (p.value("DeliveryStreamType", "DirectPut") == "KinesisStreamAsSource") {
        d.source_stream =
            arn_name(p.value("KinesisStreamSourceConfiguration", json::object()).value("KinesisStreamARN", json()),
                     prop_node(r, "KinesisStreamSourceConfiguration"),
                     id + ": KinesisStreamSourceConfiguration.KinesisStreamARN");
      } else if (p.value("DeliveryStreamType", "DirectPut") != "DirectPut") {
        y_.fail(prop_node(r, "DeliveryStreamType"),
                id + ": DeliveryStreamType must be DirectPut or KinesisStreamAsSource");
      }
      if (p.contains("ExtendedS3DestinationConfiguration") || p.contains("S3DestinationConfiguration")) {
        d.destination_kind = "ExtendedS3";
        d.destination = p.contains("ExtendedS3DestinationConfiguration") ? p["ExtendedS3DestinationConfiguration"]
                                                                         : p["S3DestinationConfiguration"];
      } else if (p.contains("HttpEndpointDestinationConfiguration")) {
        d.destination_kind = "HttpEndpoint";
        d.destination = p["HttpEndpointDestinationConfiguration"];
        // eddy's stream destination: an endpoint URL that is a stream ARN
        std::string url = d.destination.value("EndpointConfiguration", json::object()).value("Url", "");
        if (url.starts_with("arn:aws:kinesis:"))
          d.destination["EndpointConfiguration"]["Url"] = "stream:" + name_from_arn(url);
      } else {
        y_.fail(r, id + ": eddy delivers to ExtendedS3DestinationConfiguration / S3DestinationConfiguration (bucket "
                        "directories or an "
                        "S3-compatible store) or HttpEndpointDestinationConfiguration");
      }
      if (p.contains("DeliveryStreamEncryptionConfigurationInput")) {
        s.skipped.push_back(
            {id, "DeliveryStreamEncryptionConfigurationInput", "eddy does not encrypt at rest; delivered without it"});
      }
      d.destination.erase("CloudWatchLoggingOptions");
      s.deliveries.push_back(std::move(d));
    } else if (type == "AWS::S3::Bucket") {
      s.bucket_directories[physical_name(id, r)] = id;
      s.skipped.push_back(
          {id, type,
           "bucket " + physical_name(id, r) + " is a directory under <data-dir>/bucket/, made on the first delivery"});
    } else if (type == "AWS::Lambda::Function") {
      lambda(id, r, s);
    } else {
      s.skipped.push_back({id, type, skip_reason(type)});
    }
  }

  // Inline Python (Code.ZipFile) is written beside the template. What runs is the server's choice
  // (docs/security.md): its operator starts eddy serve with --lambda NAME=python:FILE#handler.
  void lambda(const std::string& id, const YAML::Node& r, DesiredState& s) {
    json p = resolve(r["Properties"]);
    const std::string runtime = p.value("Runtime", "");
    const std::string code = p.value("Code", json::object()).value("ZipFile", "");
    if (!runtime.starts_with("python3") || code.empty()) {
      s.skipped.push_back({id, "AWS::Lambda::Function",
                           "only inline Python code (Runtime python3.x, Code.ZipFile) runs in eddy's Lambda runner"});
      return;
    }
    const std::string handler = p.value("Handler", "index.handler");
    const size_t dot = handler.rfind('.');
    const std::string module = dot == std::string::npos ? "index" : handler.substr(0, dot);
    const std::string function = dot == std::string::npos ? handler : handler.substr(dot + 1);
    const auto dir = std::filesystem::absolute(y_.file()).parent_path() / ".eddy" / "lambda" / physical_name(id, r);
    const auto file = dir / (module + ".py");
    s.files[file.string()] = code;  // apply writes it; plan only names it
    const std::string name = physical_name(id, r);
    s.skipped.push_back({id, "AWS::Lambda::Function",
                         "no function is deployed: its inline code is written to " + file.string() +
                             "; the server runs it when started with eddy serve --lambda " + name +
                             "=python:" + file.string() + "#" + function});
  }

  struct PendingOutput {
    std::string id;
    std::string application;
    OutputSpec output;
    YAML::Node at;
  };

  void attach_outputs(DesiredState& s) {
    for (auto& p : pending_outputs_) {
      auto it = std::find_if(s.applications.begin(), s.applications.end(),
                             [&](const ApplicationSpec& a) { return a.name == p.application; });
      if (it == s.applications.end()) {
        y_.fail(p.at, p.id + ": ApplicationName '" + p.application + "' is not an application of this template");
      }
      it->outputs.push_back(std::move(p.output));
    }
  }

  const YamlFile& y_;
  const std::map<std::string, std::string>& given_;
  std::string region_;
  std::string stack_;
  YAML::Node resources_, params_node_, conditions_, mappings_, outputs_node_;
  std::map<std::string, std::string> types_, names_;
  std::map<std::string, bool> condition_values_;
  std::set<std::string> resolving_;
  std::vector<PendingOutput> pending_outputs_;
};

}  // namespace

tl::expected<DesiredState, FileError> read_template(const YamlFile& yaml,
                                                    const std::map<std::string, std::string>& parameters,
                                                    const std::string& region, const std::string& stack_name) {
  try {
    Translator t(yaml, parameters, region, stack_name.empty() ? "eddy" : stack_name);
    return t.run();
  } catch (const FileErrorException& e) {
    return tl::unexpected(e.error);
  }
}

}  // namespace eddy::pipeline
