// DiscoverInputSchema: an InputSchema inferred from sample records.

#include <algorithm>

#include <simdjson.h>

#include "host/application_host.h"
#include "runtime/input_schema.h"
#include "stream/sequence_number.h"
#include "stream/stream.h"

namespace eddy::host {

using runtime::parse_timestamp_text;

Result<nlohmann::json> ApplicationHost::discover_schema(const std::string& stream_name, const std::string& position,
                                                        const nlohmann::json& processing) const {
  auto shards = store_.shards(stream_name);
  if (!shards) return tl::unexpected(shards.error());
  std::vector<std::string> raw;
  std::vector<PreprocessRecord> sample;
  for (const auto& s : *shards) {
    if (raw.size() >= 100) break;
    uint64_t from = 0;
    if (position == "NOW") {
      auto p = store_.shard_position(stream_name, s.index, stream::IteratorType::kLatest);
      if (p) from = *p;
    }
    auto read = store_.read_shard(stream_name, s.index, from, 100 - raw.size());
    if (!read) continue;
    for (const auto& rec : read->read.records) {
      raw.emplace_back(rec.data);
      sample.push_back({std::to_string(sample.size()), std::string(rec.data), stream::shard_id(s.index),
                        std::string(rec.partition_key), stream::encode_sequence_number(s.index, rec.offset),
                        rec.arrival_ms});
    }
  }
  if (processing.is_null()) return infer_schema(raw, "stream " + stream_name);
  // The sample goes through the preprocessor as an application's records would.
  nlohmann::json input = {{"InputProcessingConfiguration", processing},
                          {"KinesisStreamsInput", {{"ResourceARN", store_.arn(stream_name)}}}};
  auto processor = processor_for("DiscoverInputSchema", input);
  if (!processor) return tl::unexpected(processor.error());
  const std::atomic<bool> never{false};
  auto outcomes = (*processor)(sample, never);
  if (!outcomes) {
    return make_error(Errc::kUnableToDetectSchema,
                      "the preprocessing function failed on the sample: " + outcomes.error().message);
  }
  std::vector<std::string> processed;
  for (const auto& o : *outcomes) {
    if (o.result == PreprocessOutcome::Result::kOk) processed.push_back(o.data);
  }
  return infer_schema(processed, "stream " + stream_name + " after its preprocessor", &raw);
}

Result<nlohmann::json> ApplicationHost::infer_schema(const std::vector<std::string>& raw, const std::string& source,
                                                     const std::vector<std::string>* unprocessed) const {
  if (raw.empty()) {
    return make_error(Errc::kUnableToDetectSchema,
                      "No records could be read from " + source + " to infer a schema; add sample records first");
  }
  // Column types from every record's top-level fields, in order of first appearance.
  struct Col {
    std::string name;
    bool any = false, is_bool = true, is_int = true, is_number = true, is_timestamp = true;
    bool big = false;
    size_t max_len = 1;
  };
  std::vector<Col> cols;
  simdjson::dom::parser parser;
  size_t parsed = 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& rec : raw) {
    simdjson::dom::object obj;
    if (parser.parse(rec).get(obj)) continue;
    ++parsed;
    for (auto field : obj) {
      const std::string key(field.key);
      auto it = std::find_if(cols.begin(), cols.end(), [&](const Col& c) { return c.name == key; });
      if (it == cols.end()) {
        cols.push_back({key});
        it = std::prev(cols.end());
      }
      const auto v = field.value;
      if (v.is_null()) continue;
      it->any = true;
      const std::string text = v.is_string() ? std::string(std::string_view(v)) : simdjson::minify(v);
      it->max_len = std::max(it->max_len, text.size());
      it->is_bool &= v.is_bool();
      it->is_int &= v.is_int64() || v.is_uint64();
      it->is_number &= v.is_number();
      if (v.is_int64() && (int64_t(v) > INT32_MAX || int64_t(v) < INT32_MIN)) it->big = true;
      TimestampMs ts;
      it->is_timestamp &= v.is_string() && text.size() >= 10 && parse_timestamp_text(text, ts);
    }
  }
  if (parsed == 0) {
    return make_error(Errc::kUnableToDetectSchema, "The records of " + source + " are not JSON objects");
  }
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : cols) {
    std::string type;
    if (!c.any)
      type = "VARCHAR(8)";
    else if (c.is_bool)
      type = "BOOLEAN";
    else if (c.is_int)
      type = c.big ? "BIGINT" : "INTEGER";
    else if (c.is_number)
      type = "DOUBLE";
    else if (c.is_timestamp)
      type = "TIMESTAMP";
    else {
      size_t n = 4;
      while (n < c.max_len) n *= 2;
      type = "VARCHAR(" + std::to_string(n) + ")";
    }
    columns.push_back({{"Name", c.name}, {"Mapping", "$." + c.name}, {"SqlType", type}});
  }
  for (const auto& rec : raw) {
    simdjson::dom::object obj;
    if (parser.parse(rec).get(obj)) continue;
    std::vector<std::string> row;
    for (const auto& c : cols) {
      simdjson::dom::element v;
      if (obj.at_key(c.name).get(v) || v.is_null())
        row.emplace_back("");
      else
        row.push_back(v.is_string() ? std::string(std::string_view(v)) : simdjson::minify(v));
    }
    rows.push_back(std::move(row));
  }
  nlohmann::json out;
  out["InputSchema"] = {
      {"RecordFormat",
       {{"RecordFormatType", "JSON"}, {"MappingParameters", {{"JSONMappingParameters", {{"RecordRowPath", "$"}}}}}}},
      {"RecordEncoding", "UTF-8"},
      {"RecordColumns", columns}};
  out["ParsedInputRecords"] = rows;
  out["ProcessedInputRecords"] = raw;
  out["RawInputRecords"] = unprocessed ? *unprocessed : raw;
  return out;
}

}  // namespace eddy::host
