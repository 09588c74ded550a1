// Firehose S3 prefixes: validation of the documented rules and evaluation of the
// !{timestamp:...}, !{firehose:random-string} and !{firehose:error-output-type} expressions
// (firehose.md §3).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::delivery {

struct Prefixes {
  std::string prefix;        // as configured, with the default time path appended when needed
  std::string error_prefix;  // as configured, or derived from `prefix` when none was given
};

// Applies rules 1–6 and returns the effective prefixes, or InvalidArgument with Firehose's message.
Result<Prefixes> resolve_prefixes(const std::string& prefix, const std::optional<std::string>& error_prefix);

// Evaluates a prefix for an object whose oldest record arrived at `ts`. `random` supplies
// !{firehose:random-string} values (11 characters each); `error_type` fills
// !{firehose:error-output-type}.
std::string evaluate_prefix(const std::string& prefix, TimestampMs ts, const std::function<std::string()>& random,
                            const std::string& error_type = "");

// java.time.format.DateTimeFormatter subset: yyyy yy MM M dd d HH H mm ss SSS, 'quoted' text.
std::string format_java_time(const std::string& pattern, TimestampMs ts);

}  // namespace eddy::delivery
