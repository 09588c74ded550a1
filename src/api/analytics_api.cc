#include "api/analytics_api.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "api/analytics_config.h"
#include "api/aws_errors.h"
#include "api/json_reply.h"
#include "api/writer.h"
#include "common/path_names.h"
#include "runtime/application.h"

namespace eddy::api {
namespace {

using nlohmann::json;

class Call : private JsonReply {
 public:
  Call(host::ApplicationHost& host, stream::StreamStore& store, const std::filesystem::path& bucket_dir,
       const Value& in, Protocol protocol, Respond respond)
      : JsonReply(protocol, std::move(respond)), host_(host), store_(store), bucket_dir_(bucket_dir), in_(in) {}

  void run(std::string_view op) {
    if (op == "CreateApplication") return create();
    if (op == "DescribeApplication") return describe();
    if (op == "ListApplications") return list();
    if (op == "StartApplication") return start();
    if (op == "StopApplication") return status(host_.stop(name()));
    if (op == "UpdateApplication") return update();
    if (op == "DeleteApplication") return remove();
    if (op == "AddApplicationInput") return add_input();
    if (op == "AddApplicationOutput") return add_output();
    if (op == "DeleteApplicationOutput") return delete_output();
    if (op == "DiscoverInputSchema") return discover();
    if (op == "AddApplicationReferenceDataSource") return add_reference();
    if (op == "AddApplicationInputProcessingConfiguration") return input_processing(true);
    if (op == "DeleteApplicationInputProcessingConfiguration") return input_processing(false);
    if (op == "DeleteApplicationReferenceDataSource") return delete_reference();
    if (op == "TagResource" || op == "UntagResource" || op == "ListTagsForResource") return tags(op);
    fail({Errc::kUnsupportedOperation, std::string(op) + " is not supported by eddy (CloudWatch logging is not "
                                                         "available)"});
  }

 private:
  std::string name() const { return in_.get("ApplicationName") ? in_.get("ApplicationName")->text : ""; }
  int64_t version() const { return in_.get("CurrentApplicationVersionId")->integer; }

  json summary(const host::HostedApplication& a) const {
    const auto n = a.config.at("ApplicationName").get<std::string>();
    return {{"ApplicationName", n}, {"ApplicationARN", host_.arn(n)}, {"ApplicationStatus", a.status}};
  }

  json detail(const host::HostedApplication& a) const {
    json d = summary(a);
    if (a.config.contains("ApplicationDescription")) d["ApplicationDescription"] = a.config["ApplicationDescription"];
    d["CreateTimestamp"] = a.created_ms;
    d["LastUpdateTimestamp"] = a.updated_ms;
    d["ApplicationVersionId"] = a.version;
    if (a.config.contains("ApplicationCode")) d["ApplicationCode"] = a.config["ApplicationCode"];
    d["InputDescriptions"] = analytics::input_descriptions(a);
    d["OutputDescriptions"] = analytics::output_descriptions(a);
    // KDA v2's ParallelismConfigurationDescription: what is configured and what runs.
    const json pc = a.config.value("ParallelismConfiguration", json::object());
    d["ParallelismConfigurationDescription"] = {{"ConfigurationType", pc.value("ConfigurationType", "DEFAULT")},
                                                {"Parallelism", host_.parallelism_of(a.config)},
                                                {"CurrentParallelism", host_.parallelism_of(a.config)}};
    d["ReferenceDataSourceDescriptions"] = analytics::reference_descriptions(a, false);
    if (!a.reference.empty()) d["EddyReferenceData"] = a.reference;  // eddy's: what the last launch loaded
    d["CloudWatchLoggingOptionDescriptions"] = json::array();
    analytics::add_fault(d, a);
    return d;
  }

  void create() {
    json config = to_json(in_);
    if (auto st = analytics::set_inputs_and_outputs(config, config.value("Inputs", json::array()),
                                                    config.value("Outputs", json::array()));
        !st) {
      return fail(st.error());
    }
    auto app = host_.create(std::move(config));
    if (!app) return fail(app.error());
    ok({{"ApplicationSummary", summary(*app)}});
  }

  void describe() {
    auto app = host_.describe(name());
    if (!app) return fail(app.error());
    ok({{"ApplicationDetail", detail(*app)}});
  }

