#include "sql/flink_tables.h"

#include <set>

#include "sql/parser.h"

namespace eddy::sql {

namespace {

std::string option(const CreateTable& t, std::string_view key) {
  for (const auto& [k, v] : t.options) {
    if (k == key) return v;
  }
  return {};
}

// Flink's csv.field-delimiter: one character, or a tab written as '\t'.
Result<std::string> field_delimiter(const CreateTable& t) {
  std::string d = option(t, "csv.field-delimiter");
  if (d.empty()) return std::string(",");
  if (d == "\\t") d = "\t";
  if (d.size() != 1) {
    return make_error(Errc::kInvalidArgument,
                      "table " + t.name.name + ": 'csv.field-delimiter' must be one character, got '" + d + "'");
  }
  return d;
}

}  // namespace

bool is_file_table(const CreateTable& table) {
  return option(table, "connector") == "filesystem";
}

Result<std::vector<FlinkFileTable>> flink_file_tables(const Script& script) {
  std::set<std::string> written;
  for (const auto& st : script.statements) {
    if (st.insert) written.insert(st.insert->target.name);
  }
  std::vector<FlinkFileTable> tables;
  for (const auto& st : script.statements) {
    if (!st.create_table || !is_file_table(*st.create_table) || written.count(st.create_table->name.name)) continue;
    const CreateTable& t = *st.create_table;
    FlinkFileTable out;
    out.name = t.name.name;
    out.path = option(t, "path");
    if (out.path.empty()) {
      return make_error(Errc::kInvalidArgument,
                        "table " + out.name + ": a filesystem table needs 'path' = 's3://bucket/key' in WITH (...)");
    }
    const std::string format = option(t, "format");
    if (format == "csv") {
      auto d = field_delimiter(t);
      if (!d) return tl::unexpected(d.error());
      out.schema.csv = true;
      out.schema.column_delimiter = *d;
      out.schema.row_delimiter = "\n";
      for (const auto& c : t.columns) out.schema.columns.push_back({c.name.name, {}, c.type});
    } else if (format == "json") {
      out.schema.row_path = "$";
      for (const auto& c : t.columns) out.schema.columns.push_back({c.name.name, {c.name.name}, c.type});
    } else {
      return make_error(Errc::kInvalidArgument, "table " + out.name + ": 'format' = '" + format +
                                                    "' is not supported for a filesystem table (csv or json)");
    }
    runtime::index_schema(out.schema);
    tables.push_back(std::move(out));
  }
  return tables;
}

Result<std::vector<FlinkFileTable>> flink_file_tables(std::string_view code) {
  auto script = parse_script(code);
  if (!script || !script->flink) return std::vector<FlinkFileTable>{};
  return flink_file_tables(*script);
}

}  // namespace eddy::sql
