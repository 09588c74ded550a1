// AWS's event-stream framing (application/vnd.amazon.eventstream), as SubscribeToShard answers:
// each message is a prelude (total length, headers length, CRC32 of those 8 bytes), headers,
// the payload and a CRC32 of everything before it. Integers are big-endian; eddy writes string
// headers only (type 7).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace eddy::api {

using EventHeaders = std::vector<std::pair<std::string, std::string>>;

struct EventMessage {
  EventHeaders headers;
  std::string payload;
  // The value of header `name`, if present.
  std::optional<std::string> header(std::string_view name) const;
};

std::string encode_event_message(const EventHeaders& headers, std::string_view payload);
// One message from the front of `bytes` and its size; nullopt when `bytes` holds less than a
// whole message; an error when the framing or a checksum is wrong. Header values of types other
// than strings are skipped. (For tests and eddy's own clients.)
Result<std::optional<std::pair<EventMessage, size_t>>> decode_event_message(std::string_view bytes);

// The messages of an event stream: an event of `event_type` with `payload` of `content_type`,
// and an exception of `exception_type`.
std::string event_message(std::string_view event_type, std::string_view content_type, std::string_view payload);
std::string exception_message(std::string_view exception_type, std::string_view content_type, std::string_view payload);

}  // namespace eddy::api
