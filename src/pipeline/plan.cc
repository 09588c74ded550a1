#include "pipeline/plan.h"

#include <algorithm>
#include <map>

#include "pipeline/server.h"

namespace eddy::pipeline {
namespace {

using nlohmann::json;

std::string shards_text(const StreamSpec& s) {
  return s.on_demand ? "on demand" : std::to_string(s.shards) + (s.shards == 1 ? " shard" : " shards");
}

std::string destination_text(const OutputSpec& o) {
  return o.stream.empty() ? "delivery stream " + o.delivery_stream : "stream " + o.stream;
}

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n')) + (s.empty() || s.back() == '\n' ? 0 : 1);
}

// Which differing top-level settings make two comparable destinations differ.
std::vector<std::string> destination_differences(const json& want, const json& have) {
  std::vector<std::string> out;
  for (const auto& [k, v] : want.items()) {
    if (!have.contains(k) || have[k] != v) {
      const std::string from = have.contains(k) ? have[k].dump() : "(none)";
      out.push_back(k + " " + from + " -> " + v.dump());
    }
  }
  for (const auto& [k, v] : have.items()) {
    if (!want.contains(k)) out.push_back(k + " " + v.dump() + " -> (none)");
  }
  return out;
}

void stream_changes(const DesiredState& desired, const LiveState& live, Plan& plan) {
  for (const auto& s : desired.streams) {
    auto it = live.streams.find(s.name);
    if (it == live.streams.end() || it->second.status == "DELETING") {
      plan.changes.push_back({Action::kCreate,
                              Kind::kStream,
                              s.name,
                              {shards_text(s) + ", " + std::to_string(s.retention_hours) + " h retention"}});
      continue;
    }
    const StreamSpec& have = it->second.spec;
    if (have.on_demand != s.on_demand) {
      plan.changes.push_back({Action::kReplace,
                              Kind::kStream,
                              s.name,
                              {"capacity mode " + shards_text(have) + " -> " + shards_text(s) +
                               " cannot change in place; replacing deletes the stream's records"}});
      continue;
    }
    Change c{Action::kUpdate, Kind::kStream, s.name, {}};
    if (!s.on_demand && have.shards != s.shards) {
      c.details.push_back("shards " + std::to_string(have.shards) + " -> " + std::to_string(s.shards) + " (reshard)");
    }
    if (have.retention_hours != s.retention_hours) {
      c.details.push_back("retention " + std::to_string(have.retention_hours) + " h -> " +
                          std::to_string(s.retention_hours) + " h");
    }
    if (c.details.empty()) {
      plan.unchanged.push_back("stream " + s.name);
    } else {
      plan.changes.push_back(std::move(c));
    }
  }
}

void delivery_changes(const DesiredState& desired, const LiveState& live, Plan& plan) {
  for (const auto& d : desired.deliveries) {
    auto it = live.deliveries.find(d.name);
    const std::string source = d.source_stream.empty() ? "direct put" : "stream " + d.source_stream;
    if (it == live.deliveries.end()) {
      plan.changes.push_back({Action::kCreate, Kind::kDelivery, d.name, {"from " + source}});
      continue;
    }
    const DeliverySpec& have = it->second.spec;
    if (have.source_stream != d.source_stream) {
      const std::string was = have.source_stream.empty() ? "direct put" : "stream " + have.source_stream;
      plan.changes.push_back(
          {Action::kReplace, Kind::kDelivery, d.name, {"source " + was + " -> " + source + " cannot change in place"}});
      continue;
    }
    Change c{Action::kUpdate, Kind::kDelivery, d.name, {}};
    if (have.destination_kind != d.destination_kind) {
      c.details.push_back("destination " + have.destination_kind + " -> " + d.destination_kind);
    } else {
      c.details = destination_differences(comparable_destination(d.destination_kind, d.destination),
                                          comparable_destination(have.destination_kind, have.destination));
    }
    if (c.details.empty()) {
      plan.unchanged.push_back("delivery stream " + d.name);
    } else {
      plan.changes.push_back(std::move(c));
    }
  }
}

void application_changes(const DesiredState& desired, const LiveState& live, Plan& plan) {
  for (const auto& a : desired.applications) {
    auto it = live.applications.find(a.name);
    if (it == live.applications.end()) {
      std::vector<std::string> details;
      if (a.job) details.push_back("C++ job " + a.job->library);
      if (a.input) details.push_back("reads stream " + a.input->stream);
      if (a.input && !a.input->preprocessor.empty()) details.push_back("preprocessed by " + a.input->preprocessor);
      for (const auto& r : a.references)
        details.push_back("reference table " + r.table + " <- s3://" + r.bucket + "/" + r.key);
      for (const auto& o : a.outputs) details.push_back("writes " + o.name + " to " + destination_text(o));
      if (!a.job) details.push_back("start from " + a.starting_position);
      plan.changes.push_back({Action::kCreate, Kind::kApplication, a.name, std::move(details)});
      continue;
    }
    ApplicationDiff diff = diff_application(a, it->second);
    if (diff.replace) {
      plan.changes.push_back({Action::kReplace, Kind::kApplication, a.name, {diff.replace_reason}});
    } else if (diff.details.empty()) {
      plan.unchanged.push_back("application " + a.name);
    } else {
      const bool only_start = diff.details.size() == 1 && diff.start;
      plan.changes.push_back(
          {only_start ? Action::kStart : Action::kUpdate, Kind::kApplication, a.name, diff.details, diff.code_diff});
    }
  }
}

template <class T>
bool declared(const std::vector<T>& list, const std::string& name) {
  for (const auto& x : list) {
    if (x.name == name) return true;
  }
  return false;
}

// Resources this pipeline created earlier (tagged with its name) that the file no longer declares.
void removed(const DesiredState& desired, const LiveState& live, Kind kind, std::vector<Change>& out) {
  const char* why = "no longer in the file";
  if (kind == Kind::kApplication) {
    for (const auto& n : live.owned_applications) {
      if (!declared(desired.applications, n) && live.applications.count(n))
        out.push_back({Action::kDelete, kind, n, {why}});
    }
  } else if (kind == Kind::kDelivery) {
    for (const auto& n : live.owned_deliveries) {
      if (!declared(desired.deliveries, n) && live.deliveries.count(n))
        out.push_back({Action::kDelete, kind, n, {why}});
    }
  } else {
    for (const auto& n : live.owned_streams) {
      auto it = live.streams.find(n);
      if (!declared(desired.streams, n) && it != live.streams.end() && it->second.status != "DELETING") {
        out.push_back({Action::kDelete, kind, n, {why, "its records are deleted"}});
      }
    }
  }
}

}  // namespace

