#include "api/firehose_api.h"

#include <nlohmann/json.hpp>

#include "api/aws_errors.h"
#include "api/json_reply.h"
#include "api/writer.h"

namespace eddy::api {
namespace {

using nlohmann::json;

constexpr size_t kMaxBatchBytes = 4u << 20;

class Call : private JsonReply {
 public:
  Call(delivery::DeliveryHost& host, log::GroupCommitter& committer, const Value& in, Protocol protocol,
       Respond respond)
      : JsonReply(protocol, std::move(respond)), host_(host), committer_(committer), in_(in) {}

  void run(std::string_view op) {
    if (!name().empty()) host_.learn(name(), !op.starts_with("PutRecord"));
    if (op == "PutRecordBatch") return put_batch();
    if (op == "PutRecord") return put_one();
    if (op == "CreateDeliveryStream") return create();
    if (op == "DescribeDeliveryStream") return describe();
    if (op == "ListDeliveryStreams") return list();
    if (op == "DeleteDeliveryStream") return status(host_.remove(name()));
    if (op == "UpdateDestination") return update();
    if (op == "ListTagsForDeliveryStream") return list_tags();
    fail({Errc::kInvalidArgument, std::string(op) + " is not supported by eddy yet"});
  }

 private:
  std::string name() const { return in_.get("DeliveryStreamName") ? in_.get("DeliveryStreamName")->text : ""; }

  // Answers once the journaled records are as durable as --fsync promises.
  void commit_then(std::shared_ptr<log::ShardStorage> journal, json body) {
    auto shared = std::make_shared<json>(std::move(body));
    committer_.commit({journal}, [respond = respond_, shared, protocol = protocol_](Status st) {
      if (!st) return respond(error_response(st.error(), protocol));
      auto w = make_writer(protocol);
      write_json(*w, *shared);
      HttpResponse r;
      r.content_type = content_type_for(protocol);
      r.body = std::move(w->buffer());
      respond(std::move(r));
    });
  }

  void put_one() {
    const Value* data = in_.get("Record")->get("Data");
    auto r = host_.put(name(), {std::string_view(data->text)});
    if (!r) return fail(r.error());
    commit_then(r->journal, {{"RecordId", r->record_ids[0]}, {"Encrypted", false}});
  }

  void put_batch() {
    std::vector<std::string_view> records;
    size_t total = 0;
    for (const auto& rec : in_.get("Records")->items) {
      const Value* data = rec.get("Data");
      if (!data)
        return fail({Errc::kValidation,
                     "1 validation error detected: Value null at 'records.member.data' failed to satisfy constraint: "
                     "Member must not be null"});
      total += data->text.size();
      records.emplace_back(data->text);
    }
    if (total > kMaxBatchBytes) {
      return fail({Errc::kInvalidArgument,
                   "Records size exceeds 4 MiB limit for PutRecordBatch: " + std::to_string(total) + " bytes"});
    }
    auto r = host_.put(name(), records);
    if (!r) return fail(r.error());
    json responses = json::array();
    for (const auto& id : r->record_ids) responses.push_back({{"RecordId", id}});
    commit_then(r->journal, {{"FailedPutCount", 0}, {"Encrypted", false}, {"RequestResponses", responses}});
  }

  void create() {
    auto r = host_.create(to_json(in_));
    if (!r) return fail(r.error());
    ok({{"DeliveryStreamARN", host_.arn(name())}});
  }

  void describe() {
    auto s = host_.describe(name());
    if (!s) return fail(s.error());
    const auto& c = s->config;
    if (c.contains("HttpEndpointDestinationConfiguration")) return describe_http(*s);
    json dest = c["ExtendedS3DestinationConfiguration"];
    if (!dest.contains("BufferingHints")) dest["BufferingHints"] = json::object();
    dest["BufferingHints"]["SizeInMBs"] = dest["BufferingHints"].value("SizeInMBs", 5);
    dest["BufferingHints"]["IntervalInSeconds"] = dest["BufferingHints"].value("IntervalInSeconds", 300);
    dest["CompressionFormat"] = dest.value("CompressionFormat", "UNCOMPRESSED");
    dest["EncryptionConfiguration"] =
        dest.value("EncryptionConfiguration", json{{"NoEncryptionConfig", "NoEncryption"}});
    dest["S3BackupMode"] = dest.value("S3BackupMode", "Disabled");
    json d = {
        {"DeliveryStreamName", name()},
        {"DeliveryStreamARN", host_.arn(name())},
        {"DeliveryStreamStatus", s->status},
        {"DeliveryStreamType", c.value("DeliveryStreamType", "DirectPut")},
        {"VersionId", std::to_string(s->version)},
        {"CreateTimestamp", s->created_ms},
        {"LastUpdateTimestamp", s->updated_ms},
        {"Destinations",
         json::array({{{"DestinationId", "destinationId-000000000001"}, {"ExtendedS3DestinationDescription", dest}}})},
        {"HasMoreDestinations", false}};
    if (c.contains("KinesisStreamSourceConfiguration")) {
      d["Source"] = {{"KinesisStreamSourceDescription", c["KinesisStreamSourceConfiguration"]}};
    }
    ok({{"DeliveryStreamDescription", d}});
  }

