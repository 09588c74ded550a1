#include "api/analytics_v2_api.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>

#include "api/analytics_config.h"
#include "api/aws_errors.h"
#include "api/json_reply.h"
#include "api/writer.h"
#include "common/digest.h"
#include "common/file_util.h"
#include "common/path_names.h"

namespace eddy::api {
namespace {

using nlohmann::json;

// What DescribeApplication reports for applications made without a runtime (by the v1 API,
// `eddy jobs deploy` or a pipeline file).
constexpr const char* kSqlRuntime = "SQL-1_0";
constexpr const char* kJobRuntime = "FLINK-1_20";

bool is_flink(const json& config) {
  return config.contains("Job") || config.value("RuntimeEnvironment", "").starts_with("FLINK-");
}

const json& member(const json& j, const char* key) {
  static const json kNone = json::object();
  auto it = j.find(key);
  return it == j.end() || !it->is_object() ? kNone : *it;
}

// The bytes at ZipFileContent (or ZipFileContentUpdate) of a request: blobs reach the handler
// as bytes, which the JSON form of the request must not carry.
std::optional<std::string> zip_content(const Value& in, std::initializer_list<const char*> path) {
  const Value* v = &in;
  for (const char* key : path) {
    v = v->get(key);
    if (!v) return std::nullopt;
  }
  return v->text;
}

class Call : private JsonReply {
 public:
  Call(host::ApplicationHost& host, AnalyticsApi& v1, const std::filesystem::path& bucket_dir, const Value& in,
       Protocol protocol, Respond respond)
      : JsonReply(protocol, std::move(respond)), host_(host), v1_(v1), bucket_dir_(bucket_dir), in_(in) {}

  void run(std::string_view op) {
    if (op == "CreateApplication") return create();
    if (op == "DescribeApplication") return describe();
    if (op == "ListApplications") return list();
    if (op == "StartApplication") return start();
    if (op == "StopApplication") return stop();
    if (op == "UpdateApplication") return update();
    if (op == "DeleteApplication") return status(host_.remove(name(), in_.get("CreateTimestamp")->integer));
    if (op == "AddApplicationInput") return add_input();
    if (op == "AddApplicationOutput") return add_output();
    if (op == "DeleteApplicationOutput") return delete_output();
    if (op == "AddApplicationReferenceDataSource") return add_reference();
    if (op == "AddApplicationInputProcessingConfiguration") return input_processing(true);
    if (op == "DeleteApplicationInputProcessingConfiguration") return input_processing(false);
    if (op == "DeleteApplicationReferenceDataSource") return delete_reference();
    if (op == "DiscoverInputSchema" || op == "TagResource" || op == "UntagResource" || op == "ListTagsForResource") {
      return v1_.handle(op, in_, protocol_, std::move(respond_));
    }
    fail({Errc::kUnsupportedOperation,
          std::string(op) + " is not supported by eddy (snapshots other than the latest checkpoint, versions, "
                            "rollbacks, VPC and CloudWatch logging are not "
                            "available)"});
  }

 private:
  std::string name() const { return in_.get("ApplicationName") ? in_.get("ApplicationName")->text : ""; }

  // Operations finish before eddy answers; the id names the call.
  static std::string operation_id() {
    static std::atomic<uint64_t> next{1};
    return "eddy-op-" + std::to_string(next.fetch_add(1));
  }

  std::string runtime_of(const json& config) const {
    if (config.contains("RuntimeEnvironment")) return config["RuntimeEnvironment"].get<std::string>();
    return config.contains("Job") ? kJobRuntime : kSqlRuntime;
  }

  json summary(const host::HostedApplication& a) const {
    const auto n = a.config.at("ApplicationName").get<std::string>();
    return {{"ApplicationName", n},
            {"ApplicationARN", host_.arn(n)},
            {"ApplicationStatus", a.status},
            {"ApplicationVersionId", a.version},
            {"RuntimeEnvironment", runtime_of(a.config)},
            {"ApplicationMode", "STREAMING"}};
  }