ApplicationDiff diff_application(const ApplicationSpec& want, const LiveApplication& live) {
  ApplicationDiff d;
  const ApplicationSpec& have = live.spec;
  if (want.job.has_value() != live.is_job) {
    d.replace = true;
    d.replace_reason = want.job ? "a SQL application becomes a C++ job" : "a C++ job becomes a SQL application";
    return d;
  }
  if (want.parallelism != have.parallelism) {
    auto text = [](int n) { return n == 0 ? std::string("the server's") : std::to_string(n); };
    d.parallelism = true;
    d.details.push_back("parallelism " + text(have.parallelism) + " -> " + text(want.parallelism) +
                        " (restarted; it keeps its state)");
  }
  if (want.job) {
    if (!have.job || have.job->digest != want.job->digest) {
      d.redeploy = true;
      d.details.push_back("job library or property groups changed (redeployed; it keeps compatible state)");
    }
    d.redeploy = d.redeploy || d.parallelism;
    if (live.status != "RUNNING") {
      d.start = true;
      d.details.push_back("start (it is " + live.status + ")");
    }
    return d;
  }
  if (want.input.has_value() != have.input.has_value()) {
    d.replace = true;
    d.replace_reason = want.input ? "an input is added, which needs a new application"
                                  : "the input is removed, which needs a new application";
    return d;
  }
  if (want.code != have.code) {
    d.code = true;
    d.code_diff = line_diff(have.code, want.code);
    d.details.push_back("code changed (" + std::to_string(count_lines(have.code)) + " -> " +
                        std::to_string(count_lines(want.code)) +
                        " lines; it continues from where it stopped reading, keeping compatible state)");
  }
  // The description is set at creation: the Kinesis Analytics API has no update for it.
  if (want.input) {
    const InputSpec &w = *want.input, &h = *have.input;
    if (w.stream != h.stream) d.details.push_back("input stream " + h.stream + " -> " + w.stream);
    if (w.name_prefix != h.name_prefix)
      d.details.push_back("input name prefix " + h.name_prefix + " -> " + w.name_prefix);
    if (w.schema != h.schema) d.details.push_back("input schema");
    if (w.parallelism != h.parallelism) {
      d.details.push_back("input parallelism " + std::to_string(h.parallelism) + " -> " +
                          std::to_string(w.parallelism));
    }
    d.input = w.stream != h.stream || w.name_prefix != h.name_prefix || w.schema != h.schema ||
              w.parallelism != h.parallelism;
    if (w.preprocessor != h.preprocessor) {
      d.preprocessor = true;
      d.details.push_back("input preprocessor " + (h.preprocessor.empty() ? std::string("none") : h.preprocessor) +
                          " -> " + (w.preprocessor.empty() ? std::string("none") : w.preprocessor));
    }
  }
  std::map<std::string, const ReferenceSpec*> had_refs;
  for (const auto& r : have.references) had_refs[r.table] = &r;
  for (const auto& r : want.references) {
    auto it = had_refs.find(r.table);
    if (it == had_refs.end()) {
      d.references_added.push_back(r.table);
      d.details.push_back("add reference table " + r.table + " <- s3://" + r.bucket + "/" + r.key);
      continue;
    }
    const ReferenceSpec& h = *it->second;
    had_refs.erase(it);
    if (h.bucket == r.bucket && h.key == r.key && h.schema == r.schema) continue;
    d.references_changed.push_back(r.table);
    d.details.push_back("reference table " + r.table + " <- s3://" + r.bucket + "/" + r.key +
                        (h.schema != r.schema ? " (schema changed)" : "") + "; reloaded");
  }
  for (const auto& [table, _] : had_refs) {
    d.references_removed.push_back(table);
    d.details.push_back("remove reference table " + table);
  }
  std::map<std::string, const OutputSpec*> had;
  for (const auto& o : have.outputs) had[o.name] = &o;
  for (const auto& o : want.outputs) {
    auto it = had.find(o.name);
    if (it == had.end()) {
      d.outputs_added.push_back(o.name);
      d.details.push_back("add output " + o.name + " -> " + destination_text(o));
      continue;
    }
    const OutputSpec& h = *it->second;
    had.erase(it);
    if (h.stream == o.stream && h.delivery_stream == o.delivery_stream && h.format == o.format) continue;
    // A stream destination updates in place; a change to or between delivery streams re-adds the output.
    if (!h.stream.empty() && !o.stream.empty()) {
      d.outputs_changed.push_back(o.name);
    } else {
      d.outputs_removed.push_back(o.name);
      d.outputs_added.push_back(o.name);
    }
    d.details.push_back("output " + o.name + " " + destination_text(h) + " " + h.format + " -> " + destination_text(o) +
                        " " + o.format);
  }
  for (const auto& [name, o] : had) {
    d.outputs_removed.push_back(name);
    d.details.push_back("remove output " + name + " -> " + destination_text(*o));
  }
  if (live.status != "RUNNING") {
    d.start = true;
    d.details.push_back("start (it is " + live.status + ")");
  }
  return d;
}

