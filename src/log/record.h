// What a shard log stores per record, and the views it hands back.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/clock.h"

namespace eddy::log {

// Position of a record in its shard's log: 0, 1, 2, ... without gaps.
using Offset = uint64_t;

struct AppendRecord {
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty when the producer gave none
  std::string_view data;
  bool encrypted = false;  // `data` is sealed (common/record_cipher.h): readers must open it
};

// A record read back; the views point into the ReadResult that returned it.
struct RecordView {
  Offset offset;
  TimestampMs arrival_ms;
  std::string_view partition_key;
  std::string_view explicit_hash_key;
  std::string_view data;
  // Stored sealed. A shard storage's reads give the sealed bytes; the stream store's give the
  // plaintext and keep the flag, for clients that show it.
  bool encrypted = false;
};

}  // namespace eddy::log
