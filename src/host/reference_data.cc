#include "host/reference_data.h"

#include "common/digest.h"
#include "common/file_util.h"
#include "common/path_names.h"
#include "runtime/reference_table.h"

namespace eddy::host {

using nlohmann::json;

Result<std::vector<runtime::StreamDef>> reference_tables(const json& config) {
  std::vector<runtime::StreamDef> tables;
  for (const auto& source : config.value("ReferenceDataSources", json::array())) {
    runtime::StreamDef def;
    def.name = source.value("TableName", "");
    auto schema = runtime::parse_input_schema(source.value("ReferenceSchema", json::object()).dump());
    if (!schema)
      return make_error(Errc::kInvalidArgument, "ReferenceSchema of " + def.name + ": " + schema.error().message);
    for (const auto& c : schema->columns) def.columns.push_back({c.name, c.type});
    tables.push_back(std::move(def));
  }
  return tables;
}

// KDA's rules for ReferenceDataSources (dev/limits, the API reference): one per application, a
// bucket ARN and an object key that name an object, a table name that is not a stream's.
Status check_reference_sources(const json& config) {
  const auto sources = config.value("ReferenceDataSources", json::array());
  if (sources.size() > 1)
    return make_error(Errc::kInvalidArgument, "an application has at most one reference data source");
  for (const auto& source : sources) {
    const auto s3 = source.value("S3ReferenceDataSource", json::object());
    auto bucket = bucket_from_arn(s3.value("BucketARN", ""));
    if (!bucket)
      return make_error(Errc::kInvalidArgument, "S3ReferenceDataSource.BucketARN: " + bucket.error().message);
    if (auto key = object_path("/", s3.value("FileKey", "")); !key)
      return make_error(Errc::kInvalidArgument, "S3ReferenceDataSource.FileKey: " + key.error().message);
    const std::string table = source.value("TableName", "");
    if (table.empty()) return make_error(Errc::kInvalidArgument, "a reference data source needs a TableName");
    // The code's own streams are checked when it compiles; the inputs' here, so that code added
    // later is not refused for a table added first.
    bool taken = table == runtime::kErrorStream;
    for (const auto& in : config.value("Inputs", json::array())) {
      const int lanes = in.value("InputParallelism", json::object()).value("Count", 1);
      for (int lane = 0; lane < lanes; ++lane)
        taken |= table == runtime::input_stream_name(in.value("NamePrefix", ""), static_cast<size_t>(lane));
    }
    if (taken)
      return make_error(Errc::kInvalidArgument, "TableName " + table + " is the name of an in-application stream");
  }
  return {};
}

Result<ReferenceSource> flink_reference_source(const std::string& table, const std::string& path,
                                               runtime::InputSchema schema) {
  constexpr std::string_view kScheme = "s3://";
  const size_t slash = path.find('/', kScheme.size());
  if (!path.starts_with(kScheme) || slash == std::string::npos || slash == kScheme.size() || slash + 1 >= path.size()) {
    return make_error(Errc::kInvalidArgument, "table " + table + ": 'path' = '" + path +
                                                  "' must name an object, s3://bucket/key (the server reads "
                                                  "buckets, not its own files)");
  }
  ReferenceSource s;
  s.table = table;
  s.bucket_arn = "arn:aws:s3:::" + path.substr(kScheme.size(), slash - kScheme.size());
  s.key = path.substr(slash + 1);
  if (auto bucket = bucket_from_arn(s.bucket_arn); !bucket)
    return make_error(Errc::kInvalidArgument, "table " + table + ": " + bucket.error().message);
  if (auto key = object_path("/", s.key); !key)
    return make_error(Errc::kInvalidArgument, "table " + table + ": " + key.error().message);
  s.schema = std::move(schema);
  return s;
}

json ReferenceLoad::to_json() const {
  json j = {
      {"TableName", table}, {"Rows", rows}, {"SkippedRecords", skipped}, {"Digest", digest}, {"LoadedAt", loaded_ms}};
  if (!error.empty()) j["Error"] = error;
  return j;
}

namespace {

struct Parsed {
  std::shared_ptr<const runtime::ReferenceTable> table;
  std::string digest;
};

Result<Parsed> parse(const runtime::InputSchema& schema, const std::string& bytes) {
  auto table = runtime::load_reference_table(schema, bytes);
  if (!table) return tl::unexpected(table.error());
  return Parsed{std::make_shared<const runtime::ReferenceTable>(std::move(*table)), to_hex(sha256(bytes))};
}

}  // namespace

std::vector<ReferenceLoad> load_reference_data(const json& config, const ObjectReader& reader,
                                               const std::filesystem::path& snapshot_dir, runtime::Application& app,
                                               const Clock& clock) {
  std::vector<ReferenceSource> sources;
  for (const auto& source : config.value("ReferenceDataSources", json::array())) {
    auto schema = runtime::parse_input_schema(source.value("ReferenceSchema", json::object()).dump());
    if (!schema) continue;  // validate() refused it when it was stored
    const auto s3 = source.value("S3ReferenceDataSource", json::object());
    sources.push_back(
        {source.value("TableName", ""), s3.value("BucketARN", ""), s3.value("FileKey", ""), std::move(*schema)});
  }
  return load_reference_sources(sources, reader, snapshot_dir, app, clock);
}

std::vector<ReferenceLoad> load_reference_sources(const std::vector<ReferenceSource>& sources,
                                                  const ObjectReader& reader, const std::filesystem::path& snapshot_dir,
                                                  runtime::Application& app, const Clock& clock) {
  std::vector<ReferenceLoad> loads;
  for (const auto& source : sources) {
    ReferenceLoad load;
    load.table = source.table;
    load.loaded_ms = clock.now_ms();
    const runtime::InputSchema* schema = &source.schema;
    const std::string& key = source.key;
    Result<std::string> bytes = make_error(Errc::kInvalidArgument, "no object reader: the server reads no buckets");
    auto bucket = bucket_from_arn(source.bucket_arn);
    if (!bucket)
      bytes = tl::unexpected(bucket.error());
    else if (reader)
      bytes = reader(*bucket, key);
    Result<Parsed> parsed = bytes ? parse(*schema, *bytes) : tl::unexpected(bytes.error());
    // The snapshot's name is the table's hash: names are data, never paths.
    const auto snapshot = snapshot_dir / (to_hex(sha256(load.table)) + ".reference");
    if (parsed) {
      std::error_code ec;
      std::filesystem::create_directories(snapshot_dir, ec);
      if (auto st = write_file_atomic(snapshot, *bytes); !st)
        load.error = "the table is loaded, but its copy for later launches could not be kept: " + st.error().message;
    } else {
      load.error = "s3://" + (bucket ? *bucket : std::string("?")) + "/" + key + ": " + parsed.error().message;
      if (auto kept = read_file(snapshot)) {
        if (auto again = parse(*schema, *kept)) {
          parsed = std::move(again);
          load.error += "; the table holds the last good copy";
        }
      }
      if (!parsed) load.error += "; the table is empty until the object can be read";
    }
    if (parsed) {
      load.rows = parsed->table->rows.size();
      load.skipped = parsed->table->skipped;
      load.digest = parsed->digest;
      (void)app.set_table(load.table, parsed->table);
    } else {
      (void)app.set_table(load.table, std::make_shared<const runtime::ReferenceTable>());
    }
    loads.push_back(std::move(load));
  }
  return loads;
}

}  // namespace eddy::host
