// Flink tables read from a file or an object ('connector' = 'filesystem'): in eddy they are
// reference tables, loaded whole when the application starts and joined by its queries, as KDA's
// reference data is (a Flink lookup join against a table that does not change while it runs).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/input_schema.h"
#include "sql/ast.h"

namespace eddy::sql {

struct FlinkFileTable {
  std::string name;
  std::string path;             // WITH ('path' = ...): s3://bucket/key, or a local file for `eddy sql run`
  runtime::InputSchema schema;  // the table's columns, read as its 'format' says (csv or json)
};

// The script's filesystem tables that no INSERT writes; an error names a table whose options
// cannot be read (no path, a format other than csv or json, a bad delimiter).
Result<std::vector<FlinkFileTable>> flink_file_tables(const Script& script);
// The same from code; none for KDA SQL or code that does not parse (compiling says why).
Result<std::vector<FlinkFileTable>> flink_file_tables(std::string_view code);

// True for a CREATE TABLE whose connector is 'filesystem'.
bool is_file_table(const CreateTable& table);

}  // namespace eddy::sql
