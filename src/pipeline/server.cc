#include "pipeline/server.h"

#include <set>

#include "api/job_deploy_client.h"
#include "pipeline/validate.h"

namespace eddy::pipeline {
namespace {

using nlohmann::json;

Result<json> call(api::ApiClient& c, const std::string& target, const json& body) {
  auto r = c.call(target, body.dump());
  if (!r) return tl::unexpected(r.error());
  try {
    return r->empty() ? json::object() : json::parse(*r);
  } catch (const std::exception& e) {
    return make_error(Errc::kSerialization, "the server's answer to " + target + " is not JSON: " + e.what());
  }
}

LiveStream live_stream(const json& d) {
  LiveStream s;
  s.spec.name = d.at("StreamName").get<std::string>();
  s.spec.shards = d.value("OpenShardCount", 0);
  s.spec.on_demand = d.value("StreamModeDetails", json::object()).value("StreamMode", "PROVISIONED") == "ON_DEMAND";
  s.spec.retention_hours = d.value("RetentionPeriodHours", 24);
  s.status = d.value("StreamStatus", "");
  return s;
}

LiveApplication live_application(const json& d) {
  LiveApplication a;
  a.spec.name = d.at("ApplicationName").get<std::string>();
  a.spec.description = d.value("ApplicationDescription", "");
  a.spec.code = d.value("ApplicationCode", "");
  a.status = d.value("ApplicationStatus", "");
  a.version = d.value("ApplicationVersionId", int64_t{0});
  a.create_timestamp = d.value("CreateTimestamp", json());
  const json pc = d.value("ParallelismConfigurationDescription", json::object());
  if (pc.value("ConfigurationType", "DEFAULT") == "CUSTOM") a.spec.parallelism = pc.value("Parallelism", 0);
  for (const auto& in : d.value("InputDescriptions", json::array())) {
    InputSpec i;
    i.stream = name_from_arn(in.value("KinesisStreamsInputDescription", json::object()).value("ResourceARN", ""));
    i.name_prefix = in.value("NamePrefix", "");
    i.schema = in.value("InputSchema", json::object());
    i.parallelism = in.value("InputParallelism", json::object()).value("Count", 1);
    i.preprocessor = in.value("InputProcessingConfigurationDescription", json::object())
                         .value("InputLambdaProcessorDescription", json::object())
                         .value("ResourceARN", "");
    a.input_id = in.value("InputId", "");
    a.spec.input = std::move(i);
    break;  // eddy applications have at most one input
  }
  for (const auto& r : d.value("ReferenceDataSourceDescriptions", json::array())) {
    ReferenceSpec ref;
    ref.table = r.value("TableName", "");
    const json s3 = r.value("S3ReferenceDataSourceDescription", json::object());
    ref.bucket = name_from_arn(s3.value("BucketARN", ""));
    ref.key = s3.value("FileKey", "");
    ref.schema = r.value("ReferenceSchema", json::object());
    a.reference_ids[ref.table] = r.value("ReferenceId", "");
    a.spec.references.push_back(std::move(ref));
  }
  for (const auto& o : d.value("OutputDescriptions", json::array())) {
    OutputSpec out;
    out.name = o.value("Name", "");
    if (o.contains("KinesisStreamsOutputDescription"))
      out.stream = name_from_arn(o["KinesisStreamsOutputDescription"].value("ResourceARN", ""));
    if (o.contains("KinesisFirehoseOutputDescription")) {
      out.delivery_stream = name_from_arn(o["KinesisFirehoseOutputDescription"].value("ResourceARN", ""));
    }
    out.format = o.value("DestinationSchema", json::object()).value("RecordFormatType", "JSON");
    a.output_ids[out.name] = o.value("OutputId", "");
    a.spec.outputs.push_back(std::move(out));
  }
  return a;
}

LiveDelivery live_delivery(const json& d) {
  LiveDelivery l;
  l.spec.name = d.at("DeliveryStreamName").get<std::string>();
  l.status = d.value("DeliveryStreamStatus", "");
  l.version_id = d.value("VersionId", "1");
  if (d.contains("Source")) {
    l.spec.source_stream = name_from_arn(
        d["Source"].value("KinesisStreamSourceDescription", json::object()).value("KinesisStreamARN", ""));
  }
  for (const auto& dest : d.value("Destinations", json::array())) {
    l.destination_id = dest.value("DestinationId", "");
    if (dest.contains("ExtendedS3DestinationDescription")) {
      l.spec.destination_kind = "ExtendedS3";
      l.spec.destination = dest["ExtendedS3DestinationDescription"];
    } else if (dest.contains("HttpEndpointDestinationDescription")) {
      l.spec.destination_kind = "HttpEndpoint";
      json h = dest["HttpEndpointDestinationDescription"];
      if (h.contains("S3DestinationDescription")) h["S3Configuration"] = h["S3DestinationDescription"];
      l.spec.destination = std::move(h);
    }
    break;
  }
  return l;
}

// Whether a tag list ([{Key, Value}] or {key: value}) marks the resource as the pipeline's.
bool tagged(const json& tags, const std::string& pipeline) {
  if (tags.is_object()) return tags.value(kPipelineTag, "") == pipeline;
  for (const auto& t : tags) {
    if (t.value("Key", "") == kPipelineTag && t.value("Value", "") == pipeline) return true;
  }
  return false;
}

// The names of every resource tagged with the pipeline's name.
Status read_owned(Server& server, const std::string& pipeline, LiveState& live) {
  json body = json::object();
  for (int page = 0; page < 1000; ++page) {
    auto r = server.kinesis("ListStreams", body);
    if (!r) return tl::unexpected(r.error());
    for (const auto& name : r->value("StreamNames", json::array())) {
      auto tags = server.kinesis("ListTagsForStream", {{"StreamName", name}});
      if (tags && tagged(tags->value("Tags", json::array()), pipeline))
        live.owned_streams.insert(name.get<std::string>());
    }
    if (!r->value("HasMoreStreams", false) || r->value("StreamNames", json::array()).empty()) break;
    body = {{"ExclusiveStartStreamName", r->value("StreamNames", json::array()).back()}};
  }
  body = json::object();
  for (int page = 0; page < 1000; ++page) {
    auto r = server.analytics("ListApplications", body);
    if (!r) return tl::unexpected(r.error());
    const json apps = r->value("ApplicationSummaries", json::array());
    for (const auto& a : apps) {
      auto tags = server.analytics("ListTagsForResource", {{"ResourceARN", a.value("ApplicationARN", "")}});
      if (tags && tagged(tags->value("Tags", json::array()), pipeline))
        live.owned_applications.insert(a.value("ApplicationName", ""));
    }
    if (!r->value("HasMoreApplications", false) || apps.empty()) break;
    body = {{"ExclusiveStartApplicationName", apps.back().value("ApplicationName", "")}};
  }
  body = json::object();
  for (int page = 0; page < 1000; ++page) {
    auto r = server.firehose("ListDeliveryStreams", body);
    if (!r) return tl::unexpected(r.error());
    const json names = r->value("DeliveryStreamNames", json::array());
    for (const auto& name : names) {
      auto tags = server.firehose("ListTagsForDeliveryStream", {{"DeliveryStreamName", name}});
      if (tags && tagged(tags->value("Tags", json::array()), pipeline))
        live.owned_deliveries.insert(name.get<std::string>());
    }
    if (!r->value("HasMoreDeliveryStreams", false) || names.empty()) break;
    body = {{"ExclusiveStartDeliveryStreamName", names.back()}};
  }
  return {};
}

}  // namespace

Server::Server(api::Endpoint endpoint, std::string region, std::optional<aws::AwsCredentials> credentials)
    : region_(std::move(region)) {
  const auto creds = credentials ? *credentials : api::credentials_from_environment();
  kinesis_ = std::make_unique<api::ApiClient>(endpoint, creds, region_, "kinesis");
  analytics_ = std::make_unique<api::ApiClient>(endpoint, creds, region_, "kinesisanalytics");
  firehose_ = std::make_unique<api::ApiClient>(endpoint, creds, region_, "firehose");
}

Server::~Server() = default;

Result<json> Server::kinesis(const std::string& op, const json& body) {
  return call(*kinesis_, "Kinesis_20131202." + op, body);
}
Result<json> Server::analytics(const std::string& op, const json& body) {
  return call(*analytics_, "KinesisAnalytics_20150814." + op, body);
}
Result<json> Server::firehose(const std::string& op, const json& body) {
  return call(*firehose_, "Firehose_20150804." + op, body);
}

Result<json> Server::deploy_job(const std::string& name, const std::string& library, const json& property_groups,
                                int parallelism) {
  auto detail = api::deploy_job_library(*analytics_, name, library, property_groups, parallelism);
  if (!detail)
    return make_error(Errc::kInvalidArgument, "deploy of job " + name + " refused: " + detail.error().message);
  return detail;
}

Result<json> Server::application_errors(const std::string& name) {
  auto r = analytics_->get("/eddy/v1/applications/" + name + "/errors");
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return json::array();
  try {
    return json::parse(r->body);
  } catch (const std::exception& e) {
    return make_error(Errc::kSerialization, std::string("the server's error rows are not JSON: ") + e.what());
  }
}

bool is_not_found(const Error& e) {
  return e.code == Errc::kResourceNotFound;  // the AWS error type, as the client maps it
}

Result<LiveState> read_live_state(Server& server, const DesiredState& desired) {
  std::set<std::string> streams, apps, deliveries;
  for (const auto& s : desired.streams) streams.insert(s.name);
  for (const auto& d : desired.deliveries) {
    deliveries.insert(d.name);
    if (!d.source_stream.empty()) streams.insert(d.source_stream);
    const std::string url = d.destination.value("EndpointConfiguration", json::object()).value("Url", "");
    if (url.starts_with("stream:")) streams.insert(url.substr(7));
  }
  for (const auto& a : desired.applications) {
    apps.insert(a.name);
    if (a.input) streams.insert(a.input->stream);
    for (const auto& target : application_targets(a)) {
      (target.starts_with("stream:") ? streams : deliveries).insert(target.substr(target.find(':') + 1));
    }
    for (const auto& o : a.outputs) {
      if (!o.stream.empty()) streams.insert(o.stream);
      if (!o.delivery_stream.empty()) deliveries.insert(o.delivery_stream);
    }
  }
  LiveState live;
  if (!desired.pipeline_name.empty()) {
    if (auto st = read_owned(server, desired.pipeline_name, live); !st) return tl::unexpected(st.error());
    streams.insert(live.owned_streams.begin(), live.owned_streams.end());
    apps.insert(live.owned_applications.begin(), live.owned_applications.end());
    deliveries.insert(live.owned_deliveries.begin(), live.owned_deliveries.end());
  }
  for (const auto& name : streams) {
    auto r = server.kinesis("DescribeStreamSummary", {{"StreamName", name}});
    if (!r) {
      if (is_not_found(r.error())) continue;
      return tl::unexpected(r.error());
    }
    live.streams[name] = live_stream((*r)["StreamDescriptionSummary"]);
  }
  for (const auto& name : deliveries) {
    auto r = server.firehose("DescribeDeliveryStream", {{"DeliveryStreamName", name}});
    if (!r) {
      if (is_not_found(r.error())) continue;
      return tl::unexpected(r.error());
    }
    live.deliveries[name] = live_delivery((*r)["DeliveryStreamDescription"]);
  }
  for (const auto& name : apps) {
    auto r = server.analytics("DescribeApplication", {{"ApplicationName", name}});
    if (!r) {
      if (is_not_found(r.error())) continue;
      return tl::unexpected(r.error());
    }
    LiveApplication a = live_application((*r)["ApplicationDetail"]);
    // A C++ job: DescribeApplication shows no code; the digest of what was deployed is in a tag.
    if (a.spec.code.empty() && !a.spec.input && a.spec.description == "C++ job") {
      a.is_job = true;
      auto tags = server.analytics("ListTagsForResource",
                                   {{"ResourceARN", (*r)["ApplicationDetail"].value("ApplicationARN", "")}});
      for (const auto& t : tags ? tags->value("Tags", json::array()) : json::array()) {
        if (t.value("Key", "") == kJobTag) a.spec.job = JobSpec{"", json::array(), t.value("Value", "")};
      }
    }
    live.applications[name] = std::move(a);
  }
  return live;
}

json comparable_destination(const std::string& kind, const json& d) {
  json c = json::object();
  const json hints = d.value("BufferingHints", json::object());
  c["BufferingHints"] = {{"SizeInMBs", hints.value("SizeInMBs", 5)},
                         {"IntervalInSeconds", hints.value("IntervalInSeconds", kind == "ExtendedS3" ? 300 : 60)}};
  json processing = d.value("ProcessingConfiguration", json::object());
  if (processing.value("Enabled", false) && !processing.value("Processors", json::array()).empty()) {
    c["ProcessingConfiguration"] = processing;
  }
  if (kind == "ExtendedS3") {
    c["BucketARN"] = d.value("BucketARN", "");
    c["Prefix"] = d.value("Prefix", "");
    c["ErrorOutputPrefix"] = d.value("ErrorOutputPrefix", "");
    c["CompressionFormat"] = d.value("CompressionFormat", "UNCOMPRESSED");
    if (d.value("DynamicPartitioningConfiguration", json::object()).value("Enabled", false)) {
      c["DynamicPartitioningConfiguration"] = d["DynamicPartitioningConfiguration"];
    }
  } else {
    const json e = d.value("EndpointConfiguration", json::object());
    std::string url = e.value("Url", "");
    if (url.starts_with("arn:aws:kinesis:")) url = "stream:" + name_from_arn(url);
    c["Url"] = url;
    c["Name"] = e.value("Name", "");
    c["RetryOptions"] = d.value("RetryOptions", json{{"DurationInSeconds", 300}}).value("DurationInSeconds", 300);
    c["BackupBucketARN"] = d.value("S3Configuration", json::object()).value("BucketARN", "");
  }
  return c;
}

}  // namespace eddy::pipeline
