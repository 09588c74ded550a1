// `eddy sql run`: an application over a bounded input, as if it were a stream. How users test
// application code before deploying it, and how the golden tests run.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "cli/app.h"
#include "cli/common_options.h"
#include "cli/progress.h"
#include "common/file_util.h"
#include "runtime/application.h"
#include "runtime/file_source.h"
#include "runtime/reference_table.h"
#include "runtime/row_format.h"
#include "sql/compile.h"
#include "sql/flink_tables.h"

namespace eddy::cli {
namespace {

struct SqlRunOptions {
  std::string sql_file;
  std::string schema_file;
  std::string input = "-";
  std::string arrival_field;
  std::string output = "DESTINATION_SQL_STREAM";
  std::string errors_file;
  std::string input_prefix = "SOURCE_SQL_STREAM";
  std::vector<std::string> references;         // NAME=FILE
  std::vector<std::string> reference_schemas;  // NAME=schema.json
  bool no_flush = false;
  bool key_groups = false;
  int parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

int run(const SqlRunOptions& o) {
  auto code = read_file(o.sql_file);
  if (!code) return fail("cannot read --sql " + o.sql_file + ": " + code.error().message);
  // KDA SQL takes its input's schema from --input-schema; Flink SQL from its source table.
  std::vector<runtime::ApplicationInput> inputs;
  if (!o.schema_file.empty()) {
    auto schema_text = read_file(o.schema_file);
    if (!schema_text) return fail("cannot read --input-schema " + o.schema_file + ": " + schema_text.error().message);
    auto parsed = runtime::parse_input_schema(*schema_text);
    if (!parsed) return fail("--input-schema " + o.schema_file + ": " + parsed.error().message);
    runtime::ApplicationInput input;
    input.name_prefix = o.input_prefix;
    input.schema = std::move(*parsed);
    inputs.push_back(std::move(input));
  }
  // Reference tables: --reference NAME=FILE with --reference-schema NAME=schema.json, each the
  // ReferenceSchema of AddApplicationReferenceDataSource.
  std::map<std::string, std::string> table_files, table_schemas;
  auto split = [](const std::string& arg, const char* option, std::map<std::string, std::string>& into) -> bool {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) return false;
    into[arg.substr(0, eq)] = arg.substr(eq + 1);
    (void)option;
    return true;
  };
  for (const auto& r : o.references) {
    if (!split(r, "--reference", table_files)) return fail("--reference takes NAME=FILE, got '" + r + "'");
  }
  for (const auto& r : o.reference_schemas) {
    if (!split(r, "--reference-schema", table_schemas))
      return fail("--reference-schema takes NAME=schema.json, got '" + r + "'");
  }
  std::vector<runtime::StreamDef> tables;
  std::map<std::string, runtime::InputSchema> schemas;
  // Flink filesystem tables bring their schema; their 'path' is read unless --reference names
  // another file (an s3:// path needs one: sql run reads no buckets).
  auto file_tables = sql::flink_file_tables(*code);
  if (!file_tables) return fail(o.sql_file + ": " + file_tables.error().message);
  for (auto& f : *file_tables) {
    if (table_schemas.count(f.name)) continue;
    if (!table_files.count(f.name)) {
      if (f.path.starts_with("s3://")) {
        return fail("table " + f.name + " reads " + f.path + ": give its rows with --reference " + f.name +
                    "=FILE (sql run reads no buckets)");
      }
      table_files[f.name] = f.path.starts_with("file://") ? f.path.substr(7) : f.path;
    }
    schemas[f.name] = std::move(f.schema);
  }
  for (const auto& [name, file] : table_files) {
    if (schemas.count(name)) continue;  // a Flink table's own
    auto schema_file = table_schemas.find(name);
    if (schema_file == table_schemas.end())
      return fail("--reference " + name + " needs --reference-schema " + name + "=schema.json (its ReferenceSchema)");
    auto text = read_file(schema_file->second);
    if (!text) return fail("cannot read --reference-schema " + schema_file->second + ": " + text.error().message);
    auto parsed = runtime::parse_input_schema(*text);
    if (!parsed) return fail("--reference-schema " + schema_file->second + ": " + parsed.error().message);
    runtime::StreamDef def;
    def.name = name;
    for (const auto& c : parsed->columns) def.columns.push_back({c.name, c.type});
    tables.push_back(std::move(def));
    schemas[name] = std::move(*parsed);
  }
  for (const auto& [name, _] : table_schemas) {
    if (!table_files.count(name)) return fail("--reference-schema " + name + " has no --reference " + name + "=FILE");
  }
  // The threads of --parallelism parse and map; every row then goes through the pumps in its
  // block's turn, on one thread at a time, so keyed pumps' key groups (keyed_pump.h) would only
  // route each row to the copy holding its key there: 7 % more CPU at 2 threads on the seed, for
  // nothing a run without checkpoints can use. --key-groups keeps them, as a server has them.
  auto app = sql::compile_application(*code, inputs, SystemClock::instance(),
                                      o.key_groups ? static_cast<size_t>(std::max(1, o.parallelism)) : 1, o.key_groups,
                                      tables);
  if (!app) return fail(o.sql_file + ": " + app.error().message);
  for (const auto& [name, file] : table_files) {
    auto bytes = read_file(file);
    if (!bytes) return fail("cannot read --reference " + file + ": " + bytes.error().message);
    auto table = runtime::load_reference_table(schemas[name], *bytes);
    if (!table) return fail("--reference " + name + "=" + file + ": " + table.error().message);
    if (table->skipped > 0) {
      std::cerr << "eddy: --reference " << name << ": " << table->skipped
                << " record(s) skipped, first: " << table->skip_reasons.front() << "\n";
    }
    (void)(*app)->set_table(name, std::make_shared<const runtime::ReferenceTable>(std::move(*table)));
  }
  if ((*app)->input_count() == 0) {
    return fail(
        "--input-schema is required for KDA SQL (the InputSchema JSON of CreateApplication); Flink SQL needs a source "
        "table (CREATE TABLE ... that no INSERT writes)");
  }

