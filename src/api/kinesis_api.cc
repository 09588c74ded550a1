#include "api/kinesis_api.h"

#include <algorithm>
#include <map>
#include <optional>

#include "api/aws_errors.h"
#include "api/json_codec.h"
#include "api/kinesis_shapes.h"
#include "api/writer.h"
#include "common/json_text.h"
#include "common/uint128.h"
#include "stream/sequence_number.h"

namespace eddy::api {
namespace {

using stream::ShardSnapshot;
using stream::StreamSnapshot;

constexpr size_t kMaxPutRecordsBytes = 5u << 20;

std::optional<std::string> text(const Value& in, std::string_view key) {
  const Value* v = in.get(key);
  if (!v || v->type != Value::Type::kString) return std::nullopt;
  return v->text;
}

std::optional<int64_t> number(const Value& in, std::string_view key) {
  const Value* v = in.get(key);
  if (!v || !v->is_number()) return std::nullopt;
  return static_cast<int64_t>(v->as_double());
}

std::map<std::string, std::string> string_map(const Value* v) {
  std::map<std::string, std::string> out;
  if (!v) return out;
  for (const auto& [k, val] : v->members) out[k] = val.type == Value::Type::kString ? val.text : "";
  return out;
}

bool valid_hash_key(std::string_view text) {
  return parse_decimal_u128(text).has_value();
}

Error bad_hash_key(std::string_view text) {
  return {Errc::kInvalidArgument,
          "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " +
              std::string(text)};
}

class Call {
 public:
  Call(stream::StreamStore& store, log::GroupCommitter& committer, const Clock& clock, const Value& in,
       Protocol protocol, Respond respond, stream::AccountSettings* account)
      : account_(account),
        store_(store),
        committer_(committer),
        clock_(clock),
        in_(in),
        protocol_(protocol),
        respond_(std::move(respond)),
        w_(make_writer(protocol)) {}

  void fail(const Error& e) { respond_(error_response(e, protocol_)); }
  void ok() {
    HttpResponse r;
    r.content_type = content_type_for(protocol_);
    r.body = std::move(w_->buffer());
    respond_(std::move(r));
  }
  void ok_empty() {
    // Operations without output answer an empty object, which every SDK accepts.
    w_->begin_object();
    w_->end_object();
    ok();
  }
  template <class T>
  bool check(const Result<T>& r) {
    if (!r) fail(r.error());
    return static_cast<bool>(r);
  }

  // StreamName or StreamARN (or both, agreeing).
  Result<std::string> stream_name() {
    auto name = text(in_, "StreamName");
    auto arn = text(in_, "StreamARN");
    if (arn) {
      auto from_arn = store_.name_from_arn(*arn);
      if (!from_arn) return from_arn;
      if (name && *name != *from_arn) {
        return make_error(Errc::kInvalidArgument, "StreamARN " + *arn + " and StreamName " + *name + " do not match.");
      }
      return from_arn;
    }
    if (name) return *name;
    return make_error(Errc::kInvalidArgument, "Either StreamName or StreamARN should be provided.");
  }

  void run(std::string_view op);

 private:
  void create_stream();
  void delete_stream();
  void describe_stream();
  void describe_stream_summary();
  void list_streams();
  void list_shards();
  void put_record();
  void put_records();
  void get_shard_iterator();
  void get_records();
  void retention(bool increase);
  void add_tags();
  void remove_tags();
  void list_tags_for_stream();
  void tag_resource();
  void untag_resource();
  void list_tags_for_resource();
  void split_shard();
  void merge_shards();
  void update_shard_count();
  void describe_limits();
  void update_stream_mode();
  void update_max_record_size();
  void update_warm_throughput();
  void enhanced_monitoring(bool enable);
  void put_resource_policy();
  void encryption(bool start);
  void account_settings(bool update);
  stream::AccountSettings* account_;
  void get_resource_policy();
  void delete_resource_policy();
  // The stream a ResourceARN names (resource policies).
  Result<std::string> resource_stream();
  void commit_then_ok(std::vector<std::shared_ptr<log::ShardStorage>> touched);

