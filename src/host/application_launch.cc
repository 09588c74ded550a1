// From a stored configuration to a running application: compiling its code (SQL, Flink SQL) or
// loading its job library, checking its outputs, restoring its checkpoint and starting its runner.

#include "common/fault_log.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "host/application_host.h"
#include "runtime/application.h"
#include "sql/compile.h"
#include "sql/flink_tables.h"

namespace eddy::host {

using runtime::Application;
using runtime::ApplicationInput;
using runtime::parse_input_schema;
using runtime::Program;

namespace fs = std::filesystem;

namespace {
// A job library is native code run as the server's user: loading one is the server's decision.
constexpr const char* kNoNativeJobs =
    "this server does not run C++ job libraries (native code): start it with eddy serve --allow-native-jobs";
}  // namespace

Status ApplicationHost::launch(const std::string& name, Entry& entry, const std::string& position) {
  const auto& cfg = entry.app.config;
  if (cfg.contains("Job")) return launch_job(name, entry, position);
  const auto inputs = cfg.value("Inputs", nlohmann::json::array());
  const auto parallelism = static_cast<size_t>(parallelism_of(cfg));
  if (auto probe = sql::compile_application(cfg.value("ApplicationCode", ""), {}, clock_, parallelism, true);
      probe && (*probe)->flink()) {
    return launch_flink(name, entry, position, std::move(*probe));
  }
  if (inputs.empty()) {
    return make_error(Errc::kInvalidApplicationConfiguration,
                      "Application " + name + " has no input; add one with AddApplicationInput");
  }
  if (inputs.size() > 1)
    return make_error(Errc::kInvalidApplicationConfiguration, "only one streaming input is supported");
  const auto& in = inputs[0];
  if (!in.contains("KinesisStreamsInput")) {
    return make_error(Errc::kInvalidApplicationConfiguration, "the input must be a KinesisStreamsInput (eddy stream)");
  }
  auto source = store_.name_from_arn(in["KinesisStreamsInput"].at("ResourceARN").get<std::string>());
  if (!source) return tl::unexpected(source.error());
  ApplicationInput input;
  input.name_prefix = in.at("NamePrefix").get<std::string>();
  input.parallelism = in.value("InputParallelism", nlohmann::json::object()).value("Count", 1);
  auto schema = parse_input_schema(in.at("InputSchema").dump());
  if (!schema) return make_error(Errc::kInvalidArgument, schema.error().message);
  input.schema = std::move(*schema);
  auto tables = reference_tables(cfg);
  if (!tables) return make_error(Errc::kInvalidArgument, tables.error().message);
  auto app = sql::compile_application(cfg.value("ApplicationCode", ""), {input}, clock_, parallelism, true, *tables);
  if (!app) return make_error(Errc::kCodeValidation, app.error().message);
  const auto loads = load_reference_data(cfg, object_reader_, entry_dir(name) / "reference", **app, clock_);
  entry.app.reference = nlohmann::json::array();
  for (const auto& l : loads) entry.app.reference.push_back(l.to_json());

  std::vector<OutputSpec> outputs;
  for (const auto& out : cfg.value("Outputs", nlohmann::json::array())) {
    OutputSpec o;
    o.in_app_stream = out.at("Name").get<std::string>();
    if (out.contains("KinesisFirehoseOutput")) {
      const auto target = out["KinesisFirehoseOutput"].at("ResourceARN").get<std::string>();
      const size_t slash = target.rfind("deliverystream/");
      if (slash == std::string::npos) {
        return make_error(Errc::kInvalidApplicationConfiguration,
                          "Output " + o.in_app_stream + ": " + target + " is not a delivery stream ARN");
      }
      o.target = target.substr(slash + 15);
      o.delivery = true;
    } else if (out.contains("KinesisStreamsOutput")) {
      auto dest = store_.name_from_arn(out["KinesisStreamsOutput"].at("ResourceARN").get<std::string>());
      if (!dest) return tl::unexpected(dest.error());
      o.target = *dest;
    } else {
      return make_error(
          Errc::kInvalidApplicationConfiguration,
          "Output " + o.in_app_stream + ": only KinesisStreamsOutput and KinesisFirehoseOutput are supported");
    }
    o.csv = out.value("DestinationSchema", nlohmann::json::object()).value("RecordFormatType", "JSON") == "CSV";
    outputs.push_back(std::move(o));
  }
  auto preprocess = processor_for(name, in);
  if (!preprocess) return tl::unexpected(preprocess.error());
  auto started = start_runner(name, entry, position, *source, std::move(*app), outputs, std::move(*preprocess));
  for (const auto& l : loads) {
    if (!l.error.empty() && entry.runner) entry.runner->warn("Reference_Load_Error", l.table + ": " + l.error);
  }
  return started;
}

Status ApplicationHost::launch_job(const std::string& name, Entry& entry, const std::string& position) {
  if (!job_loader_) return make_error(Errc::kInvalidApplicationConfiguration, kNoNativeJobs);
  const auto& job = entry.app.config["Job"];
  auto library = local_library(name, entry);
  if (!library) return make_error(Errc::kInvalidApplicationConfiguration, library.error().message);
  auto loaded = job_loader_(*library, job.value("PropertyGroups", nlohmann::json::array()));
  if (!loaded) return make_error(Errc::kInvalidApplicationConfiguration, loaded.error().message);
  std::vector<OutputSpec> outputs;
  for (const auto& o : loaded->outputs) outputs.push_back({o.name, o.target, o.delivery, false});
  // A first start of a job reads from where its source says; StartApplication may say otherwise.
  const auto checkpoint = checkpoints_->read_latest(name);
  const bool none = checkpoint && !*checkpoint;  // (an unreadable one is reported by the start)
  const bool first = position == kInitialPosition || (none && position == "LAST_STOPPED_POINT");
  return start_runner(name, entry, first ? loaded->start : position, loaded->source, std::move(loaded->program),
                      outputs);
}

Result<fs::path> ApplicationHost::local_library(const std::string& name, const Entry& entry) const {
  const fs::path stored = entry.app.config["Job"].value("Library", "");
  if (!libraries_) return stored;
  // Every node keeps its copy under its own folder of the application.
  const fs::path local = entry_dir(name) / stored.filename();
  std::error_code ec;
  if (fs::exists(local, ec)) return local;
  auto bytes = libraries_->read(name + "/" + stored.filename().string());
  if (!bytes) return tl::unexpected(bytes.error());
  if (!*bytes) return make_error(Errc::kResourceNotFound, "the job library of " + name + " is not in the cluster");
  fs::create_directories(entry_dir(name), ec);
  if (auto st = write_file_atomic(local, **bytes); !st) return tl::unexpected(st.error());
  return local;
}

Result<HostedApplication> ApplicationHost::deploy_job(const std::string& name, std::string_view library,
                                                      const nlohmann::json& property_groups, const JobDeploy& how) {
  if (!job_loader_) return make_error(Errc::kInvalidArgument, kNoNativeJobs);
  if (how.parallelism && (*how.parallelism < 0 || *how.parallelism > kMaxParallelism)) {
    return make_error(Errc::kInvalidArgument, "parallelism must be 1 to " + std::to_string(kMaxParallelism) +
                                                  " (0: the server's --parallelism)");
  }
  std::unique_lock lock(mu_);
  auto it = apps_.find(name);
  if (it != apps_.end() && how.create)
    return make_error(Errc::kResourceInUse, "Application " + name + " already exists.");
  if (it != apps_.end() && !it->second->app.config.contains("Job")) {
    return make_error(Errc::kResourceInUse,
                      "Application " + name + " is a SQL application; deploy the job under another name");
  }
  if (it != apps_.end() && how.version != 0 && how.version != it->second->app.version) {
    return make_error(Errc::kConcurrentModification, "Provided application version id (" + std::to_string(how.version) +
                                                         ") does not match current version (" +
                                                         std::to_string(it->second->app.version) + ").");
  }
  if (it != apps_.end() && it->second->app.status != "READY" && it->second->app.status != "RUNNING") {
    return make_error(Errc::kResourceInUse, "Application " + name + " is in " + it->second->app.status + " state");
  }
  {
    nlohmann::json next = it == apps_.end() ? nlohmann::json::object() : it->second->app.config;
    next.update(how.config);
    if (auto st = validate(next); !st) return tl::unexpected(st.error());
  }
  const int64_t version = it == apps_.end() ? 1 : it->second->app.version + 1;
  std::error_code ec;
  fs::create_directories(entry_dir(name), ec);
  // A new file per version: the running version's library stays loaded while the new one is checked.
  const fs::path path = entry_dir(name) / ("job-" + std::to_string(version) + ".so");
  if (auto st = write_file_atomic(path, library); !st) return tl::unexpected(st.error());
  if (auto probe = job_loader_(path, property_groups); !probe) {
    fs::remove(path, ec);
    if (it == apps_.end()) fs::remove_all(entry_dir(name), ec);
    return make_error(Errc::kInvalidArgument, probe.error().message);
  }
  if (libraries_) {  // where the node that will run it (maybe another) fetches it
    const std::string key = name + "/" + path.filename().string();
    if (auto st = libraries_->claim(key); !st) return tl::unexpected(st.error());
    if (auto st = libraries_->write(key, library); !st) return tl::unexpected(st.error());
  }
  if (it == apps_.end()) {
    auto entry = std::make_unique<Entry>();
    entry->app.config = {{"ApplicationName", name},
                         {"ApplicationDescription", "C++ job"},
                         {"Inputs", nlohmann::json::array()},
                         {"Outputs", nlohmann::json::array()}};
    entry->app.created_ms = entry->app.updated_ms = clock_.now_ms();
    it = apps_.emplace(name, std::move(entry)).first;
  }
  // Running as its document says: in cluster mode the runner may be on another node, or not yet
  // started by the node taking the lease.
  const bool was_running = it->second->runner != nullptr || it->second->app.status == "RUNNING";
  if (was_running) {
    it->second->app.status = "UPDATING";
    halt(*it->second, lock);
  }
  if (it->second->app.version != version) {  // an update of an existing job application
    const std::string old = it->second->app.config["Job"].value("Library", "");
    if (!old.empty() && old != path.string()) {
      fs::remove(old, ec);  // dlopen'ed libraries stay mapped
      if (libraries_) (void)libraries_->remove(name + "/" + fs::path(old).filename().string());  // best effort
    }
    it->second->app.version = version;
    it->second->app.updated_ms = clock_.now_ms();
  }
  Entry& e = *it->second;
  for (const auto& [key, value] : how.config.items()) {
    if (value.is_null())
      e.app.config.erase(key);
    else
      e.app.config[key] = value;
  }
  e.app.config["Job"] = {{"Library", path.string()}, {"PropertyGroups", property_groups}};
  if (how.parallelism && *how.parallelism > 0)
    e.app.config["ParallelismConfiguration"] = {{"ConfigurationType", "CUSTOM"}, {"Parallelism", *how.parallelism}};
  else if (how.parallelism)
    e.app.config.erase("ParallelismConfiguration");
  e.app.status = "READY";
  if (!how.start && !was_running) {
    if (auto st = persist(name, e); !st) return tl::unexpected(st.error());
    return e.app;
  }
  if (auto st = launch(name, e, "LAST_STOPPED_POINT"); !st) {
    if (auto saved = persist(name, e); !saved) log_fault("saving application " + name, saved.error().message);
    return tl::unexpected(st.error());
  }
  if (auto st = persist(name, e); !st) return tl::unexpected(st.error());
  return e.app;
}

Status ApplicationHost::launch_flink(const std::string& name, Entry& entry, const std::string& position,
                                     std::unique_ptr<Application> app) {
  auto endpoints = flink_endpoints(*app);
  if (!endpoints) return tl::unexpected(endpoints.error());
  // Filesystem tables: loaded like KDA's reference data, with the same last good copies.
  auto files = sql::flink_file_tables(entry.app.config.value("ApplicationCode", ""));
  if (!files) return make_error(Errc::kCodeValidation, files.error().message);
  std::vector<ReferenceSource> sources;
  for (auto& f : *files) {
    auto source = flink_reference_source(f.name, f.path, std::move(f.schema));
    if (!source) return tl::unexpected(source.error());
    sources.push_back(std::move(*source));
  }
  const auto loads = load_reference_sources(sources, object_reader_, entry_dir(name) / "reference", *app, clock_);
  entry.app.reference = nlohmann::json::array();
  for (const auto& l : loads) entry.app.reference.push_back(l.to_json());
  return start_runner(name, entry, position, endpoints->source, std::move(app), endpoints->outputs);
}

Result<InputProcessor> ApplicationHost::processor_for(const std::string& name, const nlohmann::json& input) const {
  if (!input.contains("InputProcessingConfiguration")) return InputProcessor{};
  const auto lambda = input["InputProcessingConfiguration"].value("InputLambdaProcessor", nlohmann::json::object());
  const std::string function = lambda.value("ResourceARN", "");
  if (!processor_factory_)
    return make_error(Errc::kInvalidArgument, "this server runs no Lambda functions for preprocessing");
  const std::string stream_arn = input.value("KinesisStreamsInput", nlohmann::json::object()).value("ResourceARN", "");
  auto p = processor_factory_(function, arn(name), stream_arn);
  if (!p) return make_error(Errc::kInvalidArgument, "InputLambdaProcessor: " + p.error().message);
  return p;
}

Status ApplicationHost::start_runner(const std::string& name, Entry& entry, const std::string& position,
                                     const std::string& source, std::unique_ptr<Program> app,
                                     const std::vector<OutputSpec>& outputs, InputProcessor preprocess) {
  if (auto shards = store_.shards(source); !shards) return tl::unexpected(shards.error());
  ApplicationRunner::Setup setup;
  setup.name = name;
  setup.checkpoints = checkpoints_.get();
  setup.source = source;
  setup.threads = static_cast<size_t>(parallelism_of(entry.app.config));
  setup.checkpoint_interval_ms = checkpoint_interval_of(entry.app.config);
  setup.read_batch = &read_batch_;
  setup.preprocess = std::move(preprocess);
  setup.on_checkpoint = [this, name](const Checkpoint& c) { return keep_positions(name, c); };
  setup.owns = [placement = placement_, name] { return placement->runs_here(WorkKind::kApplication, name); };
  if (status_) {
    setup.fault_changed = [this, placement = placement_, name](const ApplicationRunner& r) {
      if (placement->runs_here(WorkKind::kApplication, name)) status_->publish(name, status_of(r));
    };
  }
  const bool here = placement_->runs_here(WorkKind::kApplication, name);
  // Taking the application over: from now on a node that ran it before cannot checkpoint it.
  if (here) {
    if (auto claimed = checkpoints_->claim(name); !claimed) return claimed;
  }
  auto runner = std::make_unique<ApplicationRunner>(std::move(setup), std::move(app), store_, committer_,
                                                    delivery_output_, clock_);
  for (const auto& out : outputs) {
    if (out.delivery) {
      if (!delivery_output_.put)
        return make_error(Errc::kInvalidApplicationConfiguration,
                          "Output " + out.in_app_stream + ": no delivery streams here");
    } else if (!store_.describe(out.target)) {
      return make_error(Errc::kResourceNotFound, "Output stream " + out.target + " does not exist");
    }
    if (auto st = runner->add_output(out.in_app_stream, out.target, out.delivery, out.csv); !st) return st;
  }

  // Where reading starts in each shard, and with what state.
  if (position == "LAST_STOPPED_POINT") {
    auto checkpoint = checkpoints_->read_latest(name);
    if (!checkpoint) {
      return make_error(
          Errc::kInvalidApplicationConfiguration,
          checkpoint.error().message + "; start the application with NOW or TRIM_HORIZON to start over without it");
    }
    if (*checkpoint) {
      if (auto st = runner->restore(**checkpoint); !st) return st;
    } else {  // stopped before checkpoints existed: positions only
      runner->resume(entry.app.positions, {entry.app.finished.begin(), entry.app.finished.end()});
    }
  } else if (position == "NOW") {
    if (auto st = runner->start_at_latest(); !st) return st;
  }  // TRIM_HORIZON: no positions; reads start at each shard's trim horizon
  entry.app.status = "RUNNING";
  entry.app.starting_position = position;
  log_info("application", "started", {{"application", name}, {"position", position}, {"here", here ? "yes" : "no"}});
  // Checked and restored here; run by the node it is placed on (always this one on one machine).
  if (!here) {
    // That node starts from the checkpoint: make it this start's point (before the document says
    // RUNNING, which is when that node looks).
    if (position != "LAST_STOPPED_POINT") {
      if (auto claimed = checkpoints_->claim(name); !claimed) return claimed;
      if (auto saved = runner->save_start_point(); !saved) return saved;
    }
    return persist(name, entry);
  }
  entry.runner = std::move(runner);
  entry.runner_version = entry.app.version;
  if (!stepped_) entry.runner->start_thread();
  return persist(name, entry);
}

}  // namespace eddy::host