Plan plan_apply(const DesiredState& desired, const LiveState& live) {
  Plan plan;
  // Applications that go away stop first; streams and delivery streams that go away are deleted
  // last, once the applications that replace their readers and writers run.
  removed(desired, live, Kind::kApplication, plan.changes);
  stream_changes(desired, live, plan);
  delivery_changes(desired, live, plan);
  application_changes(desired, live, plan);
  removed(desired, live, Kind::kDelivery, plan.changes);
  removed(desired, live, Kind::kStream, plan.changes);
  return plan;
}

Plan plan_destroy(const DesiredState& desired, const LiveState& live) {
  Plan plan;
  for (const auto& a : desired.applications) {
    if (live.applications.count(a.name)) plan.changes.push_back({Action::kDelete, Kind::kApplication, a.name, {}});
  }
  removed(desired, live, Kind::kApplication, plan.changes);
  for (const auto& d : desired.deliveries) {
    if (live.deliveries.count(d.name)) plan.changes.push_back({Action::kDelete, Kind::kDelivery, d.name, {}});
  }
  removed(desired, live, Kind::kDelivery, plan.changes);
  for (const auto& s : desired.streams) {
    auto it = live.streams.find(s.name);
    if (it != live.streams.end() && it->second.status != "DELETING") {
      plan.changes.push_back({Action::kDelete, Kind::kStream, s.name, {"its records are deleted"}});
    }
  }
  removed(desired, live, Kind::kStream, plan.changes);
  return plan;
}

