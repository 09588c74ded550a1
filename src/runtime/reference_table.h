// A reference data table (KDA's ReferenceDataSource): an object's rows, parsed once by its
// ReferenceSchema, which pumps join streams with (sqlref/sql-reference-join-clause).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/input_schema.h"
#include "runtime/value.h"

namespace eddy::runtime {

struct ReferenceTable {
  std::vector<Row> rows;                  // ROWTIME 0: a table has none
  uint64_t skipped = 0;                   // records that did not map (a CSV header, a bad value)
  std::vector<std::string> skip_reasons;  // the first few, "line N: reason"
};

// The largest object KDA loads as reference data (dev/limits).
inline constexpr size_t kMaxReferenceBytes = size_t{1} << 30;

// Parses an object's bytes: CSV lines split by the schema's row delimiter, or JSON documents
// (newline-separated or concatenated) mapped by RecordRowPath. Records that do not map are
// skipped and counted. An error when the object is too large, or holds records and none maps.
Result<ReferenceTable> load_reference_table(const InputSchema& schema, std::string_view bytes);

// Where a pump finds its table: filled before the application's first row (a table changes only
// when the application is launched again), read without locks after that.
struct TableSlot {
  std::shared_ptr<const ReferenceTable> table;
};

}  // namespace eddy::runtime
