#include "api/kinesis_shapes.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/digest.h"
#include "common/json_text.h"
#include "common/uint128.h"
#include "stream/sequence_number.h"

namespace eddy::api {

void write_shard(Writer& w, const stream::ShardSnapshot& s) {
  w.begin_object();
  w.field("ShardId", s.info.id());
  if (s.info.parent) w.field("ParentShardId", stream::shard_id(*s.info.parent));
  if (s.info.adjacent_parent) w.field("AdjacentParentShardId", stream::shard_id(*s.info.adjacent_parent));
  w.key("HashKeyRange");
  w.begin_object();
  w.field("StartingHashKey", to_decimal(s.info.range.start));
  w.field("EndingHashKey", to_decimal(s.info.range.end));
  w.end_object();
  w.key("SequenceNumberRange");
  w.begin_object();
  w.field("StartingSequenceNumber", s.starting_sequence_number);
  if (s.ending_sequence_number) w.field("EndingSequenceNumber", *s.ending_sequence_number);
  w.end_object();
  w.end_object();
}

void write_mode(Writer& w, stream::StreamMode mode) {
  w.key("StreamModeDetails");
  w.begin_object();
  w.field("StreamMode", stream::to_string(mode));
  w.end_object();
}

void write_metric_names(Writer& w, const char* key, const std::vector<std::string>& metrics) {
  w.key(key);
  w.begin_array();
  for (const auto& m : metrics) w.string(m);
  w.end_array();
}

void write_monitoring(Writer& w, const std::vector<std::string>& metrics) {
  w.key("EnhancedMonitoring");
  w.begin_array();
  w.begin_object();
  write_metric_names(w, "ShardLevelMetrics", metrics);
  w.end_object();
  w.end_array();
}

void write_encryption(Writer& w, const std::string& key_id) {
  w.field("EncryptionType", key_id.empty() ? "NONE" : "KMS");
  if (!key_id.empty()) w.field("KeyId", key_id);
}

void write_warm_throughput(Writer& w, const stream::StreamSnapshot& s) {
  if (!s.warm_throughput_mibps) return;
  // eddy does not throttle on-demand streams by it: what is asked for is there at once.
  w.key("WarmThroughput");
  w.begin_object();
  w.field("TargetMiBps", static_cast<int64_t>(*s.warm_throughput_mibps));
  w.field("CurrentMiBps", static_cast<int64_t>(*s.warm_throughput_mibps));
  w.end_object();
}

// The JSON answer for a batch of records, written in one pass into a buffer sized up front: the
// GetRecords hot path (10,000 records a call) without per-field virtual calls or reallocation.
void write_records_json(const stream::GetRecordsResult& r, std::string& out) {
  const auto& recs = r.read.records;
  // Per record: the field names and punctuation (81 bytes, 89 allowed), a 56-digit sequence number, a
  // timestamp of at most 24 characters, the data in base64 and the key with every character
  // escaped at worst (\u00XX).
  constexpr size_t kFixedPerRecord = 89 + 56 + 24 + 24;  // and ,"EncryptionType":"KMS" (24)
  size_t bound = 256;
  for (const auto& rec : recs)
    bound += kFixedPerRecord + 4 * ((rec.data.size() + 2) / 3) + 6 * rec.partition_key.size();
  const size_t base = out.size();
  out.resize(base + bound);
  char* p = out.data() + base;
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(R"({"Records":[)");
  // Consecutive records' sequence numbers differ by one: increment the text.
  std::string seq;
  log::Offset seq_offset = 0;
  TimestampMs ts_ms = 0;
  char ts[32];
  size_t ts_len = 0;
  std::string scratch;
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& rec = recs[i];
    if (seq.empty() || rec.offset != seq_offset + 1) {
      seq = stream::encode_sequence_number(r.shard_index, rec.offset);
    } else {
      size_t d = seq.size();
      while (d > 0 && seq[d - 1] == '9') seq[--d] = '0';
      if (d == 0)
        seq.insert(seq.begin(), '1');
      else
        ++seq[d - 1];
    }
    seq_offset = rec.offset;
    if (ts_len == 0 || rec.arrival_ms != ts_ms) {
      ts_ms = rec.arrival_ms;
      const int64_t sec = ts_ms >= 0 ? ts_ms / 1000 : -((-ts_ms + 999) / 1000);
      const int64_t frac = ts_ms - sec * 1000;
      auto res = std::to_chars(ts, ts + sizeof(ts), sec);
      *res.ptr++ = '.';
      *res.ptr++ = static_cast<char>('0' + frac / 100);
      *res.ptr++ = static_cast<char>('0' + frac / 10 % 10);
      *res.ptr++ = static_cast<char>('0' + frac % 10);
      ts_len = static_cast<size_t>(res.ptr - ts);
    }
    put(i ? R"(,{"SequenceNumber":")" : R"({"SequenceNumber":")");
    put(seq);
    put(R"(","ApproximateArrivalTimestamp":)");
    put({ts, ts_len});
    put(R"(,"Data":")");
    p = base64_encode_to(rec.data, p);
    put(R"(","PartitionKey":)");
    scratch.clear();
    append_json_string(scratch, rec.partition_key);
    put(scratch);
    if (rec.encrypted) put(R"(,"EncryptionType":"KMS")");
    *p++ = '}';
  }
  put("]");
  if (static_cast<size_t>(p - out.data()) > base + bound) std::abort();  // the bound above is wrong: never write on
  out.resize(static_cast<size_t>(p - out.data()));
}

void append_child_shards_json(std::string& buf, const std::vector<stream::ChildShard>& children) {
  if (children.empty()) return;
  buf += R"(,"ChildShards":[)";
  for (size_t i = 0; i < children.size(); ++i) {
    const auto& c = children[i];
    if (i) buf += ',';
    buf += R"({"ShardId":)";
    append_json_string(buf, c.shard_id);
    buf += R"(,"ParentShards":[)";
    for (size_t j = 0; j < c.parent_shards.size(); ++j) {
      if (j) buf += ',';
      append_json_string(buf, c.parent_shards[j]);
    }
    buf += R"(],"HashKeyRange":{"StartingHashKey":")" + to_decimal(c.range.start) + R"(","EndingHashKey":")" +
           to_decimal(c.range.end) + "\"}}";
  }
  buf += ']';
}

void write_records(Writer& w, const stream::GetRecordsResult& r) {
  w.key("Records");
  w.begin_array();
  for (const auto& rec : r.read.records) {
    w.begin_object();
    w.field("SequenceNumber", stream::encode_sequence_number(r.shard_index, rec.offset));
    w.key("ApproximateArrivalTimestamp");
    w.timestamp(rec.arrival_ms);
    w.key("Data");
    w.blob(rec.data);
    w.field("PartitionKey", rec.partition_key);
    if (rec.encrypted) w.field("EncryptionType", "KMS");
    w.end_object();
  }
  w.end_array();
}

void write_child_shards(Writer& w, const std::vector<stream::ChildShard>& children) {
  if (children.empty()) return;
  w.key("ChildShards");
  w.begin_array();
  for (const auto& c : children) {
    w.begin_object();
    w.field("ShardId", c.shard_id);
    w.key("ParentShards");
    w.begin_array();
    for (const auto& p : c.parent_shards) w.string(p);
    w.end_array();
    w.key("HashKeyRange");
    w.begin_object();
    w.field("StartingHashKey", to_decimal(c.range.start));
    w.field("EndingHashKey", to_decimal(c.range.end));
    w.end_object();
    w.end_object();
  }
  w.end_array();
}

}  // namespace eddy::api
