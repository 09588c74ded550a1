// Fuzz target: a record through a SQL application's input mapping, as the server maps every record
// of a source stream (JSON paths into nested documents, type coercions, CSV). The first byte picks
// the schema; the rest is the record. For the flat schema, the on-demand mapping (the hot path of
// sql run and of servers) runs too and must agree with the general one wherever it takes a record.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "runtime/flat_ondemand.h"
#include "runtime/input_schema.h"

namespace {

// The fuzzer's own schemas must parse: a failure here is a bug of this file, not a finding.
eddy::runtime::InputSchema must(eddy::Result<eddy::runtime::InputSchema> r) {
  if (!r) __builtin_trap();
  return std::move(*r);
}

const eddy::runtime::InputSchema& schema(uint8_t which) {
  static const auto json_flat = must(eddy::runtime::parse_input_schema(R"json({
    "RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
    "RecordEncoding": "UTF-8",
    "RecordColumns": [{"Name": "category", "Mapping": "$.category", "SqlType": "VARCHAR(16)"},
                      {"Name": "store_id", "Mapping": "$.store_id", "SqlType": "VARCHAR(16)"},
                      {"Name": "evnt_time", "Mapping": "$.evnt_time", "SqlType": "TIMESTAMP"},
                      {"Name": "sales", "Mapping": "$.sales", "SqlType": "REAL"},
                      {"Name": "qty", "Mapping": "$.qty", "SqlType": "SMALLINT"}]})json"));
  static const auto json_nested = must(eddy::runtime::parse_input_schema(R"json({
    "RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$.rows"}}},
    "RecordEncoding": "UTF-8",
    "RecordColumns": [{"Name": "a", "Mapping": "$.a.b.c", "SqlType": "BIGINT"},
                      {"Name": "d", "Mapping": "$.d", "SqlType": "DECIMAL(10,2)"},
                      {"Name": "e", "Mapping": "$.e", "SqlType": "BOOLEAN"},
                      {"Name": "f", "Mapping": "$.f", "SqlType": "DOUBLE"},
                      {"Name": "g", "Mapping": "$.g", "SqlType": "VARCHAR(4)"}]})json"));
  static const auto csv = must(eddy::runtime::parse_input_schema(R"json({
    "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
    "RecordEncoding": "UTF-8",
    "RecordColumns": [{"Name": "TICKER", "SqlType": "VARCHAR(8)"}, {"Name": "PRICE", "SqlType": "DOUBLE"},
                      {"Name": "EVENT_TIME", "SqlType": "TIMESTAMP"}, {"Name": "N", "SqlType": "INTEGER"}]})json"));
  switch (which % 3) {
    case 0:
      return json_flat;
    case 1:
      return json_nested;
    default:
      return csv;
  }
}

// The record as one line of a block, as sql run reads it: if the on-demand path takes it, the
// general path takes it too, with the same row.
void check_ondemand(const eddy::runtime::InputSchema& schema, const std::string& record) {
  if (!schema.ondemand || record.find('\n') != std::string::npos) return;
  const simdjson::padded_string padded(record);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document_stream docs;
  if (parser.iterate_many(padded.data(), padded.size(), padded.size() + 1).get(docs)) return;
  auto it = docs.begin();
  if (!(it != docs.end()) || (*it).error() || it.current_index() != 0 || it.source().size() != record.size()) return;
  simdjson::ondemand::document_reference doc;
  simdjson::ondemand::object object;
  std::vector<eddy::runtime::Value> values;
  std::vector<int> hints;
  if ((*it).get(doc) || doc.get_object().get(object) || !map_flat_ondemand(schema, object, values, hints, -1)) return;
  auto general = eddy::runtime::map_record(schema, record);
  if (!general || general->size() != 1 || (*general)[0] != values) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string record(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)eddy::runtime::map_record(schema(data[0]), record);
  check_ondemand(schema(data[0]), record);
  return 0;
}
