// A bounded input read into an application as if it were a stream (file_source.h).

#include "runtime/file_source.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/line_reader.h"
#include "common/time_format.h"
#include "common/worker_pool.h"
#include "runtime/flat_ondemand.h"

namespace eddy::runtime {
namespace {

static_assert(LineReader::kPadding >= simdjson::SIMDJSON_PADDING, "lines are parsed in place");

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
std::optional<TimestampMs> arrival_of_csv(const InputSchema& schema, const std::string& field, std::string_view line) {
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

}  // namespace

Result<FileSourceEnd> run_file_source(int fd, Application& app, const FileSourceOptions& o) {
  const InputSchema* schema = &app.input(0).schema;
  // One thread: 256 KiB measured ~3 % faster than 64 KiB (fewer reads and parse_many batches; 128
  // KiB to 1 MiB measured the same). Several: each block is mapped whole before its rows go
  // through the pumps, so its rows must still be in the core's cache then: 128 KiB (~1,000
  // records) measured 1.05 s at 2 threads, 1 MiB 1.15 s, 64 KiB 1.11 s (more hand-offs).
  LineReader reader(fd, o.parallelism > 1 ? 128u << 10 : 256u << 10);
  simdjson::dom::parser parser, many_parser;
  int64_t line_no = 0;
  uint64_t records = 0;
  int64_t no_arrival = 0;  // set when a record has no arrival time: the input stops at its line
  auto missing_arrival = [&] { no_arrival = line_no; };
  auto report = [&] {
    if (o.progress) o.progress(records);
  };
  // One record of a parsed JSON line.
  auto push_json = [&](simdjson::dom::element doc, std::string_view line) {
    TimestampMs arrival = o.arrival_field.empty() ? SystemClock::instance().now_ms() : 0;
    if (!o.arrival_field.empty()) {
      auto t = arrival_in(doc, o.arrival_field);
      if (!t) return missing_arrival();
      arrival = *t;
    }
    app.push_document(0, doc, line, arrival, line_no);
    if ((++records & 0xffff) == 0) report();
  };
  // A line that is not empty, parsed on its own (in place: every line the reader gives is padded).
  auto push_parsed_line = [&](std::string_view line) {
    TimestampMs arrival = o.arrival_field.empty() ? SystemClock::instance().now_ms() : 0;
    if (!schema->csv) {
      simdjson::dom::element doc;
      if (parser.parse(line.data(), line.size(), false).get(doc) != simdjson::SUCCESS) {
        app.push_record(0, line, arrival, line_no);  // reports the parse error to error_stream
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
    app.push_record(0, line, arrival, line_no);
    if ((++records & 0xffff) == 0) report();
  };
  auto push_line = [&](std::string_view line) {
    ++line_no;
    if (line.empty()) return;
    push_parsed_line(line);
  };
  auto push_lines = [&](std::string_view text) {
    while (!text.empty() && no_arrival == 0) {
      const size_t nl = text.find('\n');
      push_line(text.substr(0, nl));
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
  };
  // A document of a block (at byte `at`, `text`) is taken only if it is a whole line: it starts
  // where the line does (after empty lines, counted) and ends where the line ends. Then its line
  // is counted and `done` moves past it.
  auto take_line = [&](std::string_view block, size_t& done, size_t at, std::string_view text) {
    size_t empty = 0;  // empty lines before the document
    while (done + empty < at && block[done + empty] == '\n') ++empty;
    const size_t end = at + text.size();
    if (done + empty != at || end > block.size() || (end < block.size() && block[end] != '\n') ||
        text.find('\n') != std::string_view::npos) {
      return false;
    }
    line_no += static_cast<int64_t>(empty) + 1;
    done = std::min(block.size(), end + 1);
    return true;
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
      for (auto it = docs.begin(); it != docs.end() && no_arrival == 0; ++it) {
        // A document in error has no source to ask for (simdjson crashes): its line goes the slow way.
        simdjson::dom::element doc;
        if ((*it).get(doc)) break;
        const std::string_view text = it.source();
        if (!take_line(block, done, it.current_index(), text)) break;
        push_json(doc, text);
      }
    }
    push_lines(block.substr(done));
  };
  // The same for flat records read on-demand (flat_ondemand.h): no DOM is built, and a record
  // the path declines is parsed and mapped alone, the general way. The arrival time, if a field
  // gives it, is the TIMESTAMP column mapping that field.
  const int arrival_column = o.arrival_field.empty() ? -1 : ondemand_timestamp_column(*schema, o.arrival_field);
  const bool ondemand = schema->ondemand && (o.arrival_field.empty() || arrival_column >= 0);
  simdjson::ondemand::parser ondemand_parser;
  std::vector<Value> values;
  std::vector<int> hints;
  auto push_block_ondemand = [&](std::string_view block) {
    simdjson::ondemand::document_stream docs;
    size_t done = 0;  // bytes of `block` handled: whole lines
    if (!ondemand_parser.iterate_many(block.data(), block.size(), block.size() + 1).get(docs)) {
      for (auto it = docs.begin(); it != docs.end() && no_arrival == 0; ++it) {
        // A document in error has no source to ask for (simdjson crashes): its line goes the slow way.
        if ((*it).error()) break;
        // At the document's root, before it is read: where it starts and ends.
        const std::string_view text = it.source();
        if (!take_line(block, done, it.current_index(), text)) break;
        simdjson::ondemand::document_reference doc;
        simdjson::ondemand::object obj;
        if ((*it).get(doc) || doc.get_object().get(obj) ||
            !map_flat_ondemand(*schema, obj, values, hints, arrival_column) ||
            (arrival_column >= 0 && values[static_cast<size_t>(arrival_column)].is_null())) {
          push_parsed_line(text);
          continue;
        }
        const TimestampMs arrival =
            arrival_column >= 0 ? values[static_cast<size_t>(arrival_column)].i : SystemClock::instance().now_ms();
        app.push_values(0, values, arrival, line_no);
        if ((++records & 0xffff) == 0) report();
      }
    }
    push_lines(block.substr(done));
  };
  // parallelism N > 1: each of N threads reads the next block into its own buffer, splits it
  // into lines, parses and maps them, and in the block's turn runs its rows through the pumps
  // (Application::push_batches). (Parsing on some cores and running the pumps on another moved
  // every row between cores, which cost about as much as it saved.)
  WorkerPool pool(static_cast<size_t>(std::max(1, o.parallelism)));
  Application::ArrivalOf arrival_of;
  if (!o.arrival_field.empty()) {
    arrival_of.of = [&o](simdjson::dom::element doc) { return arrival_in(doc, o.arrival_field); };
    arrival_of.column = arrival_column;
  }
  auto push_parallel = [&] {
    struct Block {
      std::string text;  // read into the thread's own buffer
      std::string_view lines;
      int64_t count = 0;  // lines in the block
    };
    std::vector<Block> blocks(pool.size());
    BatchSource source;
    source.claim = [&](size_t k) { return reader.next_block(blocks[k].text, blocks[k].lines); };
    // The block's lines as records, numbered from 1 within the block until its turn.
    source.fill = [&](size_t k, std::vector<Application::SourceRecord>& out) {
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
    source.before = [&](size_t, std::vector<Application::SourceRecord>& in) {
      for (auto& r : in) r.origin += line_no;
    };
    source.done = [&](size_t k, const std::vector<Application::SourceRecord>& in, size_t taken) {
      records += taken;
      report();
      if (taken < in.size()) {
        line_no = in[taken].origin;
        missing_arrival();
        return false;
      }
      line_no += blocks[k].count;
      return true;
    };
    app.push_batches(0, pool, arrival_of, true, source);
  };
  std::string_view block;
  if (!schema->csv && pool.size() > 1) {
    push_parallel();
  } else {
    while (no_arrival == 0 && reader.next_block(block)) {
      if (schema->csv)
        push_lines(block);
      else if (ondemand)
        push_block_ondemand(block);
      else
        push_block(block);
    }
  }
  if (no_arrival != 0) return FileSourceEnd{records, no_arrival};
  if (!reader.error()) return tl::unexpected(reader.error().error());
  return FileSourceEnd{records, 0};
}

}  // namespace eddy::runtime
