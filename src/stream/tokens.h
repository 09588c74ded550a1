// Opaque tokens handed to clients: shard iterators and pagination tokens. Each carries its issue
// time (they expire after 5 minutes) and a CRC so a damaged or invented token is recognised.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "log/record.h"

namespace eddy::stream {

struct IteratorToken {
  uint64_t stream_id;
  uint32_t shard_index;
  log::Offset offset;
  TimestampMs issued_ms;
};

std::string encode_iterator(const IteratorToken& t);
std::optional<IteratorToken> decode_iterator(std::string_view text);

// ListShards / ListStreams continuation: which stream, where to continue, when issued.
struct PageToken {
  uint64_t stream_id;
  std::string after;  // last shard id / stream name returned
  TimestampMs issued_ms;
};

std::string encode_page_token(const PageToken& t);
std::optional<PageToken> decode_page_token(std::string_view text);

}  // namespace eddy::stream