  void list() {
    const size_t limit = in_.get("Limit") ? static_cast<size_t>(in_.get("Limit")->integer) : 50;
    const std::string after =
        in_.get("ExclusiveStartApplicationName") ? in_.get("ExclusiveStartApplicationName")->text : "";
    json summaries = json::array();
    bool more = false;
    for (const auto& a : host_.list()) {
      if (!after.empty() && a.config.at("ApplicationName").get<std::string>() <= after) continue;
      if (summaries.size() == limit) {
        more = true;
        break;
      }
      summaries.push_back(summary(a));
    }
    ok({{"ApplicationSummaries", summaries}, {"HasMoreApplications", more}});
  }

  void start() {
    auto app = host_.describe(name());
    if (!app) return fail(app.error());
    std::string position = "NOW";
    for (const auto& c : in_.get("InputConfigurations")->items) {
      const std::string id = c.get("Id") ? c.get("Id")->text : "";
      bool known = false;
      for (const auto& in : app->config.value("Inputs", json::array())) known |= in.value("InputId", "") == id;
      // A Flink SQL application has no Inputs (its source table names the stream): any id starts it.
      const bool flink_source = app->config.value("Inputs", json::array()).empty();
      if (!known && !flink_source) {
        return fail({Errc::kInvalidArgument, "Input id " + id + " does not match any input of application " + name()});
      }
      if (const Value* p = c.get("InputStartingPositionConfiguration")) {
        if (const Value* s = p->get("InputStartingPosition")) position = s->text;
      }
    }
    status(host_.start(name(), position));
  }

  void update() {
    const json u = to_json(*in_.get("ApplicationUpdate"));
    status(host_.update(name(), version(), [&](json& c) -> Status {
      if (u.contains("ApplicationCodeUpdate")) c["ApplicationCode"] = u["ApplicationCodeUpdate"];
      if (auto st = analytics::apply_input_updates(c, u.value("InputUpdates", json::array())); !st) return st;
      if (auto st = analytics::apply_output_updates(c, u.value("OutputUpdates", json::array())); !st) return st;
      if (u.contains("ParallelismConfigurationUpdate")) {  // KDA v2's shape (an eddy extension of v1)
        analytics::apply_parallelism_update(c, u["ParallelismConfigurationUpdate"]);
      }
      if (auto st = analytics::apply_reference_updates(c, u.value("ReferenceDataSourceUpdates", json::array())); !st)
        return st;
      if (u.contains("CloudWatchLoggingOptionUpdates"))
        return make_error(Errc::kUnsupportedOperation, "CloudWatch logging is not supported by eddy");
      return {};
    }));
  }

  void remove() { status(host_.remove(name(), in_.get("CreateTimestamp")->integer)); }

  void add_input() {
    json input = to_json(*in_.get("Input"));
    status(host_.update(name(), version(), [&](json& c) -> Status {
      if (!c.value("Inputs", json::array()).empty()) {
        return make_error(Errc::kInvalidArgument, "The application already has a streaming input");
      }
      if (auto st = analytics::check_input(input); !st) return st;
      input["InputId"] = "1.1";
      c["Inputs"] = json::array({input});
      return {};
    }));
  }

  void input_processing(bool add) {
    const std::string id = in_.get("InputId")->text;
    json processing = add ? to_json(*in_.get("InputProcessingConfiguration")) : json();
    status(host_.update(name(), version(), [&](json& c) -> Status {
      return analytics::set_input_processing(c, id, add ? &processing : nullptr);
    }));
  }

  void add_reference() {
    json source = to_json(*in_.get("ReferenceDataSource"));
    status(
        host_.update(name(), version(), [&](json& c) -> Status { return analytics::add_reference_source(c, source); }));
  }

  void delete_reference() {
    const std::string id = in_.get("ReferenceId")->text;
    status(
        host_.update(name(), version(), [&](json& c) -> Status { return analytics::delete_reference_source(c, id); }));
  }

  void add_output() {
    json output = to_json(*in_.get("Output"));
    status(host_.update(name(), version(), [&](json& c) -> Status {
      json outputs = c.value("Outputs", json::array());
      output["OutputId"] = analytics::next_id(outputs, "OutputId");
      outputs.push_back(output);
      if (auto st = analytics::check_destinations(outputs); !st) return st;
      c["Outputs"] = outputs;
      return {};
    }));
  }

