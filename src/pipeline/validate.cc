#include "pipeline/validate.h"

#include <optional>
#include <regex>
#include <set>

#include "common/clock.h"
#include "job/host_loader.h"
#include "runtime/application.h"
#include "runtime/input_schema.h"
#include "sql/compile.h"

namespace eddy::pipeline {
namespace {

// "<digits>" at `pos`, advancing it; nothing if there are none (or too many to be a position).
std::optional<int> digits_at(const std::string& s, size_t& pos) {
  const size_t start = pos;
  while (pos < s.size() && pos - start < 9 && s[pos] >= '0' && s[pos] <= '9') ++pos;
  if (pos == start) return std::nullopt;
  return std::stoi(s.substr(start, pos - start));
}

// The code's "L:C: message" moved to the file: line L of the code is line where.line + L - 1.
// Parsed by hand: the message quotes the code, which can be long, and std::regex recurses per
// character.
FileError code_error(const ApplicationSpec& a, const std::string& message) {
  Location where = a.code_where.file.empty() ? a.where : a.code_where;
  std::string text = message;
  size_t pos = 0;
  const auto line = digits_at(message, pos);
  const bool colon = line && message.compare(pos, 1, ":") == 0 && ++pos;
  const auto column = colon ? digits_at(message, pos) : std::nullopt;
  if (column && message.compare(pos, 2, ": ") == 0) {
    where.line = a.code_where.line + *line - 1;
    where.column =
        (*line == 1 ? a.code_where.column : (a.code_where.column > 1 ? a.code_where.column : 1)) + *column - 1;
    text = message.substr(pos + 2);
  }
  return {where, "application '" + a.name + "': invalid SQL: " + text};
}

}  // namespace

std::vector<std::string> application_targets(const ApplicationSpec& a) {
  std::vector<std::string> out;
  if (a.job) {
    auto loaded = job::host_job_loader()(a.job->library, a.job->property_groups);
    if (!loaded) return out;
    out.push_back("stream:" + loaded->source);
    for (const auto& o : loaded->outputs) out.push_back((o.delivery ? "delivery:" : "stream:") + o.target);
    return out;
  }
  auto app = sql::compile_application(a.code, {}, SystemClock::instance());
  if (!app || !(*app)->flink()) return out;
  for (const auto& t : (*app)->flink_tables()) {
    auto get = [&](const char* k) {
      auto it = t.options.find(k);
      return it == t.options.end() ? std::string() : it->second;
    };
    const std::string connector = get("connector");
    if (connector == "kinesis" || connector == "kinesis-legacy") {
      const std::string name = get("stream").empty() ? name_from_arn(get("stream.arn")) : get("stream");
      if (!name.empty()) out.push_back("stream:" + name);
    } else if (connector == "firehose" && !get("delivery-stream").empty()) {
      out.push_back("delivery:" + get("delivery-stream"));
    }
  }
  return out;
}

// Names as the APIs accept them, checked here so that a bad one stops the apply before it starts.
template <class T>
void check_names(const std::vector<T>& list, const std::string& kind, size_t max, std::vector<FileError>& errors) {
  static const std::regex kName("[a-zA-Z0-9_.-]+");
  std::set<std::string> seen;
  for (const auto& x : list) {
    if (x.name.empty() || x.name.size() > max || !std::regex_match(x.name, kName)) {
      errors.push_back({x.where, kind + " name '" + x.name + "' must be 1 to " + std::to_string(max) +
                                     " letters, digits, '_', '.' or '-'"});
    }
    if (!seen.insert(x.name).second) errors.push_back({x.where, kind + " '" + x.name + "' is declared twice"});
  }
}

std::vector<FileError> validate_code(const DesiredState& desired) {
  std::vector<FileError> errors;
  check_names(desired.streams, "stream", 128, errors);
  check_names(desired.deliveries, "delivery stream", 64, errors);
  check_names(desired.applications, "application", 128, errors);
  const Clock& clock = SystemClock::instance();
  for (const auto& a : desired.applications) {
    if (a.job) {  // loaded here as the server will load it: a library that does not load stops the apply
      if (auto loaded = job::host_job_loader()(a.job->library, a.job->property_groups); !loaded) {
        errors.push_back(
            {a.code_where, "application '" + a.name + "': the C++ job cannot be loaded: " + loaded.error().message});
      }
      continue;
    }
    std::vector<runtime::ApplicationInput> inputs;
    if (a.input) {
      runtime::ApplicationInput in;
      in.name_prefix = a.input->name_prefix;
      in.parallelism = a.input->parallelism;
      auto schema = runtime::parse_input_schema(a.input->schema.dump());
      if (!schema) {
        errors.push_back({a.where, "application '" + a.name + "': input schema: " + schema.error().message});
        continue;
      }
      in.schema = std::move(*schema);
      inputs.push_back(std::move(in));
    }
    std::vector<runtime::StreamDef> tables;
    bool bad_table = false;
    for (const auto& r : a.references) {
      auto schema = runtime::parse_input_schema(r.schema.dump());
      if (!schema) {
        errors.push_back({r.where, "application '" + a.name + "': reference_data " + r.table +
                                       " schema: " + schema.error().message});
        bad_table = true;
        continue;
      }
      runtime::StreamDef def;
      def.name = r.table;
      for (const auto& c : schema->columns) def.columns.push_back({c.name, c.type});
      tables.push_back(std::move(def));
    }
    if (bad_table) continue;
    auto app = sql::compile_application(a.code, inputs, clock, 1, false, tables);
    if (!app) {
      errors.push_back(code_error(a, app.error().message));
      continue;
    }
    if ((*app)->flink()) {
      if (a.input || !a.outputs.empty()) {
        errors.push_back({a.where, "application '" + a.name +
                                       "' is Flink SQL, whose tables name their streams in WITH (...); "
                                       "remove 'input' and 'outputs'"});
      }
      continue;
    }
    if (!a.input) {
      errors.push_back(
          {a.where, "application '" + a.name + "' is KDA SQL and needs an input (the stream it reads and its schema)"});
    }
    for (const auto& o : a.outputs) {
      if (!(*app)->stream(o.name)) {
        errors.push_back({o.where.line ? o.where : a.where, "application '" + a.name + "': output " + o.name +
                                                                " is not an in-application stream of its code"});
      }
    }
  }
  return errors;
}

std::vector<FileError> validate_references(const DesiredState& desired, const LiveState& live) {
  std::set<std::string> streams, deliveries;
  for (const auto& s : desired.streams) streams.insert(s.name);
  for (const auto& [name, s] : live.streams) {
    if (s.status != "DELETING") streams.insert(name);
  }
  for (const auto& d : desired.deliveries) deliveries.insert(d.name);
  for (const auto& [name, _] : live.deliveries) deliveries.insert(name);
  std::vector<FileError> errors;
  auto need_stream = [&](const std::string& name, const Location& where, const std::string& who) {
    if (!streams.count(name)) {
      errors.push_back({where, who + " refers to stream '" + name +
                                   "', which the file does not declare and the server does not have; "
                                   "declare it under streams:"});
    }
  };
  for (const auto& d : desired.deliveries) {
    const std::string who = "delivery stream '" + d.name + "'";
    if (!d.source_stream.empty()) need_stream(d.source_stream, d.where, who);
    const std::string url = d.destination.value("EndpointConfiguration", nlohmann::json::object()).value("Url", "");
    if (url.starts_with("stream:")) need_stream(url.substr(7), d.where, who);
  }
  for (const auto& a : desired.applications) {
    const std::string who = "application '" + a.name + "'";
    if (a.input) need_stream(a.input->stream, a.where, who);
    for (const auto& target : application_targets(a)) {
      if (target.starts_with("stream:"))
        need_stream(target.substr(7), a.code_where.line ? a.code_where : a.where, who + "'s table");
      if (target.starts_with("delivery:") && !deliveries.count(target.substr(9))) {
        errors.push_back({a.where, who + "'s table writes to delivery stream '" + target.substr(9) +
                                       "', which the file does not declare and the server does not have; declare it "
                                       "under delivery_streams:"});
      }
    }
    for (const auto& o : a.outputs) {
      const Location& where = o.where.line ? o.where : a.where;
      if (!o.stream.empty()) need_stream(o.stream, where, who);
      if (!o.delivery_stream.empty() && !deliveries.count(o.delivery_stream)) {
        errors.push_back({where, who + " writes to delivery stream '" + o.delivery_stream +
                                     "', which the file does not declare and the server does not have; declare it "
                                     "under delivery_streams:"});
      }
    }
  }
  return errors;
}

}  // namespace eddy::pipeline