  json code_description(const host::HostedApplication& a) const {
    const json& c = a.config;
    if (c.contains("Job")) {
      json d = json::object();
      if (auto bytes = read_file(c["Job"].value("Library", "")); bytes) {
        d["CodeMD5"] = to_hex(md5(*bytes));
        d["CodeSize"] = bytes->size();
      }
      if (c.contains("CodeLocation")) d["S3ApplicationCodeLocationDescription"] = c["CodeLocation"];
      return {{"CodeContentType", "ZIPFILE"}, {"CodeContentDescription", d}};
    }
    const std::string text = c.value("ApplicationCode", "");
    return {
        {"CodeContentType", "PLAINTEXT"},
        {"CodeContentDescription", {{"TextContent", text}, {"CodeMD5", to_hex(md5(text))}, {"CodeSize", text.size()}}}};
  }

  json detail(const host::HostedApplication& a) const {
    json d = summary(a);
    const json& c = a.config;
    if (c.contains("ApplicationDescription")) d["ApplicationDescription"] = c["ApplicationDescription"];
    if (c.contains("ServiceExecutionRole")) d["ServiceExecutionRole"] = c["ServiceExecutionRole"];
    d["CreateTimestamp"] = a.created_ms;
    d["LastUpdateTimestamp"] = a.updated_ms;
    json conf = {{"ApplicationCodeConfigurationDescription", code_description(a)},
                 {"ApplicationSnapshotConfigurationDescription", {{"SnapshotsEnabled", true}}}};
    if (runtime_of(c) == kSqlRuntime) {
      conf["SqlApplicationConfigurationDescription"] = {
          {"InputDescriptions", analytics::input_descriptions(a)},
          {"OutputDescriptions", analytics::output_descriptions(a)},
          {"ReferenceDataSourceDescriptions", analytics::reference_descriptions(a, true)}};
    }
    const json& pc = member(c, "ParallelismConfiguration");
    const json& cc = member(c, "CheckpointConfiguration");
    const int parallelism = host_.parallelism_of(c);
    conf["FlinkApplicationConfigurationDescription"] = {
        {"CheckpointConfigurationDescription",
         {{"ConfigurationType", cc.value("ConfigurationType", "DEFAULT")},
          {"CheckpointingEnabled", true},
          {"CheckpointInterval", host_.checkpoint_interval_of(c)},
          {"MinPauseBetweenCheckpoints", cc.value("MinPauseBetweenCheckpoints", 0)}}},
        {"MonitoringConfigurationDescription",
         c.value("MonitoringConfiguration", json{{"ConfigurationType", "DEFAULT"}})},
        {"ParallelismConfigurationDescription",
         {{"ConfigurationType", pc.value("ConfigurationType", "DEFAULT")},
          {"Parallelism", parallelism},
          {"ParallelismPerKPU", 1},
          {"CurrentParallelism", parallelism},
          {"AutoScalingEnabled", false}}}};
    if (c.contains("Job")) {
      conf["EnvironmentPropertyDescriptions"] = {
          {"PropertyGroupDescriptions", c["Job"].value("PropertyGroups", json::array())}};
    }
    d["ApplicationConfigurationDescription"] = std::move(conf);
    d["CloudWatchLoggingOptionDescriptions"] = json::array();
    analytics::add_fault(d, a);
    if (!a.reference.empty()) d["EddyReferenceData"] = a.reference;  // eddy's: what the last launch loaded
    return d;
  }

  void answer_detail(const std::string& app, bool with_operation) {
    auto a = host_.describe(app);
    if (!a) return fail(a.error());
    json body = {{"ApplicationDetail", detail(*a)}};
    if (with_operation) body["OperationId"] = operation_id();
    ok(body);
  }

  // FlinkApplicationConfiguration (create) into the stored configuration.
  Status take_flink_configuration(const json& f, json& config) {
    if (f.contains("ParallelismConfiguration")) {
      const json& p = f["ParallelismConfiguration"];
      if (p.value("AutoScalingEnabled", false)) {
        return make_error(Errc::kInvalidArgument,
                          "eddy does not scale applications automatically; set Parallelism instead");
      }
      config["ParallelismConfiguration"] = {{"ConfigurationType", p.value("ConfigurationType", "DEFAULT")}};
      if (p.contains("Parallelism")) config["ParallelismConfiguration"]["Parallelism"] = p["Parallelism"];
    }
    if (f.contains("CheckpointConfiguration")) config["CheckpointConfiguration"] = f["CheckpointConfiguration"];
    if (f.contains("MonitoringConfiguration")) config["MonitoringConfiguration"] = f["MonitoringConfiguration"];
    return {};
  }

