// Kinesis Data Analytics' Lambda preprocessing (dev/lambda-preprocessing), through the same
// functions as Firehose's transforms: the event KDA sends and the answer it checks.
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_limits.h"
#include "delivery/lambda_transform.h"

namespace eddy::delivery {

Result<std::vector<TransformOutcome>> LambdaTransform::invoke_analytics(const std::string& application_arn,
                                                                        const std::string& stream_arn,
                                                                        const std::vector<TransformInput>& records,
                                                                        const std::atomic<bool>* cancel) const {
  std::vector<TransformOutcome> out;
  out.reserve(records.size());
  size_t start = 0;
  while (start < records.size()) {
    size_t end = start, bytes = 0;
    while (end < records.size() && (end == start || bytes + records[end].data.size() <= buffer_bytes_))
      bytes += records[end++].data.size();
    auto part = analytics_once(application_arn, stream_arn, std::span(records).subspan(start, end - start), cancel);
    if (!part) return tl::unexpected(part.error());
    std::move(part->begin(), part->end(), std::back_inserter(out));
    start = end;
  }
  return out;
}

Result<std::vector<TransformOutcome>> LambdaTransform::analytics_once(const std::string& application_arn,
                                                                      const std::string& stream_arn,
                                                                      std::span<const TransformInput> records,
                                                                      const std::atomic<bool>* cancel) const {
  nlohmann::json event = {{"invocationId", to_hex(md5(application_arn + std::to_string(records.size()) +
                                                      (records.empty() ? "" : records.front().record_id)))},
                          {"applicationArn", application_arn},
                          {"streamArn", stream_arn},
                          {"records", nlohmann::json::array()}};
  for (const auto& r : records) {
    event["records"].push_back({{"recordId", r.record_id},
                                {"kinesisStreamRecordMetadata",
                                 {{"sequenceNumber", r.sequence_number},
                                  {"partitionKey", r.partition_key},
                                  {"shardId", r.shard_id},
                                  {"approximateArrivalTimestamp", r.arrival_ms}}},
                                {"data", base64_encode(r.data)}});
  }
  auto answer = call(event.dump(), cancel);
  if (!answer) return tl::unexpected(answer.error());
  auto wrong = [](const std::string& why) {
    return make_error(Errc::kInvalidArgument,
                      "the function's answer does not follow the preprocessing contract: " + why);
  };
  if (!json_nesting_within(*answer)) return wrong("it nests too deeply");
  const auto j = nlohmann::json::parse(*answer, nullptr, false);
  if (!j.is_object() || !j.contains("records") || !j["records"].is_array()) return wrong("no records array");
  std::map<std::string, TransformOutcome> by_id;
  for (const auto& o : j["records"]) {
    if (!o.is_object() || !o.contains("recordId") || !o["recordId"].is_string() || !o.contains("result") ||
        !o["result"].is_string()) {
      return wrong("each record needs recordId and result");
    }
    TransformOutcome outcome;
    const auto result = o["result"].get<std::string>();
    if (result == "Ok") {
      outcome.result = TransformOutcome::Result::kOk;
      if (!o.contains("data") || !o["data"].is_string()) return wrong("an Ok record needs data");
      auto data = base64_decode(o["data"].get<std::string>());
      if (!data) return wrong("the data of record " + o["recordId"].get<std::string>() + " is not base64");
      outcome.data = std::move(*data);
    } else if (result == "Dropped") {
      outcome.result = TransformOutcome::Result::kDropped;
    } else if (result == "ProcessingFailed") {
      outcome.result = TransformOutcome::Result::kFailed;
      outcome.error_message = "the preprocessing function answered ProcessingFailed";
    } else {
      return wrong("result '" + result.substr(0, 64) + "' is not Ok, Dropped or ProcessingFailed");
    }
    by_id[o["recordId"].get<std::string>()] = std::move(outcome);
  }
  std::vector<TransformOutcome> outcomes;
  outcomes.reserve(records.size());
  for (const auto& r : records) {
    auto it = by_id.find(r.record_id);
    if (it == by_id.end()) return wrong("record " + r.record_id + " is not answered");
    outcomes.push_back(std::move(it->second));
  }
  return outcomes;
}

}  // namespace eddy::delivery