  std::string output = o.output;
  if (!(*app)->stream(output) && output == "DESTINATION_SQL_STREAM") {
    // Flink: the table the application inserts into, when there is one.
    std::vector<std::string> outputs;
    for (const auto& n : (*app)->stream_names()) {
      const auto* d = (*app)->stream(n);
      if (!d->is_input && !d->is_table && n != runtime::kErrorStream && n.find('$') == std::string::npos)
        outputs.push_back(n);
    }
    if (outputs.size() == 1) output = outputs.front();
  }
  const auto* out_def = (*app)->stream(output);
  if (!out_def) {
    std::string names;
    for (const auto& n : (*app)->stream_names()) names += (names.empty() ? "" : ", ") + n;
    return fail("--output " + output + " is not an in-application stream of this application (it has " + names + ")");
  }
  std::string buffer;
  (void)(*app)->subscribe(output, [&](const runtime::Row& row) {
    runtime::append_row_json(*out_def, row, buffer);
    buffer.push_back('\n');
    if (buffer.size() > (1 << 16)) {
      std::cout << buffer;
      buffer.clear();
    }
  });
  std::ofstream errors;
  if (!o.errors_file.empty()) {
    errors.open(o.errors_file, std::ios::trunc);
    if (!errors) return fail("cannot write --errors " + o.errors_file);
  }
  runtime::StreamDef error_def{runtime::kErrorStream, runtime::error_stream_columns(), false};
  uint64_t error_count = 0;
  (void)(*app)->subscribe(runtime::kErrorStream, [&](const runtime::Row& row) {
    ++error_count;
    if (!errors.is_open()) return;
    std::string line = runtime::row_json(error_def, row);
    line.pop_back();
    line += ",\"input_line\":" + std::to_string(row.origin) + "}\n";
    errors << line;
  });

  int fd = 0;  // stdin
  if (o.input != "-") {
    fd = ::open(o.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot read --input " + o.input + ": " + std::strerror(errno));
  }
  Progress progress("sql run:");
  runtime::FileSourceOptions source;
  source.arrival_field = o.arrival_field;
  source.parallelism = o.parallelism;
  source.progress = [&](uint64_t records) { progress.update(records, error_count); };
  auto end = runtime::run_file_source(fd, **app, source);
  if (end && end->missing_arrival != 0) {
    return fail("--input line " + std::to_string(end->missing_arrival) + ": no arrival time in field '" +
                o.arrival_field + "' (give yyyy-MM-dd HH:mm:ss.SSS, ISO-8601 or epoch ms)");
  }
  if (fd != 0) ::close(fd);
  if (!end) return fail("--input " + o.input + ": " + end.error().message);
  if (!o.no_flush) (*app)->flush();
  std::cout << buffer;
  std::cout.flush();
  if (end->records >= 0x10000) progress.finish(end->records, error_count);
  return 0;
}

}  // namespace

void add_sql_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SqlRunOptions>();
  auto* cmd = app.add_subcommand("sql", "Run SQL application code");
  cmd->require_subcommand(1);
  auto* r =
      cmd->add_subcommand("run", "Run an application over a bounded input file, printing an output stream as NDJSON");
  r->add_option("--sql", o->sql_file, "Application code: KDA SQL, or Flink SQL (CREATE TABLE / INSERT INTO, detected)")
      ->required();
  r->add_option("--input-schema", o->schema_file,
                "InputSchema JSON, as CreateApplication takes it (KDA SQL; Flink SQL reads its source table)");
  r->add_option("--input", o->input, "Records, one per line (JSON or CSV); - for stdin")->capture_default_str();
  r->add_option("--arrival-time-field", o->arrival_field,
                "Field (CSV: 1-based column) holding each record's arrival time = ROWTIME; default: the wall clock");
  r->add_option("--output", o->output, "In-application stream to print")->capture_default_str();
  r->add_option(
       "--parallelism", o->parallelism,
       "Threads that parse and map the input (the pumps run on one, in record order; the results are the same)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  r->add_option("--errors", o->errors_file, "Write error_stream rows here as NDJSON (with input_line)");
  r->add_option("--input-prefix", o->input_prefix, "NamePrefix of the input (stream <prefix>_001)")
      ->capture_default_str();
  r->add_option("--reference", o->references,
                "A reference table the code joins: NAME=FILE (CSV or JSON, as its schema says); repeatable");
  r->add_option("--reference-schema", o->reference_schemas,
                "The table's ReferenceSchema JSON (as AddApplicationReferenceDataSource takes it): NAME=schema.json");
  r->add_flag("--no-flush", o->no_flush, "Leave windows open at the end of input (strict KDA)");
  r->add_flag("--key-groups", o->key_groups,
              "Keep keyed pumps' state in key groups, as eddy serve does at every --parallelism (the same results, "
              "slower; tests compare the two)");
  r->callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace eddy::cli
