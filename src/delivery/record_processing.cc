#include "delivery/record_processing.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "delivery/gzip.h"
#include "delivery/prefix.h"
#include "stream/sequence_number.h"

namespace eddy::delivery {

using nlohmann::json;

namespace {
constexpr size_t kMaxPartitions = 500;  // Firehose's active partitions per delivery stream
}  // namespace

std::string RecordProcessing::error_line(const SourceRecord& r, const std::string& code,
                                         const std::string& message) const {
  json e = {{"attemptsMade", 1},
            {"arrivalTimestamp", r.arrival},
            {"errorCode", code},
            {"errorMessage", message},
            {"attemptEndingTimestamp", clock_.now_ms()},
            {"rawData", base64_encode(r.data)}};
  if (dest_.lambda) e["lambdaArn"] = dest_.lambda->arn();
  return e.dump() + "\n";
}

std::vector<ProcessedRecord> RecordProcessing::transform(const std::vector<SourceRecord>& recs,
                                                         std::string& errors) const {
  std::vector<ProcessedRecord> out;
  // A corrupt KPL aggregate goes to the failure output with the reason; the rest go on.
  std::vector<const SourceRecord*> good;
  good.reserve(recs.size());
  for (const auto& r : recs) {
    if (r.deaggregation_error.empty()) {
      good.push_back(&r);
    } else {
      errors +=
          error_line(r, "Kinesis.KPLDeaggregationFailed",
                     "The record is in the KPL's aggregated format but cannot be unpacked: " + r.deaggregation_error);
    }
  }
  if (!dest_.lambda) {
    out.reserve(good.size());
    for (const SourceRecord* r : good) out.push_back({r->data, {}, r->arrival, r});
    return out;
  }
  std::vector<TransformInput> inputs;
  for (const SourceRecord* r : good) {
    std::string id = std::to_string(r->shard) + "-" + std::to_string(r->offset);
    if (r->subsequence) id += "-" + std::to_string(*r->subsequence);
    TransformInput in{std::move(id), r->arrival, r->data, "", "", ""};
    if (!source_arn_.empty()) {
      char shard_id[32];
      std::snprintf(shard_id, sizeof shard_id, "shardId-%012u", r->shard);
      in.shard_id = shard_id;
      in.partition_key = r->partition_key;
      in.sequence_number = stream::encode_sequence_number(r->shard, r->offset);
      in.subsequence_number = r->subsequence.value_or(0);
    }
    inputs.push_back(std::move(in));
  }
  const auto outcomes = dest_.lambda->invoke(delivery_arn_, inputs, source_arn_);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    if (o.result == TransformOutcome::Result::kOk) {
      ProcessedRecord p{o.data, {}, good[i]->arrival, good[i]};
      for (const auto& [k, v] : o.partition_keys) p.keys["lambda:" + k] = v;
      out.push_back(std::move(p));
    } else if (o.result == TransformOutcome::Result::kFailed) {
      errors += error_line(*good[i], o.error_code, o.error_message);
    }
  }
  return out;
}

Partitions RecordProcessing::partition(std::vector<ProcessedRecord>& records, std::string& errors) const {
  Partitions partitions;
  for (auto& p : records) {
    if (dest_.query) {
      auto keys = extract_partition_keys(*dest_.query, p.data);
      if (!keys) {
        errors += error_line(*p.src, "DynamicPartitioning.MetadataExtractionFailed",
                             "The partition keys could not be extracted from the record");
        continue;
      }
      p.keys.insert(keys->begin(), keys->end());
    }
    if (auto st = check_prefix_forms_keys("the record's partition key values", dest_.prefix,
                                          longest_object_name(name_, version_, dest_), &p.keys);
        !st) {
      errors += error_line(*p.src, "DynamicPartitioning.InvalidPartitionKey", st.error().message);
      continue;
    }
    if (partitions.size() >= kMaxPartitions && !partitions.count(p.keys)) {
      errors += error_line(*p.src, "DynamicPartitioning.ActivePartitionExceeded", "More than 500 active partitions");
      continue;
    }
    partitions[p.keys].push_back(std::move(p));
  }
  return partitions;
}

std::string RecordProcessing::join(const std::vector<ProcessedRecord>& records) const {
  std::string body;
  for (const auto& p : records) {
    body += p.data;
    if (dest_.append_newline) body.push_back('\n');
  }
  return dest_.gzip ? gzip(body) : body;
}

}  // namespace eddy::delivery