  // FlinkApplicationConfigurationUpdate and the members beside it that every runtime shares.
  Status apply_common_updates(const json& request, const json& u, json& c) {
    const json& f = member(u, "FlinkApplicationConfigurationUpdate");
    if (f.contains("ParallelismConfigurationUpdate")) {
      const json& p = f["ParallelismConfigurationUpdate"];
      if (p.value("AutoScalingEnabledUpdate", false)) {
        return make_error(Errc::kInvalidArgument,
                          "eddy does not scale applications automatically; set Parallelism instead");
      }
      analytics::apply_parallelism_update(c, p);
    }
    if (f.contains("CheckpointConfigurationUpdate")) {
      const json& p = f["CheckpointConfigurationUpdate"];
      json& cc = c["CheckpointConfiguration"];
      if (!cc.is_object()) cc = {{"ConfigurationType", "DEFAULT"}};
      if (p.contains("ConfigurationTypeUpdate")) cc["ConfigurationType"] = p["ConfigurationTypeUpdate"];
      if (p.contains("CheckpointingEnabledUpdate")) cc["CheckpointingEnabled"] = p["CheckpointingEnabledUpdate"];
      if (p.contains("CheckpointIntervalUpdate")) cc["CheckpointInterval"] = p["CheckpointIntervalUpdate"];
      if (p.contains("MinPauseBetweenCheckpointsUpdate"))
        cc["MinPauseBetweenCheckpoints"] = p["MinPauseBetweenCheckpointsUpdate"];
    }
    if (f.contains("MonitoringConfigurationUpdate")) {
      const json& p = f["MonitoringConfigurationUpdate"];
      json& mc = c["MonitoringConfiguration"];
      if (!mc.is_object()) mc = {{"ConfigurationType", "DEFAULT"}};
      for (const char* k : {"ConfigurationType", "MetricsLevel", "LogLevel"}) {
        if (p.contains(std::string(k) + "Update")) mc[k] = p[std::string(k) + "Update"];
      }
    }
    if (request.contains("ServiceExecutionRoleUpdate"))
      c["ServiceExecutionRole"] = request["ServiceExecutionRoleUpdate"];
    if (request.contains("RuntimeEnvironmentUpdate")) {
      const std::string next = request["RuntimeEnvironmentUpdate"];
      if ((next == kSqlRuntime) != (runtime_of(c) == kSqlRuntime)) {
        return make_error(Errc::kInvalidArgument,
                          "RuntimeEnvironmentUpdate can move a FLINK application to another FLINK "
                          "version only; SQL-1_0 and FLINK applications are different kinds");
      }
      c["RuntimeEnvironment"] = next;
    }
    for (const char* unsupported : {"VpcConfigurationUpdates", "ZeppelinApplicationConfigurationUpdate",
                                    "ApplicationEncryptionConfigurationUpdate"}) {
      if (u.contains(unsupported)) {
        return make_error(Errc::kUnsupportedOperation, std::string(unsupported) + " is not supported by eddy");
      }
    }
    return {};
  }

  // A C++ job library from S3ContentLocation (a file in a bucket directory) or ZipFileContent.
  Result<std::string> library(const json& s3, const std::optional<std::string>& zip) const {
    if (zip) {
      if (zip->starts_with("PK")) {
        return make_error(Errc::kInvalidArgument,
                          "ZipFileContent must be the C++ job library itself (an ELF shared "
                          "object built against eddy's job/job.h), not a zip archive");
      }
      return *zip;
    }
    const std::string bucket_arn = s3.value("BucketARN", "");
    const std::string key = s3.value("FileKey", "");
    const auto path = bucket_object_path(bucket_dir_, bucket_arn, key);  // a FileKey never leaves the bucket
    if (!path) return make_error(Errc::kInvalidArgument, "S3ContentLocation: " + path.error().message);
    const std::string bucket = *bucket_from_arn(bucket_arn);
    auto bytes = read_file(*path);
    if (!bytes) {
      return make_error(Errc::kInvalidArgument, "No file " + key + " in bucket " + bucket +
                                                    ": eddy reads job libraries from its bucket directory (" +
                                                    (bucket_dir_ / bucket).string() + "); copy the library there");
    }
    return *bytes;
  }

