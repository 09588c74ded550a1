// The resources of a CloudFormation template (cloudformation.h lists the types) turned into the
// desired state, from their properties as the template's values and intrinsics resolve them
// (cloudformation_intrinsics.h).
#include "pipeline/cloudformation.h"

#include <filesystem>
#include <set>

#include "pipeline/cloudformation_intrinsics.h"
#include "pipeline/yaml_util.h"

namespace eddy::pipeline {
namespace {

using nlohmann::json;

// Property names whose values the APIs take as numbers or booleans (templates often quote them).
const std::set<std::string> kIntegerKeys = {"ShardCount",        "RetentionPeriodHours", "SizeInMBs",
                                            "IntervalInSeconds", "DurationInSeconds",    "Count"};
const std::set<std::string> kBooleanKeys = {"Enabled"};

// Types eddy does not create, with the reason shown to the user.
std::string skip_reason(const std::string& type) {
  if (type.starts_with("AWS::IAM::")) return "eddy has no IAM: any role is accepted";
  if (type.starts_with("AWS::Logs::")) return "logs are eddy's own (`eddy apps logs`, the server's log)";
  if (type.starts_with("AWS::CloudWatch::")) return "metrics are served at /metrics and on the dashboard";
  if (type.starts_with("AWS::SSM::")) return "no parameter store; use template Parameters with --param";
  if (type == "AWS::CDK::Metadata") return "CDK bookkeeping";
  if (type.starts_with("AWS::KMS::")) return "eddy does not encrypt at rest";
  if (type.starts_with("AWS::Lambda::")) return "only AWS::Lambda::Function with inline Python code runs in eddy";
  if (type.ends_with("::ApplicationCloudWatchLoggingOption")) return "application errors are in `eddy apps logs`";
  if (type == "AWS::Kinesis::StreamConsumer") return "enhanced fan-out consumers are not supported by eddy yet";
  return "eddy does not implement this resource type";
}

// Turns each resource, its properties resolved, into the desired state.
class Translator {
 public:
  Translator(const YamlFile& y, const std::map<std::string, std::string>& params, std::string region, std::string stack)
      : y_(y), values_(y, params, std::move(region), std::move(stack)) {}

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
    values_.read_sections(root, resources_);
    for (auto it = resources_.begin(); it != resources_.end(); ++it) {
      const std::string id = it->first.Scalar();
      const YAML::Node r = it->second;
      y_.check_map(r, "resource " + id,
                   {"Type", "Properties", "Metadata", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy",
                    "CreationPolicy", "UpdatePolicy"});
      const std::string type = y_.string(y_.required(r, "Type", "resource " + id), "resource " + id + " Type");
      values_.add_resource(id, type);
    }
    DesiredState s;
    // Functions first: delivery streams name them by !GetAtt Function.Arn.
    for (const bool functions : {true, false}) {
      for (auto it = resources_.begin(); it != resources_.end(); ++it) {
        const std::string id = it->first.Scalar();
        const YAML::Node r = it->second;
        const std::string& type = values_.type_of(id);
        if ((type == "AWS::Lambda::Function") != functions) continue;
        if (r["Condition"] && supported(type) &&
            !values_.condition(y_.string(r["Condition"], "Condition"), r["Condition"])) {
          s.skipped.push_back({id, type, "its Condition is false"});
          continue;
        }
        translate(id, type, r, s);
      }
    }
    attach_outputs(s);
    const YAML::Node& outputs = values_.outputs();
    if (outputs && !outputs.IsMap()) y_.fail(outputs, "Outputs must be a mapping of output names to outputs");
    if (outputs)
      for (auto it = outputs.begin(); it != outputs.end(); ++it) {
        const YAML::Node o = it->second;
        const std::string name = it->first.Scalar();
        y_.check_map(o, "output " + name, {"Description", "Value", "Export", "Condition"});
        if (o["Condition"] && !values_.condition(y_.string(o["Condition"], "Condition"), o["Condition"])) continue;
        s.outputs.push_back(
            {name, values_.text(values_.resolve(y_.required(o, "Value", "output " + name)), o["Value"]),
             o["Description"] ? values_.text(values_.resolve(o["Description"]), o["Description"]) : ""});
      }
    return s;
  }