  void delete_output() {
    const std::string id = in_.get("OutputId")->text;
    status(host_.update(name(), version(), [&](json& c) -> Status {
      auto& outputs = c["Outputs"];
      auto it =
          std::find_if(outputs.begin(), outputs.end(), [&](const json& o) { return o.value("OutputId", "") == id; });
      if (it == outputs.end()) return make_error(Errc::kResourceNotFound, "Output " + id + " not found");
      outputs.erase(it);
      return {};
    }));
  }

  void discover() {
    const Value* arn = in_.get("ResourceARN");
    if (const Value* s3 = in_.get("S3Configuration"); s3 && !arn) return discover_file(*s3);
    if (!arn)
      return fail({Errc::kInvalidArgument, "DiscoverInputSchema needs ResourceARN (a stream) or S3Configuration"});
    auto stream = store_.name_from_arn(arn->text);
    if (!stream) return fail(stream.error());
    std::string position = "TRIM_HORIZON";
    if (const Value* p = in_.get("InputStartingPositionConfiguration")) {
      if (const Value* s = p->get("InputStartingPosition")) position = s->text;
    }
    json processing = nullptr;
    if (const Value* p = in_.get("InputProcessingConfiguration")) processing = to_json(*p);
    auto schema = host_.discover_schema(*stream, position, processing);
    if (!schema) return fail(schema.error());
    ok(*schema);
  }

  // S3Configuration{BucketARN arn:aws:s3:::NAME, FileKey}: a file in the bucket directory
  // <data-dir>/bucket/NAME/, one record per line.
  void discover_file(const Value& s3) {
    const std::string bucket_arn = s3.get("BucketARN")->text;
    const std::string key = s3.get("FileKey")->text;
    constexpr std::string_view kPrefix = "arn:aws:s3:::";
    const auto path = bucket_object_path(bucket_dir_, bucket_arn, key);  // a FileKey never leaves the bucket
    if (!path) return fail(path.error());
    std::ifstream in(*path);
    if (!in)
      return fail(
          {Errc::kResourceNotFound, "File " + key + " not found in bucket " + bucket_arn.substr(kPrefix.size())});
    std::vector<std::string> records;
    std::string line;
    while (records.size() < 100 && std::getline(in, line)) {
      if (!line.empty()) records.push_back(line);
    }
    auto schema = host_.infer_schema(records, "s3://" + bucket_arn.substr(kPrefix.size()) + "/" + key);
    if (!schema) return fail(schema.error());
    ok(*schema);
  }

  void tags(std::string_view op) {
    const std::string arn = in_.get("ResourceARN")->text;
    const std::string app = arn.substr(arn.rfind('/') + 1);
    if (op == "ListTagsForResource") {
      auto a = host_.describe(app);
      if (!a) return fail(a.error());
      return ok({{"Tags", a->config.value("Tags", json::array())}});
    }
    auto a = host_.describe(app);
    if (!a) return fail(a.error());
    const json change = to_json(in_);
    status(host_.update(app, a->version, [&](json& c) -> Status {
      json tags = c.value("Tags", json::array());
      if (op == "TagResource") {
        for (const auto& t : change.value("Tags", json::array())) {
          auto it = std::find_if(tags.begin(), tags.end(), [&](const json& x) { return x["Key"] == t["Key"]; });
          if (it != tags.end())
            *it = t;
          else
            tags.push_back(t);
        }
        if (tags.size() > 50) return make_error(Errc::kLimitExceeded, "An application can have at most 50 tags");
      } else {
        for (const auto& k : change.value("TagKeys", json::array())) {
          tags.erase(std::remove_if(tags.begin(), tags.end(), [&](const json& x) { return x["Key"] == k; }),
                     tags.end());
        }
      }
      c["Tags"] = tags;
      return {};
    }));
  }

  host::ApplicationHost& host_;
  stream::StreamStore& store_;
  const std::filesystem::path& bucket_dir_;
  const Value& in_;
};

}  // namespace

void AnalyticsApi::handle(std::string_view op, const Value& input, Protocol protocol, Respond respond) {
  if (const Value* name = input.get("ApplicationName")) host_.learn(name->text);
  Call call(host_, store_, bucket_dir_, input, protocol, std::move(respond));
  call.run(op);
}

}  // namespace eddy::api
