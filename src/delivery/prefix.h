// Firehose S3 prefixes: validation of the documented rules and evaluation of the
// !{timestamp:...}, !{firehose:random-string} and !{firehose:error-output-type} expressions
// (firehose.md §3).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::delivery {

struct Prefixes {
  std::string prefix;        // as configured, with the default time path appended when needed
  std::string error_prefix;  // as configured, or derived from `prefix` when none was given
};

// Applies rules 1–6 and returns the effective prefixes, or InvalidArgument with Firehose's message.
Result<Prefixes> resolve_prefixes(const std::string& prefix, const std::optional<std::string>& error_prefix);

// Whether `prefix`, evaluated, followed by `object_name` is a key a bucket directory can hold
// (common/path_names.h: no "." or ".." segment, not absolute, segments fit a file name, ...);
// InvalidArgument naming `what` and the rule otherwise. `partition_keys`: a record's values (a
// record whose values fail goes to the error output); null: "k" for every key the prefix names
// (the check at create).
Status check_prefix_forms_keys(std::string_view what, const std::string& prefix, std::string_view object_name,
                               const std::map<std::string, std::string>* partition_keys = nullptr);

// Evaluates a prefix for an object whose oldest record arrived at `ts`. `random` supplies
// !{firehose:random-string} values (11 characters each); `error_type` fills
// !{firehose:error-output-type}.
// Dynamic partitioning: `partition_keys` holds "query:<key>" and "lambda:<key>" values for
// !{partitionKeyFromQuery:<key>} and !{partitionKeyFromLambda:<key>}.
std::string evaluate_prefix(const std::string& prefix, TimestampMs ts, const std::function<std::string()>& random,
                            const std::string& error_type = "",
                            const std::map<std::string, std::string>* partition_keys = nullptr);

// The JQ subset of MetadataExtractionQuery: `{name: .a.b, other: .c}`. Returns the key -> value map
// for one JSON record, or nullopt when the record is not JSON or a path is missing.
struct PartitionQuery {
  std::vector<std::pair<std::string, std::vector<std::string>>> fields;
};
Result<PartitionQuery> parse_partition_query(const std::string& query);
std::optional<std::map<std::string, std::string>> extract_partition_keys(const PartitionQuery& q,
                                                                         std::string_view record);

// java.time.format.DateTimeFormatter subset: yyyy yy MM M dd d HH H mm ss SSS, 'quoted' text.
std::string format_java_time(const std::string& pattern, TimestampMs ts);

}  // namespace eddy::delivery
