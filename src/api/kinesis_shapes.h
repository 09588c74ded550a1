// How Kinesis answers are shaped: the parts several operations write (a shard, the stream mode,
// the enhanced-monitoring metrics, the warm throughput) and GetRecords' records in JSON, written in
// one pass (the read hot path).
#pragma once

#include <string>
#include <vector>

#include "api/writer.h"
#include "stream/stream_store.h"

namespace eddy::api {

void write_shard(Writer& w, const stream::ShardSnapshot& s);
void write_mode(Writer& w, stream::StreamMode mode);
void write_metric_names(Writer& w, const char* key, const std::vector<std::string>& metrics);
void write_monitoring(Writer& w, const std::vector<std::string>& metrics);
// EncryptionType, and KeyId when the stream is encrypted (`key_id` not empty).
void write_encryption(Writer& w, const std::string& key_id);
// Nothing unless the stream has a warm throughput (on-demand streams that were given one).
void write_warm_throughput(Writer& w, const stream::StreamSnapshot& s);
// GetRecords' "Records" array (and the object's opening) appended to `out`.
void write_records_json(const stream::GetRecordsResult& r, std::string& out);
// `,"ChildShards":[...]` appended to `out` (nothing when there are none).
void append_child_shards_json(std::string& out, const std::vector<stream::ChildShard>& children);
// The same through a Writer (CBOR), inside an object.
void write_records(Writer& w, const stream::GetRecordsResult& r);
void write_child_shards(Writer& w, const std::vector<stream::ChildShard>& children);

}  // namespace eddy::api