  void create() {
    const json in = [&] {
      json j = to_json(in_);
      if (j.contains("ApplicationConfiguration") &&
          j["ApplicationConfiguration"].contains("ApplicationCodeConfiguration")) {
        auto& content = j["ApplicationConfiguration"]["ApplicationCodeConfiguration"]["CodeContent"];
        if (content.is_object()) content.erase("ZipFileContent");
      }
      return j;
    }();
    const std::string runtime = in.at("RuntimeEnvironment");
    if (runtime.starts_with("ZEPPELIN") || in.value("ApplicationMode", "STREAMING") == "INTERACTIVE") {
      return fail(
          {Errc::kUnsupportedOperation,
           "Studio notebooks (ZEPPELIN runtimes, INTERACTIVE mode) are not supported by eddy; use SQL-1_0, or a "
           "FLINK runtime with Flink SQL as TextContent or a C++ job library"});
    }
    const json& cfg = member(in, "ApplicationConfiguration");
    for (const char* unsupported :
         {"VpcConfigurations", "ZeppelinApplicationConfiguration", "ApplicationEncryptionConfiguration"}) {
      if (cfg.contains(unsupported))
        return fail({Errc::kUnsupportedOperation, std::string(unsupported) + " is not supported by eddy"});
    }
    if (!in.value("CloudWatchLoggingOptions", json::array()).empty()) {
      return fail({Errc::kUnsupportedOperation, "CloudWatch logging is not supported by eddy; see `eddy apps logs`"});
    }
    // Checkpoints are eddy's snapshots: always taken, the latest restored.
    if (!member(cfg, "ApplicationSnapshotConfiguration").value("SnapshotsEnabled", true)) {
      return fail({Errc::kInvalidArgument,
                   "eddy applications always keep their latest checkpoint (exactly-once outputs "
                   "depend on it); leave SnapshotsEnabled true"});
    }
    if (member(cfg, "ApplicationSystemRollbackConfiguration").value("RollbackEnabled", false)) {
      return fail({Errc::kUnsupportedOperation, "eddy does not roll applications back; leave RollbackEnabled false"});
    }
    json config = {{"ApplicationName", in.at("ApplicationName")},
                   {"RuntimeEnvironment", runtime},
                   {"ServiceExecutionRole", in.at("ServiceExecutionRole")}};
    if (in.contains("ApplicationDescription")) config["ApplicationDescription"] = in["ApplicationDescription"];
    if (in.contains("Tags")) config["Tags"] = in["Tags"];
    if (auto st = take_flink_configuration(member(cfg, "FlinkApplicationConfiguration"), config); !st)
      return fail(st.error());
    const json& content = member(member(cfg, "ApplicationCodeConfiguration"), "CodeContent");
    const auto zip =
        zip_content(in_, {"ApplicationConfiguration", "ApplicationCodeConfiguration", "CodeContent", "ZipFileContent"});
    const bool sql = runtime == kSqlRuntime;
    if (sql && (zip || content.contains("S3ContentLocation"))) {
      return fail({Errc::kInvalidArgument, "A SQL-1_0 application's code is SQL, given as TextContent"});
    }
    if (!sql && cfg.contains("SqlApplicationConfiguration")) {
      return fail({Errc::kInvalidArgument,
                   "SqlApplicationConfiguration is for SQL-1_0 applications; a FLINK application's "
                   "Flink SQL names its streams in its tables"});
    }
    const json groups = member(cfg, "EnvironmentProperties").value("PropertyGroups", json::array());
    if (!sql && (zip || content.contains("S3ContentLocation"))) {
      auto bytes = library(member(content, "S3ContentLocation"), zip);
      if (!bytes) return fail(bytes.error());
      if (content.contains("S3ContentLocation")) config["CodeLocation"] = content["S3ContentLocation"];
      host::ApplicationHost::JobDeploy how;
      how.parallelism = std::nullopt;
      how.start = false;
      how.create = true;
      how.config = config;
      auto app = host_.deploy_job(name(), *bytes, groups, how);
      if (!app) return fail(app.error());
      return answer_detail(name(), false);
    }
    if (!groups.empty()) {
      return fail({Errc::kInvalidArgument,
                   "EnvironmentProperties are given to C++ jobs (S3ContentLocation or "
                   "ZipFileContent); SQL applications have none"});
    }
    if (!sql && !content.contains("TextContent")) {
      return fail({Errc::kInvalidArgument,
                   "A FLINK application needs its code: a C++ job library (S3ContentLocation or "
                   "ZipFileContent) or Flink SQL as TextContent"});
    }
    if (content.contains("TextContent")) config["ApplicationCode"] = content["TextContent"];
    const json& sql_cfg = member(cfg, "SqlApplicationConfiguration");
    if (auto st = analytics::set_inputs_and_outputs(config, sql_cfg.value("Inputs", json::array()),
                                                    sql_cfg.value("Outputs", json::array()));
        !st) {
      return fail(st.error());
    }
    for (const auto& source : sql_cfg.value("ReferenceDataSources", json::array())) {
      if (auto st = analytics::add_reference_source(config, source); !st) return fail(st.error());
    }
    auto app = host_.create(std::move(config));
    if (!app) return fail(app.error());
    ok({{"ApplicationDetail", detail(*app)}});
  }

