// Reference data of a SQL application (KDA's ReferenceDataSources): the tables its code may join,
// loaded from their objects each time the application is launched (StartApplication, an update,
// a restart), as KDA loads them at start and reloads them on UpdateApplication.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "runtime/application.h"

namespace eddy::host {

// The bytes of object `key` in bucket `bucket` (a name, not an ARN): a bucket directory of the
// server or S3 (serve_command.cc wires it). NotFound when there is no such object.
using ObjectReader = std::function<Result<std::string>(const std::string& bucket, const std::string& key)>;

// The tables `config`'s ReferenceDataSources declare, as the SQL compiler takes them; an error
// when a ReferenceSchema cannot be read.
Result<std::vector<runtime::StreamDef>> reference_tables(const nlohmann::json& config);

// KDA's rules for ReferenceDataSources: InvalidArgument with the rule broken.
Status check_reference_sources(const nlohmann::json& config);

// What a launch loaded, per table: shown by DescribeApplication (EddyReferenceData) and eddy apps.
struct ReferenceLoad {
  std::string table;
  uint64_t rows = 0;
  uint64_t skipped = 0;
  std::string digest;  // SHA-256 of the object's bytes the table holds
  TimestampMs loaded_ms = 0;
  std::string error;  // why the object could not be used now (the table is then the last good one)
  nlohmann::json to_json() const;
};

// One table's object: where it is and how its records become rows.
struct ReferenceSource {
  std::string table;
  std::string bucket_arn;  // arn:aws:s3:::bucket
  std::string key;
  runtime::InputSchema schema;
};

// A Flink filesystem table's 'path' = 's3://bucket/key' as a source; InvalidArgument for any
// other path (the server reads buckets, never its own files) or a key that is not an object's.
Result<ReferenceSource> flink_reference_source(const std::string& table, const std::string& path,
                                               runtime::InputSchema schema);

// Reads and parses each table's object and gives it to `app`. A missing, unreadable, oversized
// or unparseable object does not stop the application: it keeps the last good copy of that table
// (kept under `snapshot_dir`), or an empty one, and the returned load says why.
std::vector<ReferenceLoad> load_reference_data(const nlohmann::json& config, const ObjectReader& reader,
                                               const std::filesystem::path& snapshot_dir, runtime::Application& app,
                                               const Clock& clock);
std::vector<ReferenceLoad> load_reference_sources(const std::vector<ReferenceSource>& sources,
                                                  const ObjectReader& reader, const std::filesystem::path& snapshot_dir,
                                                  runtime::Application& app, const Clock& clock);

}  // namespace eddy::host