std::vector<std::string> line_diff(const std::string& before, const std::string& after, size_t max_lines) {
  auto split = [](const std::string& s) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < s.size()) {
      size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      lines.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  };
  const auto a = split(before), b = split(after);
  // Longest common subsequence of lines; application code is short enough for the full table.
  std::vector<std::vector<uint32_t>> lcs(a.size() + 1, std::vector<uint32_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<std::string> out;
  size_t i = 0, j = 0, total = 0;
  auto emit = [&](const std::string& line) {
    if (out.size() < max_lines) out.push_back(line);
    ++total;
  };
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i, ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      emit("- " + a[i++]);  // removals before additions, as diff prints them
    } else {
      emit("+ " + b[j++]);
    }
  }
  if (total > out.size()) out.push_back("(" + std::to_string(total - out.size()) + " more changed lines)");
  return out;
}

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::kStream:
      return "stream";
    case Kind::kDelivery:
      return "delivery stream";
    case Kind::kApplication:
      return "application";
  }
  return "";
}

std::string Change::text() const {
  static const char* verbs[] = {"create", "update", "replace", "delete", "start"};
  std::string t = std::string(verbs[static_cast<int>(action)]) + " " + kind_name(kind) + " " + name;
  for (size_t i = 0; i < details.size(); ++i) t += (i == 0 ? ": " : "; ") + details[i];
  return t;
}

std::string render(const Plan& plan, bool destroy) {
  static const char* marks[] = {"+", "~", "-/+", "-", ">"};
  std::string out;
  int counts[5] = {0, 0, 0, 0, 0};
  for (const auto& c : plan.changes) {
    out += std::string(marks[static_cast<int>(c.action)]) + " " + c.text() + "\n";
    for (const auto& line : c.code_diff) out += "      " + line + "\n";
    ++counts[static_cast<int>(c.action)];
  }
  if (plan.empty()) {
    return destroy ? "Nothing to destroy: none of the file's resources exist on the server.\n"
                   : "No changes: the server already matches the file (" + std::to_string(plan.unchanged.size()) +
                         " resources up to date).\n";
  }
  out += "Plan: " + std::to_string(counts[0]) + " to create, " + std::to_string(counts[1]) + " to update, " +
         std::to_string(counts[2]) + " to replace, " + std::to_string(counts[3]) + " to delete, " +
         std::to_string(counts[4]) + " to start; " + std::to_string(plan.unchanged.size()) + " unchanged.\n";
  return out;
}

}  // namespace eddy::pipeline