  void describe_http(const delivery::DeliveryStream& s) {
    const auto& c = s.config;
    json h = c["HttpEndpointDestinationConfiguration"];
    json d = h;
    d.erase("S3Configuration");
    if (d.contains("EndpointConfiguration")) d["EndpointConfiguration"].erase("AccessKey");  // never described
    if (!d.contains("BufferingHints")) d["BufferingHints"] = json::object();
    d["BufferingHints"]["SizeInMBs"] = d["BufferingHints"].value("SizeInMBs", 5);
    d["BufferingHints"]["IntervalInSeconds"] = d["BufferingHints"].value("IntervalInSeconds", 60);
    d["S3BackupMode"] = d.value("S3BackupMode", "FailedDataOnly");
    json backup = h.value("S3Configuration", json::object());
    backup["BufferingHints"] = backup.value("BufferingHints", json{{"SizeInMBs", 5}, {"IntervalInSeconds", 300}});
    backup["CompressionFormat"] = backup.value("CompressionFormat", "UNCOMPRESSED");
    backup["EncryptionConfiguration"] = json{{"NoEncryptionConfig", "NoEncryption"}};
    d["S3DestinationDescription"] = backup;
    json out = {
        {"DeliveryStreamName", name()},
        {"DeliveryStreamARN", host_.arn(name())},
        {"DeliveryStreamStatus", s.status},
        {"DeliveryStreamType", c.value("DeliveryStreamType", "DirectPut")},
        {"VersionId", std::to_string(s.version)},
        {"CreateTimestamp", s.created_ms},
        {"LastUpdateTimestamp", s.updated_ms},
        {"Destinations",
         json::array({{{"DestinationId", "destinationId-000000000001"}, {"HttpEndpointDestinationDescription", d}}})},
        {"HasMoreDestinations", false}};
    if (c.contains("KinesisStreamSourceConfiguration"))
      out["Source"] = {{"KinesisStreamSourceDescription", c["KinesisStreamSourceConfiguration"]}};
    ok({{"DeliveryStreamDescription", out}});
  }

  void list() {
    const size_t limit = in_.get("Limit") ? static_cast<size_t>(in_.get("Limit")->integer) : 10;
    const std::string after =
        in_.get("ExclusiveStartDeliveryStreamName") ? in_.get("ExclusiveStartDeliveryStreamName")->text : "";
    const std::string type = in_.get("DeliveryStreamType") ? in_.get("DeliveryStreamType")->text : "";
    json names = json::array();
    bool more = false;
    for (const auto& s : host_.list()) {
      const auto n = s.config.at("DeliveryStreamName").get<std::string>();
      if (!after.empty() && n <= after) continue;
      if (!type.empty() && s.config.value("DeliveryStreamType", "DirectPut") != type) continue;
      if (names.size() == limit) {
        more = true;
        break;
      }
      names.push_back(n);
    }
    ok({{"DeliveryStreamNames", names}, {"HasMoreDeliveryStreams", more}});
  }

  // The Tags given to CreateDeliveryStream (eddy has no TagDeliveryStream yet).
  void list_tags() {
    auto s = host_.describe(name());
    if (!s) return fail(s.error());
    ok({{"Tags", s->config.value("Tags", json::array())}, {"HasMoreTags", false}});
  }

  void update() {
    const std::string version_text = in_.get("CurrentDeliveryStreamVersionId")->text;
    int64_t version = 0;
    try {
      version = std::stoll(version_text);
    } catch (const std::exception&) {
      return fail({Errc::kInvalidArgument, "CurrentDeliveryStreamVersionId " + version_text + " is not a version id"});
    }
    std::string kind = "ExtendedS3";
    const Value* u = in_.get("ExtendedS3DestinationUpdate");
    if (!u) u = in_.get("S3DestinationUpdate");
    if (!u && (u = in_.get("HttpEndpointDestinationUpdate"))) kind = "HttpEndpoint";
    if (!u) {
      return fail({Errc::kInvalidArgument,
                   "eddy updates ExtendedS3DestinationUpdate, S3DestinationUpdate or HttpEndpointDestinationUpdate "
                   "destinations"});
    }
    status(host_.update_destination(name(), version, kind, to_json(*u)));
  }

  delivery::DeliveryHost& host_;
  log::GroupCommitter& committer_;
  const Value& in_;
};

}  // namespace

void FirehoseApi::handle(std::string_view op, const Value& input, Protocol protocol, Respond respond) {
  Call call(host_, committer_, input, protocol, std::move(respond));
  call.run(op);
}

}  // namespace eddy::api
