// Checking an application's configuration: the code compiles against its inputs, its outputs
// name streams of the code, and the parallelism and checkpoint settings are in range.

#include "host/application_host.h"
#include "host/reference_data.h"
#include "runtime/application.h"
#include "sql/compile.h"

namespace eddy::host {

using runtime::Application;
using runtime::ApplicationInput;
using runtime::FlinkTable;
using runtime::parse_input_schema;

// Compiles the code against the inputs, and checks that every output names one of its streams.
Status ApplicationHost::validate(const nlohmann::json& config) const {
  if (config.contains("ParallelismConfiguration")) {
    const auto& pc = config["ParallelismConfiguration"];
    const std::string type = pc.is_object() ? pc.value("ConfigurationType", "") : "";
    const auto n = pc.is_object() ? pc.value("Parallelism", nlohmann::json()) : nlohmann::json();
    if (type != "DEFAULT" && type != "CUSTOM") {
      return make_error(Errc::kInvalidArgument, "ParallelismConfiguration.ConfigurationType must be DEFAULT or CUSTOM");
    }
    if (type == "CUSTOM" && (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > kMaxParallelism)) {
      return make_error(Errc::kInvalidArgument, "ParallelismConfiguration.Parallelism must be 1 to " +
                                                    std::to_string(kMaxParallelism) + " with ConfigurationType CUSTOM");
    }
  }
  if (config.contains("CheckpointConfiguration")) {
    const auto& cc = config["CheckpointConfiguration"];
    const std::string type = cc.is_object() ? cc.value("ConfigurationType", "") : "";
    if (type != "DEFAULT" && type != "CUSTOM") {
      return make_error(Errc::kInvalidArgument, "CheckpointConfiguration.ConfigurationType must be DEFAULT or CUSTOM");
    }
    // Exactly-once outputs after a crash rest on checkpoints, so they cannot be turned off.
    if (type == "CUSTOM" && cc.value("CheckpointingEnabled", true) == false) {
      return make_error(Errc::kInvalidArgument,
                        "eddy applications always checkpoint (exactly-once outputs after a crash depend on it); "
                        "leave CheckpointingEnabled true");
    }
    const auto interval = cc.value("CheckpointInterval", nlohmann::json());
    if (type == "CUSTOM" && !interval.is_null() && (!interval.is_number_integer() || interval.get<int64_t>() < 1)) {
      return make_error(Errc::kInvalidArgument,
                        "CheckpointConfiguration.CheckpointInterval is in milliseconds, at least 1");
    }
  }
  const auto code = config.value("ApplicationCode", "");
  std::vector<ApplicationInput> inputs;
  for (const auto& in : config.value("Inputs", nlohmann::json::array())) {
    ApplicationInput input;
    input.name_prefix = in.at("NamePrefix").get<std::string>();
    input.parallelism = in.value("InputParallelism", nlohmann::json::object()).value("Count", 1);
    auto schema = parse_input_schema(in.at("InputSchema").dump());
    if (!schema)
      return make_error(Errc::kInvalidArgument, "Input " + input.name_prefix + ": " + schema.error().message);
    input.schema = std::move(*schema);
    inputs.push_back(std::move(input));
    if (auto p = processor_for(config.value("ApplicationName", ""), in); !p) return tl::unexpected(p.error());
  }
  if (auto st = check_reference_sources(config); !st) return st;
  auto tables = reference_tables(config);
  if (!tables) return tl::unexpected(tables.error());
  if (code.empty()) return {};
  auto app = sql::compile_application(code, inputs, clock_, 1, false, *tables);
  if (!app) return make_error(Errc::kCodeValidation, app.error().message);
  if ((*app)->flink())
    return flink_endpoints(**app).has_value() ? Status{} : tl::unexpected(flink_endpoints(**app).error());
  for (const auto& out : config.value("Outputs", nlohmann::json::array())) {
    const auto name = out.at("Name").get<std::string>();
    if (!(*app)->stream(name)) {
      return make_error(Errc::kInvalidApplicationConfiguration,
                        "Output " + name + " is not an in-application stream of the application code");
    }
  }
  return {};
}

int ApplicationHost::parallelism_of(const nlohmann::json& config) const {
  const auto pc = config.value("ParallelismConfiguration", nlohmann::json::object());
  if (pc.value("ConfigurationType", "DEFAULT") == "CUSTOM" && pc.value("Parallelism", 0) > 0)
    return pc["Parallelism"].get<int>();
  return std::max(1, parallelism_);
}

int64_t ApplicationHost::checkpoint_interval_of(const nlohmann::json& config) const {
  const auto cc = config.value("CheckpointConfiguration", nlohmann::json::object());
  if (cc.value("ConfigurationType", "DEFAULT") == "CUSTOM" && cc.value("CheckpointInterval", 0) > 0) {
    return cc["CheckpointInterval"].get<int64_t>();
  }
  return checkpoint_interval_ms_;
}

// Flink SQL: the source table's stream and the sink tables' streams or delivery streams, from
// their WITH options ('connector' = 'kinesis' with 'stream' or 'stream.arn'; 'firehose' with
// 'delivery-stream'; 'blackhole' discards).
Result<ApplicationHost::FlinkEndpoints> ApplicationHost::flink_endpoints(const Application& app) const {
  FlinkEndpoints out;
  auto stream_of = [&](const FlinkTable& t) -> Result<std::string> {
    auto get = [&](const char* k) {
      auto it = t.options.find(k);
      return it == t.options.end() ? std::string() : it->second;
    };
    const std::string connector = get("connector");
    if (const auto format = get("format"); !format.empty() && format != "json") {
      return make_error(Errc::kInvalidApplicationConfiguration,
                        "table " + t.name + ": 'format' = '" + format + "' is not supported (json is)");
    }
    if (connector == "kinesis" || connector == "kinesis-legacy") {
      if (!get("stream.arn").empty()) return store_.name_from_arn(get("stream.arn"));
      if (!get("stream").empty()) return get("stream");
      return make_error(Errc::kInvalidApplicationConfiguration,
                        "table " + t.name + ": give 'stream' = '<name>' or 'stream.arn' in WITH (...)");
    }
    if (connector == "firehose" && t.sink && !get("delivery-stream").empty())
      return "firehose:" + get("delivery-stream");
    if (connector == "blackhole" && t.sink) return std::string("blackhole:");
    return make_error(
        Errc::kInvalidApplicationConfiguration,
        "table " + t.name + ": 'connector' = '" + connector +
            "' is not supported (kinesis; filesystem for tables the application joins; firehose and blackhole "
            "for sinks)");
  };
  for (const auto& t : app.flink_tables()) {
    if (!t.sink && t.options.count("connector") && t.options.at("connector") == "filesystem") {
      auto path = t.options.find("path");
      auto source = flink_reference_source(t.name, path == t.options.end() ? "" : path->second, {});
      if (!source) return make_error(Errc::kInvalidApplicationConfiguration, source.error().message);
      continue;  // a reference table (sql/flink_tables.h), loaded at launch
    }
    auto target = stream_of(t);
    if (!target) return tl::unexpected(target.error());
    if (!t.sink) {
      if (!out.source.empty())
        return make_error(Errc::kInvalidApplicationConfiguration, "one source table per application is supported");
      out.source = *target;
      continue;
    }
    if (*target == "blackhole:") continue;
    OutputSpec o;
    o.in_app_stream = t.name;
    o.delivery = target->starts_with("firehose:");
    o.target = o.delivery ? target->substr(9) : *target;
    out.outputs.push_back(std::move(o));
  }
  if (out.source.empty())
    return make_error(Errc::kInvalidApplicationConfiguration,
                      "the application has no source table (one no INSERT writes)");
  return out;
}

}  // namespace eddy::host
