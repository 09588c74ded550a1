// `eddy sql run`: an application over a bounded input, as if it were a stream. How users test
// application code before deploying it, and how the golden tests run.
#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/app.h"
#include "cli/common_options.h"
#include "cli/progress.h"
#include "common/file_util.h"
#include "common/line_reader.h"
#include "common/time_format.h"
#include "common/worker_pool.h"
#include "runtime/application.h"
#include "runtime/row_format.h"
#include "sql/compile.h"

namespace eddy::cli {
namespace {

static_assert(LineReader::kPadding >= simdjson::SIMDJSON_PADDING, "lines are parsed in place");

struct SqlRunOptions {
  std::string sql_file;
  std::string schema_file;
  std::string input = "-";
  std::string arrival_field;
  std::string output = "DESTINATION_SQL_STREAM";
  std::string errors_file;
  std::string input_prefix = "SOURCE_SQL_STREAM";
  bool no_flush = false;
  bool key_groups = false;
  int parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

std::optional<TimestampMs> parse_arrival(std::string_view text) {
  if (TimestampMs t; parse_iso8601_ms(text, t)) return t;
  long long ms = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return ms;
  return std::nullopt;
}

// The arrival time in field `field` of a parsed JSON record: text timestamp, ISO-8601, or epoch ms.
std::optional<TimestampMs> arrival_in(simdjson::dom::element doc, const std::string& field) {
  // A scan comparing lengths first: at_key's compare per key showed in profiles of this loop.
  simdjson::dom::object obj;
  if (doc.get(obj)) return std::nullopt;
  simdjson::dom::element v;
  bool found = false;
  for (auto f : obj) {
    if (f.key.size() == field.size() && std::memcmp(f.key.data(), field.data(), field.size()) == 0) {
      v = f.value;
      found = true;
      break;
    }
  }
  if (!found) return std::nullopt;
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      return parse_arrival(v.get_string().value_unsafe());
    case simdjson::dom::element_type::INT64:
      return v.get_int64().value_unsafe();
    case simdjson::dom::element_type::UINT64:
      return static_cast<int64_t>(v.get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:
      return static_cast<int64_t>(v.get_double().value_unsafe());
    default:
      return std::nullopt;
  }
}

// The arrival time in field `field` of a CSV record (F is a 1-based column number).
std::optional<TimestampMs> arrival_of_csv(const runtime::InputSchema& schema, const std::string& field,
                                          std::string_view line) {
  size_t index = 0;
  try {
    index = std::stoul(field);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  size_t start = 0;
  for (size_t i = 1; i < index; ++i) {
    start = line.find(schema.column_delimiter, start);
    if (start == std::string_view::npos) return std::nullopt;
    start += schema.column_delimiter.size();
  }
  const size_t end = line.find(schema.column_delimiter, start);
  return parse_arrival(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

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
  // The threads of --parallelism parse and map; every row then goes through the pumps in its
  // block's turn, on one thread at a time, so keyed pumps' key groups (keyed_pump.h) would only
  // route each row to the copy holding its key there: 7 % more CPU at 2 threads on the seed, for
  // nothing a run without checkpoints can use. --key-groups keeps them, as a server has them.
  auto app = sql::compile_application(*code, inputs, SystemClock::instance(),
                                      o.key_groups ? static_cast<size_t>(std::max(1, o.parallelism)) : 1, o.key_groups);
  if (!app) return fail(o.sql_file + ": " + app.error().message);
  if ((*app)->input_count() == 0) {
    return fail(
        "--input-schema is required for KDA SQL (the InputSchema JSON of CreateApplication); Flink SQL needs a source "
        "table (CREATE TABLE ... that no INSERT writes)");
  }
  const runtime::InputSchema* schema = &(*app)->input(0).schema;

  std::string output = o.output;
  if (!(*app)->stream(output) && output == "DESTINATION_SQL_STREAM") {
    // Flink: the table the application inserts into, when there is one.
    std::vector<std::string> outputs;
    for (const auto& n : (*app)->stream_names()) {
      const auto* d = (*app)->stream(n);
      if (!d->is_input && n != runtime::kErrorStream) outputs.push_back(n);
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
  // One thread: 256 KiB measured ~3 % faster than 64 KiB (fewer reads and parse_many batches; 128
  // KiB to 1 MiB measured the same). Several: each block is mapped whole before its rows go
  // through the pumps, so its rows must still be in the core's cache then: 128 KiB (~1,000
  // records) measured 1.05 s at 2 threads, 1 MiB 1.15 s, 64 KiB 1.11 s (more hand-offs).
  LineReader reader(fd, o.parallelism > 1 ? 128u << 10 : 256u << 10);
  simdjson::dom::parser parser, many_parser;
  Progress progress("sql run:");
  int64_t line_no = 0;
  uint64_t records = 0;
  std::string no_arrival;  // set when a record has no arrival time: the run stops with it
  auto missing_arrival = [&] {
    no_arrival = "--input line " + std::to_string(line_no) + ": no arrival time in field '" + o.arrival_field +
                 "' (give yyyy-MM-dd HH:mm:ss.SSS, ISO-8601 or epoch ms)";
  };
  // One record of a parsed JSON line.
  auto push_json = [&](simdjson::dom::element doc, std::string_view line) {
    TimestampMs arrival = o.arrival_field.empty() ? SystemClock::instance().now_ms() : 0;
    if (!o.arrival_field.empty()) {
      auto t = arrival_in(doc, o.arrival_field);
      if (!t) return missing_arrival();
      arrival = *t;
    }
    (*app)->push_document(0, doc, line, arrival, line_no);
    if ((++records & 0xffff) == 0) progress.update(records, error_count);
  };
  // One line, parsed on its own (in place: every line the reader gives is padded).
  auto push_line = [&](std::string_view line) {
    ++line_no;
    if (line.empty()) return;
    TimestampMs arrival = o.arrival_field.empty() ? SystemClock::instance().now_ms() : 0;
    if (!schema->csv) {
      simdjson::dom::element doc;
      if (parser.parse(line.data(), line.size(), false).get(doc) != simdjson::SUCCESS) {
        (*app)->push_record(0, line, arrival, line_no);  // reports the parse error to error_stream
        ++records;
        return;
      }
      return push_json(doc, line);
    }
    if (!o.arrival_field.empty()) {
      auto t = arrival_of_csv(*schema, o.arrival_field, line);
      if (!t) return missing_arrival();
      arrival = *t;
    }
    (*app)->push_record(0, line, arrival, line_no);
    if ((++records & 0xffff) == 0) progress.update(records, error_count);
  };
  auto push_lines = [&](std::string_view text) {
    while (!text.empty() && no_arrival.empty()) {
      const size_t nl = text.find('\n');
      push_line(text.substr(0, nl));
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
  };
  // JSON lines a block at a time through parse_many: simdjson's first stage runs over the whole
  // block at once, which per-line parsing paid for every record. Only a block's leading run of
  // well-formed one-line documents goes this way; from the first line that is anything else (a
  // parse error, two documents on a line, a document over several lines, spaces around it) the
  // rest of the block goes line by line, so records, line numbers and error rows stay the same.
  auto push_block = [&](std::string_view block) {
    simdjson::dom::document_stream docs;
    size_t done = 0;  // bytes of `block` handled: whole lines
    if (!many_parser.parse_many(block.data(), block.size(), block.size() + 1).get(docs)) {
      for (auto it = docs.begin(); it != docs.end() && no_arrival.empty(); ++it) {
        // A document in error has no source to ask for (simdjson crashes): its line goes the slow way.
        simdjson::dom::element doc;
        if ((*it).get(doc)) break;
        const size_t at = it.current_index();
        const std::string_view text = it.source();
        size_t empty = 0;  // empty lines before the document
        while (done + empty < at && block[done + empty] == '\n') ++empty;
        const size_t end = at + text.size();
        if (done + empty != at || end > block.size() || (end < block.size() && block[end] != '\n') ||
            text.find('\n') != std::string_view::npos) {
          break;
        }
        line_no += static_cast<int64_t>(empty) + 1;
        push_json(doc, text);
        done = std::min(block.size(), end + 1);
      }
    }
    push_lines(block.substr(done));
  };
  // --parallelism N > 1: each of N threads reads the next block into its own buffer, splits it
  // into lines, parses and maps them, and in the block's turn runs its rows through the pumps
  // (Application::push_batches). (Parsing on some cores and running the pumps on another moved
  // every row between cores, which cost about as much as it saved.)
  WorkerPool pool(static_cast<size_t>(std::max(1, o.parallelism)));
  runtime::Application::ArrivalOf arrival_of;
  if (!o.arrival_field.empty()) {
    arrival_of = [&o](simdjson::dom::element doc) { return arrival_in(doc, o.arrival_field); };
  }
  auto push_parallel = [&] {
    struct Block {
      std::string text;  // read into the thread's own buffer
      std::string_view lines;
      int64_t count = 0;  // lines in the block
    };
    std::vector<Block> blocks(pool.size());
    runtime::BatchSource source;
    source.claim = [&](size_t k) { return reader.next_block(blocks[k].text, blocks[k].lines); };
    // The block's lines as records, numbered from 1 within the block until its turn.
    source.fill = [&](size_t k, std::vector<runtime::Application::SourceRecord>& out) {
      const TimestampMs now = o.arrival_field.empty() ? SystemClock::instance().now_ms() : 0;
      std::string_view rest = blocks[k].lines;
      int64_t n = 0;
      while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        ++n;
        if (!line.empty()) out.push_back({line, now, n, 0});
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      }
      blocks[k].count = n;
    };
    source.before = [&](size_t, std::vector<runtime::Application::SourceRecord>& in) {
      for (auto& r : in) r.origin += line_no;
    };
    source.done = [&](size_t k, const std::vector<runtime::Application::SourceRecord>& in, size_t taken) {
      records += taken;
      progress.update(records, error_count);
      if (taken < in.size()) {
        line_no = in[taken].origin;
        missing_arrival();
        return false;
      }
      line_no += blocks[k].count;
      return true;
    };
    (*app)->push_batches(0, pool, arrival_of, true, source);
  };
  std::string_view block;
  if (!schema->csv && pool.size() > 1) {
    push_parallel();
  } else {
    while (no_arrival.empty() && reader.next_block(block)) {
      if (schema->csv)
        push_lines(block);
      else
        push_block(block);
    }
  }
  if (!no_arrival.empty()) return fail(no_arrival);
  if (fd != 0) ::close(fd);
  if (!reader.error()) return fail("--input " + o.input + ": " + reader.error().error().message);
  if (!o.no_flush) (*app)->flush();
  std::cout << buffer;
  std::cout.flush();
  if (records >= 0x10000) progress.finish(records, error_count);
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
  r->add_flag("--no-flush", o->no_flush, "Leave windows open at the end of input (strict KDA)");
  r->add_flag("--key-groups", o->key_groups,
              "Keep keyed pumps' state in key groups, as eddy serve does at every --parallelism (the same results, "
              "slower; tests compare the two)");
  r->callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace eddy::cli
