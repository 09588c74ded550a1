// The Kinesis Producer Library's aggregated records: many user records packed into one Kinesis
// record as the 4 magic bytes F3 89 9A C2, a protobuf AggregatedRecord, and the MD5 of that
// protobuf. Consumers (the KCL, Flink's connector, and eddy's) unpack them; each user record
// keeps the Kinesis record's sequence number and gets its position as a sub-sequence number.
//
//   message AggregatedRecord { repeated string partition_key_table = 1;
//                              repeated string explicit_hash_key_table = 2;
//                              repeated Record records = 3; }
//   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//                    required bytes data = 3; repeated Tag tags = 4; }
//
// The wire format is read here directly (three messages, a fixed schema) rather than through
// protoc-generated code: the reader is short, bounded by its input and needs no build step. A
// record is input from any producer, so every length and index is checked.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace eddy::stream::kpl {

inline constexpr std::string_view kMagic = "\xF3\x89\x9A\xC2";
// More user records than this in one Kinesis record is refused (the KPL packs far fewer: a record
// holds at most 10 MiB and each user record costs at least 6 bytes).
inline constexpr size_t kMaxUserRecords = 1'000'000;

// A user record; the views point into the Kinesis record's data.
struct UserRecord {
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty if none
  std::string_view data;
};

// Whether `data` is meant as an aggregate: the magic bytes and room for a digest. Anything else
// is a plain record, as for the KCL.
bool is_aggregated(std::string_view data);

// The user records of an aggregate, in order; kInvalidArgument saying what is wrong (the digest
// does not match, the protobuf is malformed, an index is out of its table) otherwise.
Result<std::vector<UserRecord>> deaggregate(std::string_view data);

// Packs `records` as the KPL does (eddy put --aggregate; tests).
struct UserRecordIn {
  std::string partition_key;
  std::string explicit_hash_key;  // empty if none
  std::string data;
};
std::string aggregate(const std::vector<UserRecordIn>& records);

}  // namespace eddy::stream::kpl
