#include "pipeline/executor.h"

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "common/file_util.h"

namespace eddy::pipeline {
namespace {

using nlohmann::json;

constexpr const char* kRole = "arn:aws:iam::000000000000:role/eddy";
constexpr int kPolls = 600;  // 100 ms apart: at most a minute per wait

void pause() {
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

class Executor {
 public:
  Executor(Server& server, const DesiredState& desired, const LiveState& live, std::vector<std::string>& warnings)
      : s_(server), desired_(desired), live_(live), warnings_(warnings) {}

  Status run(const Change& c) {
    switch (c.kind) {
      case Kind::kStream:
        return stream(c);
      case Kind::kDelivery:
        return delivery(c);
      case Kind::kApplication:
        return application(c);
    }
    return {};
  }

 private:
  template <class T>
  static const T* find(const std::vector<T>& list, const std::string& name) {
    for (const auto& x : list) {
      if (x.name == name) return &x;
    }
    return nullptr;
  }

  // ---- streams
  Status wait_stream_active(const std::string& name) {
    std::string status;
    for (int i = 0; i < kPolls; ++i) {
      auto r = s_.kinesis("DescribeStreamSummary", {{"StreamName", name}});
      if (!r) return tl::unexpected(r.error());
      status = (*r)["StreamDescriptionSummary"].value("StreamStatus", "");
      if (status == "ACTIVE") return {};
      pause();
    }
    return make_error(Errc::kInternal, "stream " + name + " is still " + status + " after a minute");
  }

  Status wait_stream_gone(const std::string& name) {
    for (int i = 0; i < kPolls; ++i) {
      auto r = s_.kinesis("DescribeStreamSummary", {{"StreamName", name}});
      if (!r) return is_not_found(r.error()) ? Status{} : tl::unexpected(r.error());
      pause();
    }
    return make_error(Errc::kInternal, "stream " + name + " is still being deleted after a minute");
  }

  Status retention(const std::string& name, int from, int to) {
    if (from == to) return {};
    auto r = s_.kinesis(to > from ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod",
                        {{"StreamName", name}, {"RetentionPeriodHours", to}});
    if (!r) return tl::unexpected(r.error());
    return wait_stream_active(name);
  }

  Status create_stream(const StreamSpec& spec) {
    json body = {{"StreamName", spec.name}};
    if (spec.on_demand) {
      body["StreamModeDetails"] = {{"StreamMode", "ON_DEMAND"}};
    } else {
      body["ShardCount"] = spec.shards;
    }
    if (!desired_.pipeline_name.empty()) body["Tags"] = {{kPipelineTag, desired_.pipeline_name}};
    if (auto r = s_.kinesis("CreateStream", body); !r) return tl::unexpected(r.error());
    if (auto st = wait_stream_active(spec.name); !st) return st;
    return retention(spec.name, 24, spec.retention_hours);
  }

  Status delete_stream(const std::string& name) {
    auto r = s_.kinesis("DeleteStream", {{"StreamName", name}});
    if (!r && !is_not_found(r.error())) return tl::unexpected(r.error());
    return wait_stream_gone(name);
  }

  // UpdateShardCount at most doubles or halves at a time: step until the target is reached.
  Status reshard(const std::string& name, int from, int to) {
    int current = from;
    for (int step = 0; step < 16 && current != to; ++step) {
      const int next = to > current ? std::min(to, current * 2) : std::max(to, (current + 1) / 2);
      auto r = s_.kinesis("UpdateShardCount",
                          {{"StreamName", name}, {"TargetShardCount", next}, {"ScalingType", "UNIFORM_SCALING"}});
      if (!r) return tl::unexpected(r.error());
      if (auto st = wait_stream_active(name); !st) return st;
      current = next;
    }
    return {};
  }

  Status stream(const Change& c) {
    const StreamSpec* want = find(desired_.streams, c.name);
    switch (c.action) {
      case Action::kCreate:
        return create_stream(*want);
      case Action::kReplace:
        if (auto st = delete_stream(c.name); !st) return st;
        return create_stream(*want);
      case Action::kDelete:
        return delete_stream(c.name);
      case Action::kUpdate: {
        const StreamSpec& have = live_.streams.at(c.name).spec;
        if (!want->on_demand) {
          if (auto st = reshard(c.name, have.shards, want->shards); !st) return st;
        }
        return retention(c.name, have.retention_hours, want->retention_hours);
      }
      case Action::kStart:
        return {};
    }
    return {};
  }

  // ---- delivery streams
  json destination_config(const DeliverySpec& d) const {
    json c = d.destination;
    if (!c.contains("RoleARN")) c["RoleARN"] = kRole;
    if (c.contains("EndpointConfiguration")) {
      std::string url = c["EndpointConfiguration"].value("Url", "");
      if (url.starts_with("stream:")) c["EndpointConfiguration"]["Url"] = stream_arn(s_.region(), url.substr(7));
    }
    return c;
  }

  Status create_delivery(const DeliverySpec& d) {
    json body = {{"DeliveryStreamName", d.name},
                 {"DeliveryStreamType", d.source_stream.empty() ? "DirectPut" : "KinesisStreamAsSource"}};
    if (!d.source_stream.empty()) {
      body["KinesisStreamSourceConfiguration"] = {{"KinesisStreamARN", stream_arn(s_.region(), d.source_stream)},
                                                  {"RoleARN", kRole}};
    }
    body[d.destination_kind + "DestinationConfiguration"] = destination_config(d);
    if (!desired_.pipeline_name.empty())
      body["Tags"] = json::array({{{"Key", kPipelineTag}, {"Value", desired_.pipeline_name}}});
    if (auto r = s_.firehose("CreateDeliveryStream", body); !r) return tl::unexpected(r.error());
    return {};
  }

  Status delete_delivery(const std::string& name) {
    auto r = s_.firehose("DeleteDeliveryStream", {{"DeliveryStreamName", name}});
    if (!r && !is_not_found(r.error())) return tl::unexpected(r.error());
    return {};
  }

  Status update_delivery(const DeliverySpec& d, const LiveDelivery& have) {
    json update = destination_config(d);
    if (d.destination_kind == have.spec.destination_kind) {
      // UpdateDestination merges: settings the file dropped are set back to their defaults.
      for (const char* k : {"Prefix", "ErrorOutputPrefix"}) {
        if (!update.contains(k) && have.spec.destination.contains(k)) update[k] = "";
      }
      if (!update.contains("ProcessingConfiguration") && have.spec.destination.contains("ProcessingConfiguration")) {
        update["ProcessingConfiguration"] = {{"Enabled", false}, {"Processors", json::array()}};
      }
    }
    if (update.contains("S3Configuration")) {  // the update's name for an HTTP endpoint's backup bucket
      update["S3Update"] = update["S3Configuration"];
      update.erase("S3Configuration");
    }
    json body = {{"DeliveryStreamName", d.name},
                 {"CurrentDeliveryStreamVersionId", have.version_id},
                 {"DestinationId", have.destination_id.empty() ? "destinationId-000000000001" : have.destination_id},
                 {d.destination_kind + "DestinationUpdate", update}};
    if (auto r = s_.firehose("UpdateDestination", body); !r) return tl::unexpected(r.error());
    return {};
  }

  Status delivery(const Change& c) {
    const DeliverySpec* want = find(desired_.deliveries, c.name);
    switch (c.action) {
      case Action::kCreate:
        return create_delivery(*want);
      case Action::kReplace:
        if (auto st = delete_delivery(c.name); !st) return st;
        return create_delivery(*want);
      case Action::kDelete:
        return delete_delivery(c.name);
      case Action::kUpdate:
        return update_delivery(*want, live_.deliveries.at(c.name));
      case Action::kStart:
        return {};
    }
    return {};
  }

  // ---- applications
  json output_json(const OutputSpec& o) const {
    json out = {{"Name", o.name}, {"DestinationSchema", {{"RecordFormatType", o.format}}}};
    if (!o.stream.empty()) {
      out["KinesisStreamsOutput"] = {{"ResourceARN", stream_arn(s_.region(), o.stream)}, {"RoleARN", kRole}};
    } else {
      out["KinesisFirehoseOutput"] = {{"ResourceARN", delivery_arn(s_.region(), o.delivery_stream)},
                                      {"RoleARN", kRole}};
    }
    return out;
  }

  Result<json> describe_app(const std::string& name) {
    auto r = s_.analytics("DescribeApplication", {{"ApplicationName", name}});
    if (!r) return tl::unexpected(r.error());
    return (*r)["ApplicationDetail"];
  }

  Status start_app(const std::string& name, const std::string& position) {
    auto d = describe_app(name);
    if (!d) return tl::unexpected(d.error());
    const std::string id = d->value("InputDescriptions", json::array()).empty()
                               ? "1.1"
                               : (*d)["InputDescriptions"][0].value("InputId", "1.1");
    auto r = s_.analytics(
        "StartApplication",
        {{"ApplicationName", name},
         {"InputConfigurations",
          json::array({{{"Id", id}, {"InputStartingPositionConfiguration", {{"InputStartingPosition", position}}}}})}});
    if (!r) return tl::unexpected(r.error());
    return wait_running(name);
  }

  Status wait_running(const std::string& name) {
    std::string status;
    for (int i = 0; i < kPolls; ++i) {
      auto now = describe_app(name);
      if (!now) return tl::unexpected(now.error());
      status = now->value("ApplicationStatus", "");
      if (status == "RUNNING") return {};
      pause();
    }
    return make_error(Errc::kInternal, "application " + name + " is still " + status + " after a minute");
  }

  // A C++ job: the library is deployed (the server starts it), then tagged with its digest (and the
  // pipeline's name) so that the next plan knows what runs.
  Status deploy_job(const ApplicationSpec& a) {
    auto bytes = read_file(a.job->library);
    if (!bytes)
      return make_error(Errc::kIo, "cannot read the job library " + a.job->library + ": " + bytes.error().message);
    if (auto r = s_.deploy_job(a.name, *bytes, a.job->property_groups, a.parallelism); !r)
      return tl::unexpected(r.error());
    json tags = json::array({{{"Key", kJobTag}, {"Value", a.job->digest}}});
    if (!desired_.pipeline_name.empty()) tags.push_back({{"Key", kPipelineTag}, {"Value", desired_.pipeline_name}});
    auto r = s_.analytics("TagResource", {{"ResourceARN", application_arn(s_.region(), a.name)}, {"Tags", tags}});
    if (!r) return tl::unexpected(r.error());
    return wait_running(a.name);
  }

  static json processing_json(const InputSpec& in) {
    return {{"InputLambdaProcessor", {{"ResourceARN", in.preprocessor}, {"RoleARN", kRole}}}};
  }

  static json reference_json(const ReferenceSpec& r) {
    return {{"TableName", r.table},
            {"S3ReferenceDataSource",
             {{"BucketARN", "arn:aws:s3:::" + r.bucket}, {"FileKey", r.key}, {"ReferenceRoleARN", kRole}}},
            {"ReferenceSchema", r.schema}};
  }

  Status add_reference(const std::string& app, const ReferenceSpec& ref) {
    auto v = version_of(app);
    if (!v) return tl::unexpected(v.error());
    auto r = s_.analytics(
        "AddApplicationReferenceDataSource",
        {{"ApplicationName", app}, {"CurrentApplicationVersionId", *v}, {"ReferenceDataSource", reference_json(ref)}});
    if (!r) return tl::unexpected(r.error());
    return {};
  }

  // KDA v2's ParallelismConfiguration (eddy's v1 API takes it too).
  static json parallelism_json(int n) { return {{"ConfigurationType", "CUSTOM"}, {"Parallelism", n}}; }

  Status create_app(const ApplicationSpec& a) {
    if (a.job) return deploy_job(a);
    json body = {{"ApplicationName", a.name}, {"ApplicationCode", a.code}};
    if (!a.description.empty()) body["ApplicationDescription"] = a.description;
    if (a.parallelism > 0) body["ParallelismConfiguration"] = parallelism_json(a.parallelism);
    if (a.input) {
      body["Inputs"] = json::array(
          {{{"NamePrefix", a.input->name_prefix},
            {"KinesisStreamsInput", {{"ResourceARN", stream_arn(s_.region(), a.input->stream)}, {"RoleARN", kRole}}},
            {"InputParallelism", {{"Count", a.input->parallelism}}},
            {"InputSchema", a.input->schema}}});
      if (!a.input->preprocessor.empty()) body["Inputs"][0]["InputProcessingConfiguration"] = processing_json(*a.input);
    }
    json outputs = json::array();
    for (const auto& o : a.outputs) outputs.push_back(output_json(o));
    if (!outputs.empty()) body["Outputs"] = outputs;
    if (!desired_.pipeline_name.empty())
      body["Tags"] = json::array({{{"Key", kPipelineTag}, {"Value", desired_.pipeline_name}}});
    // The code may join the reference table: it is compiled once the table is there.
    if (!a.references.empty()) body["ApplicationCode"] = "";
    if (auto r = s_.analytics("CreateApplication", body); !r) return tl::unexpected(r.error());
    for (const auto& ref : a.references) {
      if (auto st = add_reference(a.name, ref); !st) return st;
    }
    if (!a.references.empty()) {
      auto v = version_of(a.name);
      if (!v) return tl::unexpected(v.error());
      auto r = s_.analytics("UpdateApplication", {{"ApplicationName", a.name},
                                                  {"CurrentApplicationVersionId", *v},
                                                  {"ApplicationUpdate", {{"ApplicationCodeUpdate", a.code}}}});
      if (!r) return tl::unexpected(r.error());
    }
    return start_app(a.name, a.starting_position);
  }

  Status delete_app(const std::string& name) {
    auto d = describe_app(name);
    if (!d) return is_not_found(d.error()) ? Status{} : tl::unexpected(d.error());
    auto r =
        s_.analytics("DeleteApplication", {{"ApplicationName", name}, {"CreateTimestamp", (*d)["CreateTimestamp"]}});
    if (!r && !is_not_found(r.error())) return tl::unexpected(r.error());
    return {};
  }

  Result<int64_t> version_of(const std::string& name) {
    auto d = describe_app(name);
    if (!d) return tl::unexpected(d.error());
    return d->value("ApplicationVersionId", int64_t{1});
  }

  Status update_app(const ApplicationSpec& want, const LiveApplication& have) {
    const ApplicationDiff diff = diff_application(want, have);
    if (want.job) {
      if (diff.redeploy) return deploy_job(want);
      return diff.start ? start_app(want.name, "LAST_STOPPED_POINT") : Status{};
    }
    // 1. outputs that go away (or are re-added with another kind of destination)
    for (const auto& name : diff.outputs_removed) {
      auto v = version_of(want.name);
      if (!v) return tl::unexpected(v.error());
      auto r = s_.analytics("DeleteApplicationOutput", {{"ApplicationName", want.name},
                                                        {"CurrentApplicationVersionId", *v},
                                                        {"OutputId", have.output_ids.at(name)}});
      if (!r) return tl::unexpected(r.error());
    }
    // 2. reference tables that are new (the new code may join them) and a new preprocessor
    for (const auto& table : diff.references_added) {
      for (const auto& ref : want.references) {
        if (ref.table != table) continue;
        if (auto st = add_reference(want.name, ref); !st) return st;
      }
    }
    if (diff.preprocessor && want.input && have.spec.input) {
      const bool had = !have.spec.input->preprocessor.empty(), wants = !want.input->preprocessor.empty();
      if (had != wants) {
        auto v = version_of(want.name);
        if (!v) return tl::unexpected(v.error());
        json body = {{"ApplicationName", want.name}, {"CurrentApplicationVersionId", *v}, {"InputId", have.input_id}};
        if (wants) body["InputProcessingConfiguration"] = processing_json(*want.input);
        auto r = s_.analytics(
            wants ? "AddApplicationInputProcessingConfiguration" : "DeleteApplicationInputProcessingConfiguration",
            body);
        if (!r) return tl::unexpected(r.error());
      }
    }
    // 3. code, description, input, reference tables and outputs updated in place: one UpdateApplication
    json update = json::object();
    if (!diff.references_changed.empty()) {
      json updates = json::array();
      for (const auto& table : diff.references_changed) {
        for (const auto& ref : want.references) {
          if (ref.table != table) continue;
          const json r = reference_json(ref);
          updates.push_back(
              {{"ReferenceId", have.reference_ids.at(table)},
               {"S3ReferenceDataSourceUpdate",
                {{"BucketARNUpdate", r["S3ReferenceDataSource"]["BucketARN"]}, {"FileKeyUpdate", ref.key}}},
               {"ReferenceSchemaUpdate", ref.schema}});
        }
      }
      update["ReferenceDataSourceUpdates"] = updates;
    }
    if (diff.code) update["ApplicationCodeUpdate"] = want.code;
    if (diff.parallelism) {
      update["ParallelismConfigurationUpdate"] = {
          {"ConfigurationTypeUpdate", want.parallelism > 0 ? "CUSTOM" : "DEFAULT"}};
      if (want.parallelism > 0) update["ParallelismConfigurationUpdate"]["ParallelismUpdate"] = want.parallelism;
    }
    if (diff.input) {
      update["InputUpdates"] = json::array(
          {{{"InputId", have.input_id},
            {"NamePrefixUpdate", want.input->name_prefix},
            {"KinesisStreamsInputUpdate", {{"ResourceARNUpdate", stream_arn(s_.region(), want.input->stream)}}},
            {"InputSchemaUpdate",
             {{"RecordFormatUpdate", want.input->schema.value("RecordFormat", json::object())},
              {"RecordEncodingUpdate", want.input->schema.value("RecordEncoding", "UTF-8")},
              {"RecordColumnUpdates", want.input->schema.value("RecordColumns", json::array())}}},
            {"InputParallelismUpdate", {{"CountUpdate", want.input->parallelism}}}}});
    }
    if (diff.preprocessor && want.input && have.spec.input && !want.input->preprocessor.empty() &&
        !have.spec.input->preprocessor.empty()) {
      if (!update.contains("InputUpdates")) update["InputUpdates"] = json::array({{{"InputId", have.input_id}}});
      update["InputUpdates"][0]["InputProcessingConfigurationUpdate"] = {
          {"InputLambdaProcessorUpdate", {{"ResourceARNUpdate", want.input->preprocessor}}}};
    }
    if (!diff.outputs_changed.empty()) {
      json updates = json::array();
      for (const auto& name : diff.outputs_changed) {
        for (const auto& o : want.outputs) {
          if (o.name != name) continue;
          updates.push_back(
              {{"OutputId", have.output_ids.at(name)},
               {"DestinationSchemaUpdate", {{"RecordFormatType", o.format}}},
               {"KinesisStreamsOutputUpdate", {{"ResourceARNUpdate", stream_arn(s_.region(), o.stream)}}}});
        }
      }
      update["OutputUpdates"] = updates;
    }
    if (!update.empty()) {
      auto v = version_of(want.name);
      if (!v) return tl::unexpected(v.error());
      auto before = state_notes(want.name);
      auto r = s_.analytics(
          "UpdateApplication",
          {{"ApplicationName", want.name}, {"CurrentApplicationVersionId", *v}, {"ApplicationUpdate", update}});
      if (!r) return tl::unexpected(r.error());
      for (const auto& note : state_notes(want.name)) {
        if (auto it = before.find(note); it != before.end()) {
          before.erase(it);
        } else {
          warnings_.push_back("application " + want.name + ": " + note);
        }
      }
    }
    // 4. reference tables the code no longer joins
    for (const auto& table : diff.references_removed) {
      auto v = version_of(want.name);
      if (!v) return tl::unexpected(v.error());
      auto r = s_.analytics("DeleteApplicationReferenceDataSource", {{"ApplicationName", want.name},
                                                                     {"CurrentApplicationVersionId", *v},
                                                                     {"ReferenceId", have.reference_ids.at(table)}});
      if (!r) return tl::unexpected(r.error());
    }
    // 5. new outputs
    for (const auto& name : diff.outputs_added) {
      for (const auto& o : want.outputs) {
        if (o.name != name) continue;
        auto v = version_of(want.name);
        if (!v) return tl::unexpected(v.error());
        auto r = s_.analytics(
            "AddApplicationOutput",
            {{"ApplicationName", want.name}, {"CurrentApplicationVersionId", *v}, {"Output", output_json(o)}});
        if (!r) return tl::unexpected(r.error());
      }
    }
    // 6. running, continuing where it stopped
    if (diff.start) return start_app(want.name, "LAST_STOPPED_POINT");
    return {};
  }

  Status application(const Change& c) {
    const ApplicationSpec* want = find(desired_.applications, c.name);
    switch (c.action) {
      case Action::kCreate:
        return create_app(*want);
      case Action::kReplace:
        if (auto st = delete_app(c.name); !st) return st;
        return create_app(*want);
      case Action::kDelete:
        return delete_app(c.name);
      case Action::kUpdate:
      case Action::kStart:
        return update_app(*want, live_.applications.at(c.name));
    }
    return {};
  }

  // The State_Not_Restored rows of `name` that were not there before the update.
  std::multiset<std::string> state_notes(const std::string& name) {
    std::multiset<std::string> notes;
    auto rows = s_.application_errors(name);
    if (!rows || !rows->is_array()) return notes;
    for (const auto& row : *rows) {
      if (row.value("ERROR_NAME", "") == "State_Not_Restored") notes.insert(row.value("MESSAGE", ""));
    }
    return notes;
  }

  Server& s_;
  const DesiredState& desired_;
  const LiveState& live_;
  std::vector<std::string>& warnings_;
};

}  // namespace

Status write_files(const DesiredState& desired) {
  for (const auto& [path, content] : desired.files) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) return make_error(Errc::kIo, "cannot create the directory of " + path + ": " + ec.message());
    if (auto st = write_file_atomic(path, content); !st) return st;
  }
  return {};
}

std::string ExecutionReport::summary() const {
  std::string out;
  if (ok()) return out;
  out += "failed: " + failed + "\n  " + error + "\n";
  out += done.empty() ? "done: nothing (the server is unchanged)\n" : "done (these changes were made):\n";
  for (const auto& d : done) out += "  " + d + "\n";
  out += not_done.empty() ? "not done: nothing else\n" : "not done (these changes were not attempted):\n";
  for (const auto& n : not_done) out += "  " + n + "\n";
  return out;
}

ExecutionReport execute(Server& server, const Plan& plan, const DesiredState& desired, const LiveState& live,
                        const std::function<void(const std::string&)>& progress) {
  ExecutionReport report;
  Executor ex(server, desired, live, report.warnings);
  for (size_t i = 0; i < plan.changes.size(); ++i) {
    const Change& c = plan.changes[i];
    auto st = ex.run(c);
    if (!st) {
      report.failed = c.text();
      report.error = st.error().message;
      for (size_t j = i + 1; j < plan.changes.size(); ++j) report.not_done.push_back(plan.changes[j].text());
      return report;
    }
    report.done.push_back(c.text());
    progress(c.text());
  }
  return report;
}

}  // namespace eddy::pipeline
