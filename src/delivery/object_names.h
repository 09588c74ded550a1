// The keys of a round's objects and the ids of its requests. Each derives only from the delivery
// stream, its version and the round's source ranges (or the round's key), never from the clock or
// a random source: a round redone after a crash writes the same objects under the same keys and
// sends the same request ids, which is what makes delivery exactly-once.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"
#include "delivery/delivery_state.h"
#include "delivery/destination.h"

namespace eddy::delivery {

// The object key and error-object key of a round whose oldest record arrived at `oldest`:
// <prefix>NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID<extension>, the error key under the error prefix
// (processing-failed) without the extension.
Intent round_keys(const Destination& d, const std::string& name, int64_t version, const SourceRanges& ranges,
                  TimestampMs oldest);

// The key of the `part`-th partition object of the round `key` (dynamic partitioning), whose
// records have the partition key values `keys`.
std::string partition_key_of(const Destination& d, const std::string& name, int64_t version, const std::string& key,
                             int part, const std::map<std::string, std::string>& keys, TimestampMs oldest);

// A UUID-shaped id for the `part`-th request of the round `key` (HTTP endpoint request ids).
std::string request_id(const std::string& key, size_t part);

// Where the records a destination refused go: the error prefix evaluated with `error_type`
// (http-endpoint-failed, kinesis-stream-failed) followed by the round key's object name.
std::string failed_key(const Destination& d, TimestampMs arrival, const std::string& error_type,
                       const std::string& key);

}  // namespace eddy::delivery