  void describe() {
    auto a = host_.describe(name());
    if (!a) return fail(a.error());
    ok({{"ApplicationDetail", detail(*a)}});
  }

  void list() {
    const size_t limit = in_.get("Limit") ? static_cast<size_t>(in_.get("Limit")->integer) : 50;
    const std::string after = in_.get("NextToken") ? in_.get("NextToken")->text : "";
    json summaries = json::array();
    json body = json::object();
    for (const auto& a : host_.list()) {
      const std::string n = a.config.at("ApplicationName").get<std::string>();
      if (!after.empty() && n <= after) continue;
      if (summaries.size() == limit) {
        body["NextToken"] = summaries.back()["ApplicationName"];
        break;
      }
      summaries.push_back(summary(a));
    }
    body["ApplicationSummaries"] = summaries;
    ok(body);
  }

  void start() {
    auto app = host_.describe(name());
    if (!app) return fail(app.error());
    const json rc = in_.get("RunConfiguration") ? to_json(*in_.get("RunConfiguration")) : json::object();
    std::string position;
    // Flink restores its latest snapshot unless told to skip it; eddy's checkpoint plays the snapshot.
    const std::string restore =
        member(rc, "ApplicationRestoreConfiguration").value("ApplicationRestoreType", "RESTORE_FROM_LATEST_SNAPSHOT");
    if (restore == "RESTORE_FROM_CUSTOM_SNAPSHOT") {
      return fail({Errc::kUnsupportedOperation,
                   "eddy keeps an application's latest checkpoint only; restore it with RESTORE_FROM_LATEST_SNAPSHOT"});
    }
    if (is_flink(app->config)) {
      position =
          restore == "SKIP_RESTORE_FROM_SNAPSHOT" ? host::ApplicationHost::kInitialPosition : "LAST_STOPPED_POINT";
    } else {
      position = "NOW";
      for (const auto& c : rc.value("SqlRunConfigurations", json::array())) {
        bool known = false;
        for (const auto& i : app->config.value("Inputs", json::array()))
          known |= i.value("InputId", "") == c.value("InputId", "");
        if (!known) {
          return fail({Errc::kInvalidArgument,
                       "Input id " + c.value("InputId", "") + " does not match any input of application " + name()});
        }
        position = member(c, "InputStartingPositionConfiguration").value("InputStartingPosition", "NOW");
      }
    }
    if (auto st = host_.start(name(), position); !st) return fail(st.error());
    ok({{"OperationId", operation_id()}});
  }

  void stop() {
    // A forced stop still checkpoints: it costs little and keeps exactly-once outputs.
    if (auto st = host_.stop(name()); !st) return fail(st.error());
    ok({{"OperationId", operation_id()}});
  }