  stream::StreamStore& store_;
  log::GroupCommitter& committer_;
  const Clock& clock_;
  const Value& in_;
  Protocol protocol_;
  Respond respond_;
  std::unique_ptr<Writer> w_;
};

void Call::run(std::string_view op) {
  if (op == "PutRecords") return put_records();
  if (op == "GetRecords") return get_records();
  if (op == "PutRecord") return put_record();
  if (op == "GetShardIterator") return get_shard_iterator();
  if (op == "CreateStream") return create_stream();
  if (op == "DeleteStream") return delete_stream();
  if (op == "DescribeStream") return describe_stream();
  if (op == "DescribeStreamSummary") return describe_stream_summary();
  if (op == "ListStreams") return list_streams();
  if (op == "ListShards") return list_shards();
  if (op == "IncreaseStreamRetentionPeriod") return retention(true);
  if (op == "DecreaseStreamRetentionPeriod") return retention(false);
  if (op == "AddTagsToStream") return add_tags();
  if (op == "RemoveTagsFromStream") return remove_tags();
  if (op == "ListTagsForStream") return list_tags_for_stream();
  if (op == "TagResource") return tag_resource();
  if (op == "UntagResource") return untag_resource();
  if (op == "ListTagsForResource") return list_tags_for_resource();
  if (op == "SplitShard") return split_shard();
  if (op == "MergeShards") return merge_shards();
  if (op == "UpdateShardCount") return update_shard_count();
  if (op == "DescribeLimits") return describe_limits();
  if (op == "UpdateStreamMode") return update_stream_mode();
  if (op == "UpdateMaxRecordSize") return update_max_record_size();
  if (op == "UpdateStreamWarmThroughput") return update_warm_throughput();
  if (op == "EnableEnhancedMonitoring") return enhanced_monitoring(true);
  if (op == "DisableEnhancedMonitoring") return enhanced_monitoring(false);
  if (op == "PutResourcePolicy") return put_resource_policy();
  if (op == "DescribeAccountSettings") return account_settings(false);
  if (op == "UpdateAccountSettings") return account_settings(true);
  if (op == "StartStreamEncryption") return encryption(true);
  if (op == "StopStreamEncryption") return encryption(false);
  if (op == "GetResourcePolicy") return get_resource_policy();
  if (op == "DeleteResourcePolicy") return delete_resource_policy();
  fail({Errc::kInvalidArgument, "eddy does not implement " + std::string(op) +
                                    " yet; see docs/streams.md for the supported Kinesis operations."});
}

void Call::create_stream() {
  auto name = text(in_, "StreamName");
  stream::StreamMode mode = stream::StreamMode::kProvisioned;
  if (const Value* d = in_.get("StreamModeDetails")) {
    if (text(*d, "StreamMode") == std::optional<std::string>("ON_DEMAND")) mode = stream::StreamMode::kOnDemand;
  }
  std::optional<int> shards;
  if (auto n = number(in_, "ShardCount")) shards = static_cast<int>(*n);
  std::optional<int> max_kib;
  if (auto n = number(in_, "MaxRecordSizeInKiB")) max_kib = static_cast<int>(*n);
  auto st = store_.create_stream(*name, shards, mode, string_map(in_.get("Tags")), max_kib);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::delete_stream() {
  auto name = stream_name();
  if (!check(name)) return;
  const Value* enforce = in_.get("EnforceConsumerDeletion");
  auto st = store_.delete_stream(*name, enforce && enforce->type == Value::Type::kBool && enforce->boolean);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::describe_stream() {
  auto name = stream_name();
  if (!check(name)) return;
  auto s = store_.describe(*name);
  if (!check(s)) return;
  const size_t limit = static_cast<size_t>(std::min<int64_t>(number(in_, "Limit").value_or(100), 100));
  auto start = text(in_, "ExclusiveStartShardId");
  std::optional<uint32_t> after;
  if (start) after = stream::parse_shard_id(*start);
  w_->begin_object();
  w_->key("StreamDescription");
  w_->begin_object();
  w_->field("StreamName", s->name);
  w_->field("StreamARN", s->arn);
  w_->field("StreamStatus", stream::to_string(s->status));
  write_mode(*w_, s->mode);
  w_->key("Shards");
  w_->begin_array();
  size_t written = 0;
  bool more = false;
  for (const auto& shard : s->shards) {
    if (after && shard.info.index <= *after) continue;
    if (written == limit) {
      more = true;
      break;
    }
    write_shard(*w_, shard);
    ++written;
  }
  w_->end_array();
  w_->field("HasMoreShards", more);
  w_->field("RetentionPeriodHours", int64_t{s->retention_hours});
  w_->key("StreamCreationTimestamp");
  w_->timestamp(s->created_ms);
  write_monitoring(*w_, s->shard_level_metrics);
  write_encryption(*w_, s->encryption_key_id);
  w_->end_object();
  w_->end_object();
  ok();
}

void Call::describe_stream_summary() {
  auto name = stream_name();
  if (!check(name)) return;
  auto s = store_.describe(*name);
  if (!check(s)) return;
  w_->begin_object();
  w_->key("StreamDescriptionSummary");
  w_->begin_object();
  w_->field("StreamName", s->name);
  w_->field("StreamARN", s->arn);
  w_->field("StreamStatus", stream::to_string(s->status));
  write_mode(*w_, s->mode);
  w_->field("RetentionPeriodHours", int64_t{s->retention_hours});
  w_->key("StreamCreationTimestamp");
  w_->timestamp(s->created_ms);
  write_monitoring(*w_, s->shard_level_metrics);
  write_encryption(*w_, s->encryption_key_id);
  w_->field("OpenShardCount", static_cast<int64_t>(s->open_shard_count));
  w_->field("ConsumerCount", static_cast<int64_t>(s->consumer_count));
  w_->field("MaxRecordSizeInKiB", static_cast<int64_t>(s->max_record_kib));
  write_warm_throughput(*w_, *s);
  w_->end_object();
  w_->end_object();
  ok();
}

void Call::list_streams() {
  const size_t limit = static_cast<size_t>(number(in_, "Limit").value_or(100));
  auto page = store_.list_streams(limit, text(in_, "ExclusiveStartStreamName"), text(in_, "NextToken"));
  if (!check(page)) return;
  w_->begin_object();
  w_->key("StreamNames");
  w_->begin_array();
  for (const auto& s : page->streams) w_->string(s.name);
  w_->end_array();
  w_->field("HasMoreStreams", page->has_more);
  if (page->next_token) w_->field("NextToken", *page->next_token);
  w_->key("StreamSummaries");
  w_->begin_array();
  for (const auto& s : page->streams) {
    w_->begin_object();
    w_->field("StreamName", s.name);
    w_->field("StreamARN", s.arn);
    w_->field("StreamStatus", stream::to_string(s.status));
    write_mode(*w_, s.mode);
    w_->key("StreamCreationTimestamp");
    w_->timestamp(s.created_ms);
    w_->end_object();
  }
  w_->end_array();
  w_->end_object();
  ok();
}

void Call::list_shards() {
  std::optional<std::string> name;
  if (in_.get("StreamName") || in_.get("StreamARN")) {
    auto n = stream_name();
    if (!check(n)) return;
    name = *n;
  }
  auto token = text(in_, "NextToken");
  if (token && (in_.get("ExclusiveStartShardId") || in_.get("StreamCreationTimestamp"))) {
    return fail({Errc::kInvalidArgument,
                 "NextToken cannot be provided together with ExclusiveStartShardId or StreamCreationTimestamp."});
  }
  std::optional<stream::ShardFilter> filter;
  if (const Value* f = in_.get("ShardFilter")) {
    stream::ShardFilter sf;
    sf.type = stream::parse_shard_filter_type(text(*f, "Type").value_or(""))
                  .value_or(stream::ShardFilterType::kFromTrimHorizon);
    sf.shard_id = text(*f, "ShardId");
    if (auto ts = number(*f, "Timestamp")) sf.timestamp = *ts;
    filter = sf;
  }
  const size_t max = static_cast<size_t>(std::min<int64_t>(number(in_, "MaxResults").value_or(1000), 1000));
  auto page = store_.list_shards(name, token, text(in_, "ExclusiveStartShardId"), max, filter);
  if (!check(page)) return;
  w_->begin_object();
  w_->key("Shards");
  w_->begin_array();
  for (const auto& s : page->shards) write_shard(*w_, s);
  w_->end_array();
  if (page->next_token) w_->field("NextToken", *page->next_token);
  w_->end_object();
  ok();
}

Error record_too_large(std::string_view path, size_t size, uint32_t max) {
  return {Errc::kValidation,
          "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(size) +
              " cap=" + std::to_string(size) + "]' at '" + std::string(path) +
              "' failed to satisfy constraint: Member must have length less than or equal to " + std::to_string(max)};
}

void Call::commit_then_ok(std::vector<std::shared_ptr<log::ShardStorage>> touched) {
  // The answer is only sent once the records are as durable as the fsync policy promises.
  auto body = std::make_shared<std::string>(std::move(w_->buffer()));
  committer_.commit(std::move(touched), [respond = respond_, body, protocol = protocol_](Status st) {
    if (!st) {
      respond(error_response(st.error(), protocol));
      return;
    }
    HttpResponse r;
    r.content_type = content_type_for(protocol);
    r.body = std::move(*body);
    respond(std::move(r));
  });
}

void Call::put_record() {
  auto name = stream_name();
  if (!check(name)) return;
  const Value* data = in_.get("Data");
  auto key = text(in_, "PartitionKey");
  if (auto ordering = text(in_, "SequenceNumberForOrdering")) {
    // Our sequence numbers only grow within a shard, so any later record already orders after
    // it; the value is still checked to be a sequence number.
    if (!stream::decode_sequence_number(*ordering) && *ordering != "0") {
      return fail(
          {Errc::kInvalidArgument, "ExclusiveMinimumSequenceNumber " + *ordering + " is not a valid sequence number."});
    }
  }
  const auto hash_key = text(in_, "ExplicitHashKey").value_or("");
  if (!hash_key.empty() && !valid_hash_key(hash_key)) return fail(bad_hash_key(hash_key));
  auto max = store_.max_record_bytes(*name);  // the stream's limit: after the request's own checks
  if (!check(max)) return;
  if (data->text.size() + key->size() > *max) return fail(record_too_large("data", data->text.size(), *max));
  stream::PutEntry entry{*key, hash_key, data->text};
  auto result = store_.put(*name, std::span(&entry, 1));
  if (!check(result)) return;
  const auto& out = result->outcomes[0];
  if (!out.ok) return fail({out.error, out.message});
  w_->begin_object();
  w_->field("ShardId", stream::shard_id(out.shard_index));
  w_->field("SequenceNumber", out.sequence_number);
  w_->field("EncryptionType", result->encrypted ? "KMS" : "NONE");
  w_->end_object();
  commit_then_ok(std::move(result->touched));
}

void Call::put_records() {
  auto name = stream_name();
  if (!check(name)) return;
  const Value* records = in_.get("Records");
  // The request's own limits first, then the stream's (which needs the stream), as AWS checks.
  std::vector<stream::PutEntry> entries;
  entries.reserve(records->items.size());
  size_t total = 0;
  for (size_t i = 0; i < records->items.size(); ++i) {
    const Value& r = records->items[i];
    const Value* data = r.get("Data");
    const Value* key = r.get("PartitionKey");
    if (!data || !key) {
      return fail({Errc::kValidation, "1 validation error detected: Value null at 'records." + std::to_string(i + 1) +
                                          ".member." + (data ? "partitionKey" : "data") +
                                          "' failed to satisfy constraint: Member must not be null"});
    }
    total += data->text.size() + key->text.size();
    const Value* hash = r.get("ExplicitHashKey");
    if (hash && !valid_hash_key(hash->text)) return fail(bad_hash_key(hash->text));
    entries.push_back({key->text, hash ? std::string_view(hash->text) : std::string_view{}, data->text});
  }
  if (total > kMaxPutRecordsBytes) {
    return fail({Errc::kInvalidArgument, "Records size exceeds 5 MB limit"});
  }
  auto max = store_.max_record_bytes(*name);
  if (!check(max)) return;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].data.size() + entries[i].partition_key.size() > *max) {
      return fail(record_too_large("records." + std::to_string(i + 1) + ".member.data", entries[i].data.size(), *max));
    }
  }
  auto result = store_.put(*name, entries);
  if (!check(result)) return;
  // Nothing stored because the cluster lost its quorum: a 503 the SDKs retry whole, rather than
  // a page of per-record failures.
  if (!result->outcomes.empty() &&
      std::all_of(result->outcomes.begin(), result->outcomes.end(),
                  [](const stream::PutOutcome& o) { return !o.ok && o.error == Errc::kUnavailable; })) {
    return fail({Errc::kUnavailable, "the cluster cannot store records now; retry"});
  }
  w_->begin_object();
  w_->field("FailedRecordCount", static_cast<int64_t>(result->failed));
  w_->key("Records");
  w_->begin_array();
  std::vector<std::string> shard_ids;  // formatted once per shard, not per record
  for (const auto& out : result->outcomes) {
    w_->begin_object();
    if (out.ok) {
      if (out.shard_index >= shard_ids.size()) shard_ids.resize(out.shard_index + 1);
      if (shard_ids[out.shard_index].empty()) shard_ids[out.shard_index] = stream::shard_id(out.shard_index);
      w_->field("SequenceNumber", out.sequence_number);
      w_->field("ShardId", shard_ids[out.shard_index]);
    } else {
      w_->field("ErrorCode", out.error == Errc::kProvisionedThroughputExceeded
                                 ? "ProvisionedThroughputExceededException"
                                 : "InternalFailure");
      w_->field("ErrorMessage", out.message);
    }
    w_->end_object();
  }
  w_->end_array();
  w_->field("EncryptionType", result->encrypted ? "KMS" : "NONE");
  w_->end_object();
  commit_then_ok(std::move(result->touched));
}

void Call::get_shard_iterator() {
  auto name = stream_name();
  if (!check(name)) return;
  const auto type = stream::parse_iterator_type(*text(in_, "ShardIteratorType"));
  std::optional<TimestampMs> ts;
  if (auto t = number(in_, "Timestamp")) ts = *t;
  auto it = store_.shard_iterator(*name, *text(in_, "ShardId"), *type, text(in_, "StartingSequenceNumber"), ts);
  if (!check(it)) return;
  w_->begin_object();
  w_->field("ShardIterator", *it);
  w_->end_object();
  ok();
}

void Call::get_records() {
  const size_t limit = static_cast<size_t>(number(in_, "Limit").value_or(10000));
  auto r = store_.get_records(*text(in_, "ShardIterator"), limit);
  if (!check(r)) return;
  if (protocol_ == Protocol::kJson) {
    write_records_json(*r, w_->buffer());
    // The rest of the object through the writer, after the Records array.
    auto& buf = w_->buffer();
    if (r->next_iterator) {
      buf += R"(,"NextShardIterator":)";
      append_json_string(buf, *r->next_iterator);
    }
    buf += R"(,"MillisBehindLatest":)" + std::to_string(r->millis_behind_latest);
    append_child_shards_json(buf, r->child_shards);
    buf += '}';
    return ok();
  }
  w_->begin_object();
  write_records(*w_, *r);
  if (r->next_iterator) w_->field("NextShardIterator", *r->next_iterator);
  w_->field("MillisBehindLatest", r->millis_behind_latest);
  write_child_shards(*w_, r->child_shards);
  w_->end_object();
  ok();
}

void Call::retention(bool increase) {
  auto name = stream_name();
  if (!check(name)) return;
  auto st = store_.change_retention(*name, static_cast<int>(*number(in_, "RetentionPeriodHours")), increase);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::add_tags() {
  auto name = stream_name();
  if (!check(name)) return;
  auto st = store_.add_tags(*name, string_map(in_.get("Tags")));
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::remove_tags() {
  auto name = stream_name();
  if (!check(name)) return;
  std::vector<std::string> keys;
  for (const auto& k : in_.get("TagKeys")->items) keys.push_back(k.text);
  auto st = store_.remove_tags(*name, keys);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::list_tags_for_stream() {
  auto name = stream_name();
  if (!check(name)) return;
  auto s = store_.describe(*name);
  if (!check(s)) return;
  const size_t limit = static_cast<size_t>(number(in_, "Limit").value_or(50));
  auto start = text(in_, "ExclusiveStartTagKey");
  w_->begin_object();
  w_->key("Tags");
  w_->begin_array();
  size_t n = 0;
  bool more = false;
  for (const auto& [k, v] : s->tags) {
    if (start && k <= *start) continue;
    if (n == limit) {
      more = true;
      break;
    }
    w_->begin_object();
    w_->field("Key", k);
    w_->field("Value", v);
    w_->end_object();
    ++n;
  }
  w_->end_array();
  w_->field("HasMoreTags", more);
  w_->end_object();
  ok();
}

void Call::tag_resource() {
  auto name = store_.name_from_arn(*text(in_, "ResourceARN"));
  if (!check(name)) return;
  auto st = store_.add_tags(*name, string_map(in_.get("Tags")));
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::update_stream_mode() {
  auto name = store_.name_from_arn(*text(in_, "StreamARN"));
  if (!check(name)) return;
  const auto mode = text(*in_.get("StreamModeDetails"), "StreamMode");
  std::optional<uint32_t> warm;
  if (auto n = number(in_, "WarmThroughputMiBps")) warm = static_cast<uint32_t>(*n);
  auto st = store_.update_mode(
      *name, mode == "ON_DEMAND" ? stream::StreamMode::kOnDemand : stream::StreamMode::kProvisioned, warm);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::update_max_record_size() {
  auto name = stream_name();
  if (!check(name)) return;
  auto st = store_.update_max_record_size(*name, static_cast<uint32_t>(*number(in_, "MaxRecordSizeInKiB")));
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::update_warm_throughput() {
  auto name = stream_name();
  if (!check(name)) return;
  auto st = store_.update_warm_throughput(*name, static_cast<uint32_t>(*number(in_, "WarmThroughputMiBps")));
  if (!st) return fail(st.error());
  auto s = store_.describe(*name);
  if (!check(s)) return;
  w_->begin_object();
  w_->field("StreamARN", s->arn);
  w_->field("StreamName", s->name);
  write_warm_throughput(*w_, *s);
  w_->end_object();
  ok();
}

void Call::enhanced_monitoring(bool enable) {
  auto name = stream_name();
  if (!check(name)) return;
  std::vector<std::string> metrics;
  for (const auto& m : in_.get("ShardLevelMetrics")->items) metrics.push_back(m.text);
  auto change = store_.change_monitoring(*name, metrics, enable);
  if (!check(change)) return;
  w_->begin_object();
  w_->field("StreamName", *name);
  w_->field("StreamARN", store_.arn(*name));
  write_metric_names(*w_, "CurrentShardLevelMetrics", change->before);
  write_metric_names(*w_, "DesiredShardLevelMetrics", change->after);
  w_->end_object();
  ok();
}

Result<std::string> Call::resource_stream() {
  const std::string arn = *text(in_, "ResourceARN");
  // A consumer's ARN (<stream ARN>/consumer/<name>:<creation>): eddy keeps policies of streams.
  if (arn.find("/consumer/") != std::string::npos) {
    auto c = store_.describe_consumer({std::nullopt, std::nullopt, arn});
    if (!c) return tl::unexpected(c.error());
    return make_error(Errc::kInvalidArgument,
                      "eddy keeps resource policies of streams, not of consumers: attach the "
                      "policy to stream " +
                          c->stream_arn + ".");
  }
  return store_.name_from_arn(arn);
}

void Call::encryption(bool start) {
  auto name = stream_name();
  if (!check(name)) return;
  if (text(in_, "EncryptionType") != std::optional<std::string>("KMS")) {
    return fail({Errc::kInvalidArgument, "EncryptionType must be KMS."});
  }
  auto st = start ? store_.start_encryption(*name, *text(in_, "KeyId")) : store_.stop_encryption(*name);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::account_settings(bool update) {
  if (!account_) return fail({Errc::kInvalidArgument, "This server keeps no account settings."});
  Result<stream::BillingCommitment> c;
  if (update) {
    const Value* in = in_.get("MinimumThroughputBillingCommitment");
    c = account_->update_commitment(text(*in, "Status") == std::optional<std::string>("ENABLED"));
  } else {
    c = account_->commitment();
  }
  if (!check(c)) return;
  w_->begin_object();
  w_->key("MinimumThroughputBillingCommitment");
  w_->begin_object();
  w_->field("Status", c->status);
  for (const auto& [key, ms] :
       {std::pair{"StartedAt", c->started_ms}, std::pair{"EarliestAllowedEndAt", c->earliest_end_ms},
        std::pair{"EndedAt", c->ended_ms}}) {
    if (!ms) continue;
    w_->key(key);
    w_->timestamp(*ms);
  }
  w_->end_object();
  w_->end_object();
  ok();
}

void Call::put_resource_policy() {
  auto name = resource_stream();
  if (!check(name)) return;
  auto st = store_.put_resource_policy(*name, *text(in_, "Policy"));
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::get_resource_policy() {
  auto name = resource_stream();
  if (!check(name)) return;
  auto policy = store_.resource_policy(*name);
  if (!check(policy)) return;
  w_->begin_object();
  w_->field("Policy", *policy);
  w_->end_object();
  ok();
}

void Call::delete_resource_policy() {
  auto name = resource_stream();
  if (!check(name)) return;
  auto st = store_.delete_resource_policy(*name);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::untag_resource() {
  auto name = store_.name_from_arn(*text(in_, "ResourceARN"));
  if (!check(name)) return;
  std::vector<std::string> keys;
  for (const auto& k : in_.get("TagKeys")->items) keys.push_back(k.text);
  auto st = store_.remove_tags(*name, keys);
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::list_tags_for_resource() {
  auto name = store_.name_from_arn(*text(in_, "ResourceARN"));
  if (!check(name)) return;
  auto s = store_.describe(*name);
  if (!check(s)) return;
  w_->begin_object();
  w_->key("Tags");
  w_->begin_array();
  for (const auto& [k, v] : s->tags) {
    w_->begin_object();
    w_->field("Key", k);
    w_->field("Value", v);
    w_->end_object();
  }
  w_->end_array();
  w_->end_object();
  ok();
}

void Call::split_shard() {
  auto name = stream_name();
  if (!check(name)) return;
  auto st = store_.split_shard(*name, *text(in_, "ShardToSplit"), *text(in_, "NewStartingHashKey"));
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::merge_shards() {
  auto name = stream_name();
  if (!check(name)) return;
  auto st = store_.merge_shards(*name, *text(in_, "ShardToMerge"), *text(in_, "AdjacentShardToMerge"));
  if (!st) return fail(st.error());
  ok_empty();
}

void Call::update_shard_count() {
  auto name = stream_name();
  if (!check(name)) return;
  auto r = store_.update_shard_count(*name, static_cast<int>(*number(in_, "TargetShardCount")));
  if (!check(r)) return;
  w_->begin_object();
  w_->field("StreamName", *name);
  w_->field("CurrentShardCount", int64_t{r->first});
  w_->field("TargetShardCount", int64_t{r->second});
  w_->field("StreamARN", store_.arn(*name));
  w_->end_object();
  ok();
}

void Call::describe_limits() {
  auto page = store_.list_streams(SIZE_MAX, std::nullopt, std::nullopt);
  if (!check(page)) return;
  int64_t open = 0, on_demand = 0;
  for (const auto& s : page->streams) {
    auto d = store_.describe(s.name);
    if (!d) continue;
    open += static_cast<int64_t>(d->open_shard_count);
    on_demand += d->mode == stream::StreamMode::kOnDemand;
  }
  w_->begin_object();
  w_->field("ShardLimit", static_cast<int64_t>(store_.options().shard_limit));
  w_->field("OpenShardCount", open);
  w_->field("OnDemandStreamCount", on_demand);
  w_->field("OnDemandStreamCountLimit", int64_t{50});
  w_->end_object();
  ok();
}

}  // namespace

void KinesisApi::handle(std::string_view op, const Value& input, Protocol protocol, Respond respond) {
  if (FanOut::handles(op)) return fan_out_.handle(op, input, protocol, std::move(respond));
  Call call(store_, committer_, clock_, input, protocol, std::move(respond), account_);
  call.run(op);
}

}  // namespace eddy::api