 private:
  static bool supported(const std::string& type) {
    return type == "AWS::Kinesis::Stream" || type.starts_with("AWS::KinesisAnalytics") ||
           type == "AWS::KinesisFirehose::DeliveryStream" || type == "AWS::S3::Bucket" ||
           type == "AWS::Lambda::Function";
  }

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
    json p = values_.resolve(props);
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
    if (!in.contains("KinesisStreamsInput")) y_.fail(at, id + ": the input needs KinesisStreamsInput.ResourceARN");
    InputSpec i;
    i.stream =
        arn_name(in["KinesisStreamsInput"].value("ResourceARN", json()), at, id + ": KinesisStreamsInput.ResourceARN");
    i.name_prefix = in.value("NamePrefix", "SOURCE_SQL_STREAM");
    i.schema = in.value("InputSchema", json::object());
    i.parallelism = in.value("InputParallelism", json::object()).value("Count", 1);
    if (in.contains("InputProcessingConfiguration")) {
      const json lambda = in["InputProcessingConfiguration"].value("InputLambdaProcessor", json::object());
      if (!lambda.contains("ResourceARN") || !lambda["ResourceARN"].is_string())
        y_.fail(at, id + ": InputProcessingConfiguration.InputLambdaProcessor needs ResourceARN");
      i.preprocessor = lambda["ResourceARN"].get<std::string>();
    }
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
      st.name = values_.physical_name(id, r);
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
      a.name = values_.physical_name(id, r);
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
      a.name = values_.physical_name(id, r);
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
    } else if (type == "AWS::KinesisAnalytics::ApplicationReferenceDataSource" ||
               type == "AWS::KinesisAnalyticsV2::ApplicationReferenceDataSource") {
      json p = properties(id, r, {"ApplicationName", "ReferenceDataSource"});
      const json source = p.value("ReferenceDataSource", json::object());
      const YAML::Node at = prop_node(r, "ReferenceDataSource");
      ReferenceSpec ref;
      ref.where = where;
      ref.table = source.value("TableName", "");
      if (ref.table.empty()) y_.fail(at, id + ": ReferenceDataSource needs a TableName");
      const json s3 = source.value("S3ReferenceDataSource", json::object());
      ref.bucket = arn_name(s3.value("BucketARN", json()), at, id + ": S3ReferenceDataSource.BucketARN");
      ref.key = s3.value("FileKey", "");
      if (ref.key.empty()) y_.fail(at, id + ": S3ReferenceDataSource needs a FileKey");
      ref.schema = source.value("ReferenceSchema", json::object());
      pending_references_.push_back(
          {id, p.value("ApplicationName", ""), std::move(ref), prop_node(r, "ApplicationName")});
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
      d.name = values_.physical_name(id, r);
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
      s.bucket_directories[values_.physical_name(id, r)] = id;
      s.skipped.push_back({id, type,
                           "bucket " + values_.physical_name(id, r) +
                               " is a directory under <data-dir>/bucket/, made on the first delivery"});
    } else if (type == "AWS::Lambda::Function") {
      lambda(id, r, s);
    } else {
      s.skipped.push_back({id, type, skip_reason(type)});
    }
  }

  // Inline Python (Code.ZipFile) is written beside the template. What runs is the server's choice
  // (docs/security.md): its operator starts eddy serve with --lambda NAME=python:FILE#handler.
  void lambda(const std::string& id, const YAML::Node& r, DesiredState& s) {
    json p = values_.resolve(r["Properties"]);
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
    const auto dir =
        std::filesystem::absolute(y_.file()).parent_path() / ".eddy" / "lambda" / values_.physical_name(id, r);
    const auto file = dir / (module + ".py");
    s.files[file.string()] = code;  // apply writes it; plan only names it
    const std::string name = values_.physical_name(id, r);
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
    for (auto& p : pending_references_) {
      auto it = std::find_if(s.applications.begin(), s.applications.end(),
                             [&](const ApplicationSpec& a) { return a.name == p.application; });
      if (it == s.applications.end()) {
        y_.fail(p.at, p.id + ": ApplicationName '" + p.application + "' is not an application of this template");
      }
      if (!it->references.empty()) y_.fail(p.at, p.id + ": an application has at most one reference data source");
      it->references.push_back(std::move(p.ref));
    }
  }

  const YamlFile& y_;
  Intrinsics values_;
  YAML::Node resources_;
  std::vector<PendingOutput> pending_outputs_;
  struct PendingReference {
    std::string id;
    std::string application;
    ReferenceSpec ref;
    YAML::Node at;
  };
  std::vector<PendingReference> pending_references_;
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