  void update() {
    json request = to_json(in_);
    auto app = host_.describe(name());
    if (!app) return fail(app.error());
    const int64_t version =
        in_.get("CurrentApplicationVersionId") ? in_.get("CurrentApplicationVersionId")->integer : app->version;
    const json& u = member(request, "ApplicationConfigurationUpdate");
    json code = member(member(u, "ApplicationCodeConfigurationUpdate"), "CodeContentUpdate");
    code.erase("ZipFileContentUpdate");  // bytes: taken from the request itself
    const auto zip = zip_content(in_, {"ApplicationConfigurationUpdate", "ApplicationCodeConfigurationUpdate",
                                       "CodeContentUpdate", "ZipFileContentUpdate"});
    if (request.contains("CloudWatchLoggingOptionUpdates")) {
      return fail({Errc::kUnsupportedOperation, "CloudWatch logging is not supported by eddy; see `eddy apps logs`"});
    }
    if (member(u, "ApplicationSnapshotConfigurationUpdate").value("SnapshotsEnabledUpdate", true) == false) {
      return fail({Errc::kInvalidArgument,
                   "eddy applications always keep their latest checkpoint; leave SnapshotsEnabled true"});
    }
    if (app->config.contains("Job")) return update_job(*app, version, request, u, code, zip);
    if (zip || code.contains("S3ContentLocationUpdate")) {
      return fail({Errc::kInvalidArgument, "This application runs SQL; give its new code as TextContentUpdate"});
    }
    if (u.contains("EnvironmentPropertyUpdates")) {
      return fail({Errc::kInvalidArgument, "EnvironmentProperties are given to C++ jobs; SQL applications have none"});
    }
    const json& sql = member(u, "SqlApplicationConfigurationUpdate");
    auto st = host_.update(name(), version, [&](json& c) -> Status {
      if (code.contains("TextContentUpdate")) c["ApplicationCode"] = code["TextContentUpdate"];
      if (auto s = analytics::apply_reference_updates(c, sql.value("ReferenceDataSourceUpdates", json::array())); !s)
        return s;
      if (auto s = analytics::apply_input_updates(c, sql.value("InputUpdates", json::array())); !s) return s;
      if (auto s = analytics::apply_output_updates(c, sql.value("OutputUpdates", json::array())); !s) return s;
      if (auto s = analytics::check_destinations(c.value("Outputs", json::array())); !s) return s;
      return apply_common_updates(request, u, c);
    });
    if (!st) return fail(st.error());
    answer_detail(name(), true);
  }

  // A C++ job: the library (new, or the one it runs), its property groups and configuration go
  // to the host as one deploy, which restarts a running job from its checkpoint.
  void update_job(const host::HostedApplication& app, int64_t version, const json& request, const json& u,
                  const json& code, const std::optional<std::string>& zip) {
    if (code.contains("TextContentUpdate") || u.contains("SqlApplicationConfigurationUpdate")) {
      return fail({Errc::kInvalidArgument,
                   "This application runs a C++ job library; give a new one as "
                   "S3ContentLocationUpdate or ZipFileContentUpdate"});
    }
    json config = app.config;
    Result<std::string> bytes = read_file(app.config["Job"].value("Library", ""));
    if (zip || code.contains("S3ContentLocationUpdate")) {
      json s3 = app.config.value("CodeLocation", json::object());
      const json& s = member(code, "S3ContentLocationUpdate");
      if (s.contains("BucketARNUpdate")) s3["BucketARN"] = s["BucketARNUpdate"];
      if (s.contains("FileKeyUpdate")) s3["FileKey"] = s["FileKeyUpdate"];
      if (s.contains("ObjectVersionUpdate")) s3["ObjectVersion"] = s["ObjectVersionUpdate"];
      bytes = library(s3, zip);
      if (zip)
        config.erase("CodeLocation");
      else
        config["CodeLocation"] = s3;
    }
    if (!bytes) return fail(bytes.error());
    if (auto st = apply_common_updates(request, u, config); !st) return fail(st.error());
    const json groups = u.contains("EnvironmentPropertyUpdates")
                            ? member(u, "EnvironmentPropertyUpdates").value("PropertyGroups", json::array())
                            : app.config["Job"].value("PropertyGroups", json::array());
    config.erase("Job");
    host::ApplicationHost::JobDeploy how;
    how.parallelism = std::nullopt;
    how.start = false;
    how.version = version;
    how.config = std::move(config);
    if (!how.config.contains("CodeLocation")) how.config["CodeLocation"] = nullptr;  // merged: removes it
    auto deployed = host_.deploy_job(name(), *bytes, groups, how);
    if (!deployed) return fail(deployed.error());
    answer_detail(name(), true);
  }

  void add_input() {
    json input = to_json(*in_.get("Input"));
    auto st = host_.update(name(), in_.get("CurrentApplicationVersionId")->integer, [&](json& c) -> Status {
      if (is_flink(c)) return make_error(Errc::kInvalidArgument, "Inputs are for SQL-1_0 applications");
      if (!c.value("Inputs", json::array()).empty()) {
        return make_error(Errc::kInvalidArgument, "The application already has a streaming input");
      }
      if (auto s = analytics::check_input(input); !s) return s;
      input["InputId"] = "1.1";
      c["Inputs"] = json::array({input});
      return {};
    });
    if (!st) return fail(st.error());
    answer_change("InputDescriptions");
  }

