// In-application rows as JSON objects keyed by column name: the format written to output
// streams, printed by `eddy sql run`, and read by the dashboard.
#pragma once

#include <string>

#include "runtime/application.h"

namespace eddy::runtime {

// {"col": value, ...} in column order: TIMESTAMP as "yyyy-MM-dd HH:mm:ss.SSS", REAL as a float32.
void append_row_json(const StreamDef& def, const Row& row, std::string& out);
std::string row_json(const StreamDef& def, const Row& row);
// The values as text in column order, comma-separated (an output's CSV DestinationSchema).
std::string csv_line(const StreamDef& def, const Row& row);

}  // namespace eddy::runtime
