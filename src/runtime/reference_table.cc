#include "runtime/reference_table.h"

#include <algorithm>

#include <simdjson.h>

namespace eddy::runtime {

namespace {

constexpr size_t kReasonsKept = 5;

void skip(ReferenceTable& t, size_t record, const std::string& why) {
  ++t.skipped;
  if (t.skip_reasons.size() < kReasonsKept) t.skip_reasons.push_back("record " + std::to_string(record) + ": " + why);
}

void add_rows(ReferenceTable& t, std::vector<std::vector<Value>> rows) {
  for (auto& values : rows) t.rows.push_back(Row{0, std::move(values), 0, 0});
}

}  // namespace

Result<ReferenceTable> load_reference_table(const InputSchema& schema, std::string_view bytes) {
  if (bytes.size() > kMaxReferenceBytes) {
    return make_error(Errc::kInvalidArgument, "the reference object holds " + std::to_string(bytes.size()) +
                                                  " bytes; reference data is at most 1 GiB");
  }
  ReferenceTable t;
  size_t records = 0;
  if (schema.csv) {
    const std::string& delimiter = schema.row_delimiter.empty() ? std::string("\n") : schema.row_delimiter;
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t end = bytes.find(delimiter, pos);
      if (end == std::string_view::npos) end = bytes.size();
      std::string_view line = bytes.substr(pos, end - pos);
      pos = end + delimiter.size();
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      ++records;
      auto rows = map_record(schema, line);
      if (!rows) {
        skip(t, records, rows.error().message);
        continue;
      }
      add_rows(t, std::move(*rows));
    }
  } else {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(bytes);
    simdjson::dom::document_stream docs;
    if (auto err =
            parser.parse_many(padded, std::max<size_t>(simdjson::dom::DEFAULT_BATCH_SIZE, bytes.size() + 1)).get(docs);
        err) {
      return make_error(Errc::kInvalidArgument,
                        std::string("the reference object is not JSON: ") + simdjson::error_message(err));
    }
    for (auto it = docs.begin(); it != docs.end(); ++it) {
      ++records;
      simdjson::dom::element doc;
      if (auto err = (*it).get(doc); err) {
        skip(t, records, std::string("not JSON: ") + simdjson::error_message(err));
        break;  // the stream cannot resynchronise after a malformed document
      }
      auto rows = map_document(schema, doc);
      if (!rows) {
        skip(t, records, rows.error().message);
        continue;
      }
      add_rows(t, std::move(*rows));
    }
    if (const size_t cut = docs.truncated_bytes(); cut > 0) {
      ++records;
      skip(t, records, "the object ends inside a JSON document (its last " + std::to_string(cut) + " bytes)");
    }
  }
  if (records > 0 && t.rows.empty()) {
    return make_error(Errc::kInvalidArgument, "no record of the reference object matches its schema (" +
                                                  (t.skip_reasons.empty() ? std::string() : t.skip_reasons.front()) +
                                                  ")");
  }
  return t;
}

}  // namespace eddy::runtime