  void input_processing(bool add) {
    const std::string id = in_.get("InputId")->text;
    json processing = add ? to_json(*in_.get("InputProcessingConfiguration")) : json();
    auto st = host_.update(name(), in_.get("CurrentApplicationVersionId")->integer, [&](json& c) -> Status {
      if (is_flink(c)) return make_error(Errc::kInvalidArgument, "Inputs are for SQL-1_0 applications");
      return analytics::set_input_processing(c, id, add ? &processing : nullptr);
    });
    if (!st) return fail(st.error());
    auto a = host_.describe(name());
    if (!a) return fail(a.error());
    json body = {{"ApplicationARN", host_.arn(name())}, {"ApplicationVersionId", a->version}};
    if (add) {
      body["InputId"] = id;
      for (const auto& d : analytics::input_descriptions(*a)) {
        if (d.value("InputId", "") == id && d.contains("InputProcessingConfigurationDescription"))
          body["InputProcessingConfigurationDescription"] = d["InputProcessingConfigurationDescription"];
      }
    }
    ok(body);
  }

  void add_reference() {
    json source = to_json(*in_.get("ReferenceDataSource"));
    auto st = host_.update(name(), in_.get("CurrentApplicationVersionId")->integer, [&](json& c) -> Status {
      if (is_flink(c)) return make_error(Errc::kInvalidArgument, "Reference data is for SQL-1_0 applications");
      return analytics::add_reference_source(c, source);
    });
    if (!st) return fail(st.error());
    answer_change("ReferenceDataSourceDescriptions");
  }

  void delete_reference() {
    const std::string id = in_.get("ReferenceId")->text;
    auto st = host_.update(name(), in_.get("CurrentApplicationVersionId")->integer, [&](json& c) -> Status {
      if (is_flink(c)) return make_error(Errc::kInvalidArgument, "Reference data is for SQL-1_0 applications");
      return analytics::delete_reference_source(c, id);
    });
    if (!st) return fail(st.error());
    answer_change("");
  }

  void add_output() {
    json output = to_json(*in_.get("Output"));
    auto st = host_.update(name(), in_.get("CurrentApplicationVersionId")->integer, [&](json& c) -> Status {
      if (is_flink(c)) return make_error(Errc::kInvalidArgument, "Outputs are for SQL-1_0 applications");
      json outputs = c.value("Outputs", json::array());
      output["OutputId"] = analytics::next_id(outputs, "OutputId");
      outputs.push_back(output);
      if (auto s = analytics::check_destinations(outputs); !s) return s;
      c["Outputs"] = outputs;
      return {};
    });
    if (!st) return fail(st.error());
    answer_change("OutputDescriptions");
  }

  void delete_output() {
    const std::string id = in_.get("OutputId")->text;
    auto st = host_.update(name(), in_.get("CurrentApplicationVersionId")->integer, [&](json& c) -> Status {
      auto& outputs = c["Outputs"];
      auto it =
          std::find_if(outputs.begin(), outputs.end(), [&](const json& o) { return o.value("OutputId", "") == id; });
      if (it == outputs.end()) return make_error(Errc::kResourceNotFound, "Output " + id + " not found");
      outputs.erase(it);
      return {};
    });
    if (!st) return fail(st.error());
    answer_change("");
  }

  // Add/Delete responses: the ARN, the new version and, for adds, the descriptions.
  void answer_change(const std::string& descriptions) {
    auto a = host_.describe(name());
    if (!a) return fail(a.error());
    json body = {{"ApplicationARN", host_.arn(name())}, {"ApplicationVersionId", a->version}};
    if (descriptions == "InputDescriptions") body[descriptions] = analytics::input_descriptions(*a);
    if (descriptions == "OutputDescriptions") body[descriptions] = analytics::output_descriptions(*a);
    if (descriptions == "ReferenceDataSourceDescriptions")
      body[descriptions] = analytics::reference_descriptions(*a, true);
    ok(body);
  }

  host::ApplicationHost& host_;
  AnalyticsApi& v1_;
  const std::filesystem::path& bucket_dir_;
  const Value& in_;
};

}  // namespace

void AnalyticsV2Api::handle(std::string_view op, const Value& input, Protocol protocol, Respond respond) {
  if (const Value* name = input.get("ApplicationName")) host_.learn(name->text);
  Call call(host_, v1_, bucket_dir_, input, protocol, std::move(respond));
  call.run(op);
}

}  // namespace eddy::api
