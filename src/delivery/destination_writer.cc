#include "delivery/destination_writer.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/fault_log.h"
#include "delivery/http_endpoint.h"
#include "delivery/object_names.h"

namespace eddy::delivery {

using nlohmann::json;

namespace {
constexpr size_t kHttpRecordsPerRequest = 10000;
}  // namespace

bool DestinationWriter::put(const std::string& key, std::string_view bytes) const {
  return objects_(dest_.bucket, key, bytes).has_value();
}

DestinationWriter::Written DestinationWriter::write(const std::string& key, const std::vector<SourceRecord>& recs,
                                                    const std::vector<ProcessedRecord>& processed,
                                                    const Partitions& partitions, DeliveryPositions& state,
                                                    std::optional<FailedObject>& left) {
  if (dest_.partitioning) {
    int part = 0;
    for (const auto& [keys, records] : partitions) {
      const auto object = partition_key_of(dest_, name_, version_, key, part++, keys, records.front().arrival);
      if (!put(object, processing_.join(records))) return Written::kNot;
    }
    return Written::kAll;
  }
  if (!dest_.stream_arn.empty()) return write_to_stream(processed, key, state, left);
  if (dest_.http) return write_to_http(key, recs, processed, state) ? Written::kAll : Written::kNot;
  // Every record a transform dropped or failed would leave an empty object: skipped.
  if ((!processed.empty() || !dest_.lambda) && !put(key, processing_.join(processed))) return Written::kNot;
  return Written::kAll;
}

// One request per 10,000 records; its id derives from the object key, so a retry after a crash
// carries the same id and the endpoint can de-duplicate.
bool DestinationWriter::write_to_http(const std::string& key, const std::vector<SourceRecord>& recs,
                                      const std::vector<ProcessedRecord>& processed, DeliveryPositions& state) {
  std::string failed;
  for (size_t start = 0, part = 0; start < processed.size(); start += kHttpRecordsPerRequest, ++part) {
    std::vector<std::string> chunk;
    for (size_t i = start; i < std::min(processed.size(), start + kHttpRecordsPerRequest); ++i)
      chunk.push_back(processed[i].data);
    const std::string id = request_id(key, part);
    auto r = deliver_http(*dest_.http, delivery_arn_, id, chunk, clock_, cancelled_);
    if (cancelled_() && !r.delivered) return false;  // interrupted: the intent redoes it
    if (!r.delivered) {
      for (const auto& d : chunk) {
        failed += json{{"attemptsMade", r.attempts},
                       {"arrivalTimestamp", recs.front().arrival},
                       {"errorCode", r.error_code},
                       {"errorMessage", r.error_message},
                       {"attemptEndingTimestamp", clock_.now_ms()},
                       {"rawData", base64_encode(d)},
                       {"subsequenceNumber", 0},
                       {"dataId", id}}
                      .dump() +
                  "\n";
      }
    }
  }
  if (!failed.empty()) {
    if (!put(failed_key(dest_, recs.front().arrival, "http-endpoint-failed", key), failed)) return false;
    state.count_failed(failed);
  }
  return !dest_.backup_all || put(key, processing_.join(processed));
}

// Records keyed by source position, appended exactly once: the target's shard ends go into the
// intent before the first append (stream_sink.h). Records still refused after the retry duration,
// or too large for the stream, go to the backup bucket.
DestinationWriter::Written DestinationWriter::write_to_stream(const std::vector<ProcessedRecord>& processed,
                                                              const std::string& key, DeliveryPositions& state,
                                                              std::optional<FailedObject>& left) {
  if (!target_) return Written::kNot;
  std::optional<std::map<uint32_t, uint64_t>> recorded;
  try {
    recorded = intents_.target_marks();
  } catch (const json::parse_error& ex) {
    log_fault("reading the intent record of delivery stream " + name_, ex.what());  // written by this round
    return Written::kNot;
  }
  std::map<uint32_t, uint64_t> marks;
  std::set<std::string> skip;
  if (recorded) {
    marks = std::move(*recorded);
    skip = sink_.keys_after(*target_, marks);
  } else {
    auto now = sink_.marks(*target_);
    if (now) marks = std::move(*now);  // a missing stream is retried below, then backed up
    if (!intents_.write_target_marks(marks)) return Written::kNot;
  }
  std::vector<StreamRecord> records;
  records.reserve(processed.size());
  for (const auto& p : processed) {
    std::string key = name_ + ":" + std::to_string(p.src->shard) + "-" + std::to_string(p.src->offset);
    if (p.src->subsequence) key += "-" + std::to_string(*p.src->subsequence);  // unique within an aggregate too
    records.push_back({std::move(key), dest_.append_newline ? p.data + "\n" : p.data});
  }
  auto r = sink_.append(*target_, records, skip, dest_.stream_retry_seconds, cancelled_);
  while (r.uncertain && !cancelled_()) {
    skip = sink_.keys_after(*target_, marks);
    r = sink_.append(*target_, records, skip, dest_.stream_retry_seconds, cancelled_);
  }
  // Interrupted: the intent stays, and the next start redoes the round. Any other failure from
  // here on must be finished, not redone: a new intent (without the marks) could duplicate.
  if (cancelled_() && !r.delivered) return Written::kNot;
  std::string failed;
  auto fail_line = [&](const ProcessedRecord& p, const std::string& code, const std::string& message) {
    failed += json{{"attemptsMade", r.attempts},
                   {"arrivalTimestamp", p.arrival},
                   {"errorCode", code},
                   {"errorMessage", message},
                   {"attemptEndingTimestamp", clock_.now_ms()},
                   {"rawData", base64_encode(p.data)}}
                  .dump() +
              "\n";
  };
  for (size_t i : r.too_large) {
    fail_line(processed[i], "Kinesis.RecordTooLarge", "The record is larger than the stream's maximum record size");
  }
  for (size_t i : r.refused) fail_line(processed[i], r.error_code, r.error_message);
  if (failed.empty()) return Written::kAll;
  FailedObject object{failed_key(dest_, processed.front().arrival, "kinesis-stream-failed", key), std::move(failed)};
  if (write_failed(object, state)) return Written::kAll;
  left = std::move(object);
  return Written::kFailedObjectLeft;
}

bool DestinationWriter::write_failed(const FailedObject& failed, DeliveryPositions& state) {
  if (!put(failed.key, failed.lines)) return false;
  state.count_failed(failed.lines);
  return true;
}

}  // namespace eddy::delivery
